package rlhf.dpo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import rlhf.config.JobConfig;
import rlhf.data.PreferenceGroups;
import rlhf.data.PreferenceRows;
import rlhf.data.PromptGroup;
import rlhf.data.PromptTemplate;
import rlhf.io.Checkpoint;
import rlhf.io.TinyCheckpoints;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.spark.IndexedData;
import rlhf.spark.TestSpark;
import rlhf.tokenizer.BpeTokenizer;

/**
 * The DPO job end to end on local[2] with tiny models: on preferences whose optimum is known in
 * closed form it moves the policy's log-ratios there (DPO and IPO), it repeats bit for bit and
 * resumes to the weights of an uninterrupted run, and it refuses a resume with another loss or
 * reference and a reward model as the policy.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class DpoJobTest {

    private static SparkSession spark;
    private static BpeTokenizer tok;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        spark = TestSpark.local(2, "dpo-job-test");
        tok = TinyCheckpoints.bytesTokenizer(spark);
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** {@code n} rows preferring {@code a} over {@code b} and {@code m} the other way, after prompt q. */
    static void add(List<Map<String, Object>> rows, String a, String b, int n, int m) {
        for (int i = 0; i < n; i++) {
            rows.add(PreferenceRows.pair("q", a, b));
        }
        for (int i = 0; i < m; i++) {
            rows.add(PreferenceRows.pair("q", b, a));
        }
    }

    static DpoSettings settings(String... sets) {
        JobConfig c = JobConfig.defaults("dpo");
        c.applySets(Arrays.asList(sets));
        return DpoSettings.from(c);
    }

    /** log π(y | q) + log π(EOS | q y) for the one-byte answer y, the sequence log-probability DPO trains. */
    static double logprob(GptConfig cfg, float[] params, String y) {
        int[] seq = {tok.encode("q")[0], tok.encode(y)[0], tok.eosId()};
        Gpt g = new Gpt(cfg, 1, 2);
        g.forward(params, new int[] {seq[0], seq[1]}, null, null, 1, 2, false, 0L);
        float[] logp = new float[2];
        g.lmHeadForward(params, new int[] {seq[1], seq[2]}, 1f, logp, null);
        return (double) logp[0] + logp[1];
    }

    private String policy(String name, long seed) throws Exception {
        GptConfig cfg = TinyCheckpoints.tinyConfig(tok);
        return TinyCheckpoints.save(tmp, name, cfg, TinyCheckpoints.init(cfg, seed), tok);
    }

    /** The whole dataset ({@code rows} groups) in every step, 250 steps, the preference loss alone (no NLL term). */
    private static String[] closedFormRun(String train, int rows, String init, String out, String... more) {
        List<String> sets = new ArrayList<>(List.of("data.train=" + train, "model.init=" + init,
                "data.template=plain", "data.context_length=8", "train.global_batch=" + rows, "train.micro_batch=9",
                "train.steps=250", "optim.lr=0.01", "optim.min_lr=1e-4", "optim.warmup_steps=0", "checkpoint.every=0",
                "dpo.nll_coef=0",
                "eval.every=0", "output.dir=" + out));
        sets.addAll(Arrays.asList(more));
        return sets.toArray(new String[0]);
    }

    @Test
    void dpoMovesTheLogRatiosToTheBradleyTerryOptimum() throws Exception {
        // a > b 3:1, b > c 3:1, a > c 9:1: Bradley-Terry rewards with r_a - r_b = r_b - r_c = ln 3, so the
        // optimum of the DPO loss has beta (Δ_a - Δ_b) = beta (Δ_b - Δ_c) = ln 3 (Δ = log π - log π_ref)
        List<Map<String, Object>> rows = new ArrayList<>();
        add(rows, "a", "b", 3, 1);
        add(rows, "b", "c", 3, 1);
        add(rows, "a", "c", 9, 1);
        assertEquals(18, rows.size());
        String train = PreferenceRows.writeJsonl(tmp.resolve("bt/train.jsonl"), rows);
        String init = policy("bt-policy", 21);
        double beta = 0.5;
        DpoJob.Result r = DpoJob.run(spark, settings(closedFormRun(train, 18, init, tmp.resolve("bt/run").toString(),
                "dpo.beta=" + beta)), false);
        assertNotNull(r.finalDir());
        GptConfig cfg = r.config().model();
        float[] ref = Checkpoint.loadPretrained(init, new Configuration()).params();
        double da = logprob(cfg, r.params(), "a") - logprob(cfg, ref, "a");
        double db = logprob(cfg, r.params(), "b") - logprob(cfg, ref, "b");
        double dc = logprob(cfg, r.params(), "c") - logprob(cfg, ref, "c");
        String found = "beta(Δa-Δb) = " + beta * (da - db) + ", beta(Δb-Δc) = " + beta * (db - dc) + ", ln 3 = "
                + Math.log(3) + "; losses " + r.losses().subList(0, 3) + " ... " + r.losses().get(r.losses().size() - 1);
        assertEquals(Math.log(3), beta * (da - db), 0.05, found);
        assertEquals(Math.log(3), beta * (db - dc), 0.05, found);
        assertEquals(Math.log(2), r.losses().get(0), 1e-6, "the first step starts at the reference: every pair costs log 2");
        Checkpoint saved = Checkpoint.load(r.finalDir(), false, new Configuration());
        assertEquals("dpo", saved.config().extraString("rlhf_stage"));
        assertArrayEquals(r.params(), saved.params());
    }

    @Test
    void ipoSettlesAtAQuarterOverBetaForAPairPreferredThreeTimesInFour() throws Exception {
        // IPO minimises 3/4 (x - 1/(2 beta))^2 + 1/4 (-x - 1/(2 beta))^2 at x = 1/(4 beta), x the
        // difference of the per-token mean log-ratios (two tokens per answer: the byte and EOS)
        List<Map<String, Object>> rows = new ArrayList<>();
        add(rows, "a", "b", 10, 4);
        rows.add(PreferenceRows.pair("q", "a", "b"));
        rows.add(PreferenceRows.ranking("q", List.of("b", "a"), 1, 0)); // a ranking of two is the same pair
        String train = PreferenceRows.writeJsonl(tmp.resolve("ipo/train.jsonl"), rows);
        String init = policy("ipo-policy", 22);
        double beta = 0.5;
        DpoJob.Result r = DpoJob.run(spark, settings(closedFormRun(train, 16, init, tmp.resolve("ipo/run").toString(),
                "dpo.loss=ipo", "dpo.beta=" + beta)), false);
        assertEquals(16, r.train().groups(), "pairs and the ranking of two are read as the reward job reads them");
        GptConfig cfg = r.config().model();
        float[] ref = Checkpoint.loadPretrained(init, new Configuration()).params();
        double x = ((logprob(cfg, r.params(), "a") - logprob(cfg, ref, "a"))
                - (logprob(cfg, r.params(), "b") - logprob(cfg, ref, "b"))) / 2;
        assertEquals(1 / (4 * beta), x, 0.05, "mean log-ratio gap, 1/(4 beta) = " + 1 / (4 * beta));
    }

    @Test
    void referenceLogprobsDoNotDependOnThePartitioning() throws Exception {
        List<Map<String, Object>> rows = mixedRows(30);
        String train = PreferenceRows.writeJsonl(tmp.resolve("ref/train.jsonl"), rows);
        GptConfig cfg = TinyCheckpoints.tinyConfig(tok).withDropout(0, 0, 0);
        float[] ref = TinyCheckpoints.init(cfg, 5);
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        double[][] byPartitions = null;
        for (int parts : new int[] {1, 3}) {
            DpoSettings s = settings("data.train=" + train, "model.init=unused", "data.template=plain",
                    "data.context_length=16", "data.partitions=" + parts);
            PreferenceGroups.Prepared p = PreferenceGroups.prepare(sc, PreferenceGroups.read(spark, train,
                    s.preferences(), PromptTemplate.of("plain")), tok, s.preferences(), "ref test");
            DpoLoss loss = new DpoLoss(cfg, 2, 3, 16, tok.eosId(), s.preferenceLoss(), s.nllCoef());
            ReferenceLogprobs.Computed c = ReferenceLogprobs.compute(sc, p.data(), ref, loss, 2, "ref test");
            List<IndexedData.Shard<DpoExample>> shards = c.data().shards().collect();
            double[][] table = new double[(int) c.data().count()][];
            DpoLoss.State st = loss.newState();
            for (IndexedData.Shard<DpoExample> shard : shards) {
                for (int j = 0; j < shard.size(); j++) {
                    DpoExample e = shard.examples.get(j);
                    double[] alone = new double[e.group().answers()];
                    loss.sequenceLogprobs(st, ref, List.of(e.group()), alone, 0);
                    for (int k = 0; k < alone.length; k++) {
                        assertEquals(alone[k], e.refLogp()[k], 1e-5, e.group().where() + " answer " + k);
                    }
                    table[(int) shard.index[j]] = e.refLogp();
                }
            }
            assertEquals(parts, c.data().partitions());
            if (byPartitions == null) {
                byPartitions = table;
            } else {
                for (int i = 0; i < table.length; i++) {
                    assertArrayEquals(byPartitions[i], table[i], 1e-5, "group " + i + ": 1 vs 3 partitions");
                }
            }
            c.release();
            p.release();
        }
    }

    /** Pairs and K = 3 rankings after varied prompts, in one file. */
    static List<Map<String, Object>> mixedRows(int n) {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String p = "p" + (char) ('a' + i % 26) + (i % 7);
            if (i % 3 == 0) {
                rows.add(PreferenceRows.ranking(p, List.of(" x" + i % 5, " yes", " no"), 1, 0, 2));
            } else {
                rows.add(PreferenceRows.pair(p, " yes" + i % 4, " no"));
            }
        }
        return rows;
    }

    @Test
    void sameConfigTwiceIsBitIdenticalAndResumeEqualsAnUninterruptedRun() throws Exception {
        String train = PreferenceRows.writeJsonl(tmp.resolve("det/train.jsonl"), mixedRows(40));
        String init = policy("det-policy", 31);
        String[] common = {"data.train=" + train, "model.init=" + init, "data.template=plain",
                "data.context_length=16", "train.global_batch=8", "train.micro_batch=3", "train.steps=6",
                "optim.lr=1e-3", "optim.warmup_steps=2", "checkpoint.every=2", "checkpoint.keep_last=1", "eval.every=0",
                "data.partitions=2", "model.dropout=0.1", "dpo.label_smoothing=0.1"};
        DpoJob.Result a = DpoJob.run(spark, settings(with(common, "output.dir=" + tmp.resolve("det/a"))), false);
        DpoJob.Result b = DpoJob.run(spark, settings(with(common, "output.dir=" + tmp.resolve("det/b"))), false);
        assertArrayEquals(a.params(), b.params(), "same config twice");
        float[] initial = Checkpoint.loadPretrained(init, new Configuration()).params();
        assertTrue(maxAbsDiff(a.params(), initial) > 1e-4, "training moved the policy");

        String c = tmp.resolve("det/c").toString();
        DpoJob.Result stopped = DpoJob.run(spark, settings(with(common, "output.dir=" + c, "train.stop_at_step=3")),
                false);
        assertEquals(3, stopped.step());
        assertNull(stopped.finalDir());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DpoJob.run(spark, settings(with(common, "output.dir=" + c, "dpo.beta=0.2")), true));
        assertTrue(e.getMessage().contains("dpo_beta"), e.getMessage());
        String otherRef = policy("det-other-ref", 32);
        e = assertThrows(IllegalArgumentException.class,
                () -> DpoJob.run(spark, settings(with(common, "output.dir=" + c, "model.ref=" + otherRef)), true));
        assertTrue(e.getMessage().contains("reference_hash") && e.getMessage().contains(otherRef), e.getMessage());

        DpoJob.Result resumed = DpoJob.run(spark, settings(with(common, "output.dir=" + c)), true);
        assertEquals(6, resumed.step());
        assertEquals(3, resumed.losses().size(), "the resumed run did steps 4..6");
        assertArrayEquals(a.params(), resumed.params(), "resumed vs uninterrupted");
        assertEquals(a.losses().subList(3, 6), resumed.losses());
    }

    @Test
    void aRewardModelAsThePolicyIsRefusedNamingIt() throws Exception {
        String train = PreferenceRows.writeJsonl(tmp.resolve("rm-data/train.jsonl"), mixedRows(6));
        GptConfig cfg = TinyCheckpoints.tinyConfig(tok).withScoreHead(true);
        String rm = TinyCheckpoints.save(tmp, "rm", cfg, TinyCheckpoints.init(cfg, 3), tok);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DpoJob.run(spark,
                settings("data.train=" + train, "model.init=" + rm, "output.dir=" + tmp.resolve("rm/run")), false));
        assertTrue(e.getMessage().contains(rm) && e.getMessage().contains("score head"), e.getMessage());
    }

    private static String[] with(String[] common, String... more) {
        List<String> all = new ArrayList<>(Arrays.asList(common));
        all.addAll(Arrays.asList(more));
        return all.toArray(new String[0]);
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs((double) a[i] - b[i]));
        }
        return d;
    }
}
