package rlhf.reward;

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
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import rlhf.data.Examples;
import rlhf.data.PreferenceGroups;
import rlhf.data.PreferenceRows;
import rlhf.data.PromptGroup;
import rlhf.data.PromptTemplate;
import rlhf.data.Rankings;
import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.io.RewardScale;
import rlhf.io.Safetensors;
import rlhf.metrics.MetricsLog;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.model.RewardScorer;
import rlhf.spark.TestSpark;
import rlhf.tokenizer.BpeTokenizer;

/**
 * The reward job end to end on local[2] with tiny models: it learns a preference decidable from
 * the text, repeats bit for bit, resumes to the weights of an uninterrupted run, handles bad rows
 * as data.on_bad_row says, and its checkpoint scores DataFrames as it was trained.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class RewardJobTest {

    private static SparkSession spark;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        spark = TestSpark.local(2, "reward-job-test");
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static final String[] LETTERS = "abcdefghijklmnoprstuvw".split("");

    private static String word(SplittableRandom r) {
        StringBuilder sb = new StringBuilder();
        int n = 2 + r.nextInt(3);
        for (int i = 0; i < n; i++) {
            sb.append(LETTERS[r.nextInt(LETTERS.length)]);
        }
        return sb.toString();
    }

    /**
     * Pairs whose chosen answer holds the word "yes" where the rejected one holds "no", among the
     * same 2-4 random filler words: decidable from the text alone, at a random position.
     */
    static List<Map<String, Object>> keywordPairs(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String prompt = word(r) + " " + word(r);
            int k = 2 + r.nextInt(3);
            int at = r.nextInt(k + 1);
            List<String> a = new ArrayList<>();
            List<String> b = new ArrayList<>();
            for (int j = 0; j <= k; j++) {
                String w = j == at ? null : word(r);
                a.add(w == null ? "yes" : w);
                b.add(w == null ? "no" : w);
            }
            rows.add(PreferenceRows.pair(prompt, " " + String.join(" ", a), " " + String.join(" ", b)));
        }
        return rows;
    }

    private static String[] tiny(String train, String tok, String out, String... more) {
        List<String> sets = new ArrayList<>(List.of("data.train=" + train, "tokenizer.path=" + tok,
                "data.template=Q: {prompt}\\nA:", "data.context_length=48", "model.n_layer=2", "model.n_head=2",
                "model.n_embd=32", "train.global_batch=16", "train.micro_batch=5", "optim.lr=3e-3",
                "optim.min_lr=3e-4", "optim.warmup_steps=2", "checkpoint.every=0", "eval.every=0", "output.dir=" + out));
        sets.addAll(Arrays.asList(more));
        return sets.toArray(new String[0]);
    }

    @Test
    void learnsAPreferenceDecidableFromTheTextToAtLeast90PercentHeldOut() throws Exception {
        String train = PreferenceRows.writeJsonl(tmp.resolve("learn/train.jsonl"), keywordPairs(256, 1));
        String eval = PreferenceRows.writeJsonl(tmp.resolve("learn/eval.jsonl"), keywordPairs(100, 2));
        String tok = RewardFixtures.writeByteTokenizer(tmp.resolve("learn/tok"));
        String out = tmp.resolve("learn/run").toString();
        long t0 = System.nanoTime();
        RewardJob.Result r = RewardJob.run(spark, RewardFixtures.settings(tiny(train, tok, out, "data.eval=" + eval,
                "train.epochs=4", "eval.every=16", "data.partitions=2")), false);
        double seconds = (System.nanoTime() - t0) / 1e9;
        RewardEval.Result first = r.evals().get(0).result();
        RewardEval.Result last = r.evals().get(r.evals().size() - 1).result();
        assertEquals(64, r.step(), "4 epochs of 256 / 16");
        assertTrue(last.accuracy() >= 0.9, "held-out pairwise accuracy >= 90% after training, found "
                + last.accuracy() + " (before: " + first.accuracy() + ", " + seconds + " s); evals " + r.evals());
        assertTrue(last.meanMargin() > first.meanMargin(), "the mean margin grew: " + r.evals());
        assertEquals(100, last.pairs());

        // the reward model: HF sequence-classification layout, EOS convention and training statistics
        Checkpoint c = Checkpoint.load(r.finalDir(), false, new Configuration());
        ModelConfigJson cfg = c.config();
        assertTrue(cfg.model().scoreHead());
        assertEquals("GPT2ForSequenceClassification", cfg.toJson().get("architectures").get(0).asText());
        assertTrue(cfg.extraBoolean(RewardScorer.APPENDS_EOS_KEY));
        assertEquals(r.trainStats().rewardMean(), cfg.extraDouble(RewardScale.MEAN_KEY), 1e-12);
        assertEquals(r.trainStats().rewardStd(), cfg.extraDouble(RewardScale.STD_KEY), 1e-12);
        assertEquals(512, r.trainStats().answers(), "statistics over every training answer once");
        assertTrue(r.trainStats().rewardStd() > 0);
        FileSystem fs = FileSystem.getLocal(new Configuration());
        try (Safetensors.Reader st = Safetensors.open(fs, new org.apache.hadoop.fs.Path(r.finalDir(), Checkpoint.MODEL))) {
            assertArrayEquals(new long[] {1, 32}, st.info("score.weight").shape(), "score.weight as Hugging Face names it");
        }
        List<MetricsLog.Record> log = MetricsLog.read(out + "/metrics.jsonl");
        assertEquals(65, log.size(), "step 0 (evaluation) and 64 steps");
        assertEquals((double) r.train().rows(), log.get(0).get("train_rows"), "the data's counts open the metrics");
        assertEquals(0.0, log.get(0).get("train_bad_rows"));
        assertEquals(last.accuracy(), log.get(64).get("eval_accuracy"), 1e-12);

        scoringADataFrameGivesTheTrainedRewards(r, eval);
    }

    /** RewardScoring on the trained model: the shared scorer's rewards, whatever the batch size; null rows stay null. */
    private void scoringADataFrameGivesTheTrainedRewards(RewardJob.Result r, String evalPath) throws Exception {
        Dataset<Row> prefs = spark.read().json(evalPath);
        PromptTemplate t = PromptTemplate.of("Q: {prompt}\\nA:");
        List<Row> rows = new ArrayList<>();
        for (Row p : prefs.limit(6).collectAsList()) {
            rows.add(RowFactory.create(t.format(p.getAs("prompt")), p.getAs("chosen"), 1));
            rows.add(RowFactory.create(t.format(p.getAs("prompt")), p.getAs("rejected"), 0));
        }
        rows.add(RowFactory.create("Q: x\nA:", null, 2));
        StructType schema = new StructType().add("prompt", DataTypes.StringType).add("response", DataTypes.StringType)
                .add("label", DataTypes.IntegerType);
        Dataset<Row> df = spark.createDataFrame(rows, schema).repartition(2);
        List<Row> one = RewardScoring.score(df, r.finalDir(), "prompt", "response", 1).orderBy("prompt", "label").collectAsList();
        List<Row> five = RewardScoring.score(df, r.finalDir(), "prompt", "response", 5).orderBy("prompt", "label").collectAsList();
        assertEquals(List.of("prompt", "response", "label", "reward"),
                Arrays.asList(RewardScoring.score(df, r.finalDir(), "prompt", "response").columns()));

        BpeTokenizer tok = RewardFixtures.byteTokenizer();
        GptConfig g = r.config().model();
        RewardScorer scorer = new RewardScorer(g, 1, g.maxSeqLen());
        int checked = 0;
        for (int i = 0; i < one.size(); i++) {
            Row a = one.get(i);
            if (a.isNullAt(1)) {
                assertTrue(a.isNullAt(3), "a null response gives a null reward");
                continue;
            }
            float[] ref = new float[1];
            scorer.score(r.params(), new int[][] {tok.encode(a.getString(0))}, new int[][] {tok.encode(a.getString(1))},
                    1, true, tok.eosId(), ref);
            assertEquals(ref[0], a.getFloat(3), 1e-5, "row " + i + " vs RewardScorer with EOS appended");
            assertEquals(a.getFloat(3), five.get(i).getFloat(3), 1e-5, "row " + i + ": batches of 1 vs 5");
            checked++;
        }
        assertEquals(12, checked);
        assertThrows(IllegalArgumentException.class, () -> RewardScoring.score(df, r.finalDir(), "prompt", "nope"));
    }

    /** A tiny language model checkpoint (no score head) with the byte tokenizer, as SFT would leave it. */
    private static String sftCheckpoint(Path dir) throws Exception {
        GptConfig lm = GptConfig.gpt2(257, 48, 1, 2, 16);
        float[] p = new float[ParamLayout.of(lm).size()];
        Gpt.init(lm, p, 77);
        new Checkpoint(ModelConfigJson.of(lm, 256).withExtra("rlhf_stage", "sft"), p,
                new Checkpoint.Tokenizer(RewardFixtures.byteVocabJson(), "#version: 0.2\n".getBytes()), null)
                .save(dir.toString(), new Configuration());
        return dir.toString();
    }

    @Test
    void sameConfigTwiceIsBitIdenticalAndResumeEqualsAnUninterruptedRun() throws Exception {
        // K = 3 rankings: "yes" > "maybe" > "no" among the same filler words, answers shuffled
        List<Map<String, Object>> rows = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(4);
        for (Map<String, Object> pair : keywordPairs(40, 3)) {
            String yes = (String) pair.get("chosen");
            List<String> answers = new ArrayList<>(List.of(yes, yes.replace("yes", "maybe"), (String) pair.get("rejected")));
            int[] order = {0, 1, 2};
            int shift = r.nextInt(3);
            List<String> shuffled = new ArrayList<>();
            for (int k = 0; k < 3; k++) {
                shuffled.add(answers.get((k + shift) % 3));
            }
            for (int k = 0; k < 3; k++) {
                order[k] = (k - shift + 3) % 3; // answer k sits at index (k - shift) mod 3
            }
            rows.add(PreferenceRows.ranking((String) pair.get("prompt"), shuffled, order));
        }
        String train = PreferenceRows.writeJsonl(tmp.resolve("det/train.jsonl"), rows);
        String init = sftCheckpoint(tmp.resolve("det/sft"));
        String[] common = {"data.train=" + train, "model.init=" + init, "data.template=plain", "data.context_length=48",
                "train.global_batch=8", "train.micro_batch=3", "train.steps=6", "optim.lr=1e-3", "optim.warmup_steps=2",
                "checkpoint.every=2", "checkpoint.keep_last=1", "eval.every=0", "data.partitions=2",
                "model.dropout=0.1", "train.center_coef=0.01"};
        RewardJob.Result a = RewardJob.run(spark, settings(common, "output.dir=" + tmp.resolve("det/a")), false);
        RewardJob.Result b = RewardJob.run(spark, settings(common, "output.dir=" + tmp.resolve("det/b")), false);
        assertArrayEquals(a.params(), b.params(), "same config twice: " + RewardFixtures.firstDifferences(a.params(), b.params()));
        float[] initial = Checkpoint.loadPretrained(init, new Configuration()).params();
        assertTrue(RewardFixtures.maxAbsDiff(Arrays.copyOf(a.params(), initial.length), initial) > 1e-4,
                "training moved the trunk");

        String c = tmp.resolve("det/c").toString();
        RewardJob.Result stopped = RewardJob.run(spark, settings(common, "output.dir=" + c, "train.stop_at_step=3"), false);
        assertEquals(3, stopped.step());
        assertNull(stopped.finalDir());
        assertTrue(Files.isDirectory(Path.of(c, "checkpoint-3")));
        RewardJob.Result resumed = RewardJob.run(spark, settings(common, "output.dir=" + c), true);
        assertEquals(6, resumed.step());
        assertEquals(3, resumed.losses().size(), "the resumed run did steps 4..6");
        assertArrayEquals(a.params(), resumed.params(), "resumed vs uninterrupted: "
                + RewardFixtures.firstDifferences(a.params(), resumed.params()));
        assertEquals(a.losses().subList(3, 6), resumed.losses());
        assertNotNull(resumed.finalDir());
        assertEquals(List.of("checkpoint-6", "final", "metrics.jsonl"),
                Arrays.stream(Path.of(c).toFile().list()).sorted().toList(), "keep_last=1");
        ModelConfigJson cfg = Checkpoint.load(resumed.finalDir(), false, new Configuration()).config();
        assertEquals("sft", Checkpoint.loadPretrained(init, new Configuration()).config().extraString("rlhf_stage"));
        assertEquals("reward", cfg.extraString("rlhf_stage"));
        assertEquals("plain", cfg.extraString(RewardJob.TEMPLATE_KEY));
    }

    private static Map<String, Object> withMargin(Map<String, Object> row, double margin) {
        row.put("margin", margin);
        return row;
    }

    private static RewardSettings settings(String[] common, String... more) {
        List<String> all = new ArrayList<>(Arrays.asList(common));
        all.addAll(Arrays.asList(more));
        return RewardFixtures.settings(all.toArray(new String[0]));
    }

    @Test
    void badRowsAreNamedCountedAndDroppedOrFailed() throws Exception {
        String pairs = PreferenceRows.writeJsonl(tmp.resolve("bad/pairs.jsonl"), List.of(
                PreferenceRows.pair("p1", " good", " bad"),
                PreferenceRows.pair("p2", " same", " same"),
                PreferenceRows.pair("p3", " fine", ""),
                withMargin(PreferenceRows.pair("p4", " ok", " not ok"), 0.5)));
        String ranks = PreferenceRows.writeJsonl(tmp.resolve("bad/ranks.jsonl"), List.of(
                PreferenceRows.ranking("r1", List.of(" a", " b", " c"), 2, 0, 1),
                PreferenceRows.ranking("r2", List.of(" a", " b", " c"), 0, 0, 1),
                PreferenceRows.ranking("r3", List.of(" a", " b", " a"), 1, 0, 2),
                PreferenceRows.ranking("r4", List.of(" x", " y"), 1, 0)));
        BpeTokenizer tok = RewardFixtures.byteTokenizer();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());

        // half the rows are bad on purpose: no bad-row budget here (data.max_bad_fraction's own test is DatasetSourceTest's)
        RewardSettings drop = RewardFixtures.settings("data.train=" + pairs, "data.template=plain", "data.context_length=16",
                "data.max_bad_fraction=1");
        PromptTemplate plain = PromptTemplate.plain();
        PreferenceGroups.Prepared p = PreferenceGroups.prepare(sc,
                PreferenceGroups.read(spark, pairs, drop.preferences(), plain), tok, drop.preferences(), "pairs");
        assertEquals(4, p.report().rows());
        assertEquals(2, p.report().badRows(), "chosen == rejected and an empty rejected: " + p.report().firstBad());
        assertEquals(2, p.report().groups());
        String named = String.join("; ", p.report().firstBad());
        assertTrue(named.contains("pairs.jsonl row 2") && named.contains("identical"), named);
        assertTrue(named.contains("pairs.jsonl row 3") && named.contains("empty"), named);
        List<PromptGroup> kept = p.data().shards().flatMap(s -> s.examples.iterator()).collect();
        assertEquals(List.of("[0.5]", "null"), kept.stream().map(x -> x.margin() == null ? "null"
                : Arrays.toString(x.margin())).sorted().toList(), "the optional margin column, where given");
        p.release();

        PreferenceGroups.Prepared q = PreferenceGroups.prepare(sc,
                PreferenceGroups.read(spark, ranks, drop.preferences(), plain), tok, drop.preferences(), "ranks");
        assertEquals(1, q.report().badRows(), "[0, 0, 1] is not a permutation: " + q.report().firstBad());
        assertEquals(Map.of(Rankings.Reason.IDENTICAL_RESPONSES, 1L), q.report().badByReason(),
                "two equal answers inside a ranking");
        named = String.join("; ", q.report().firstBad());
        assertTrue(named.contains("ranks.jsonl row 2") && named.contains("permutation"), named);
        assertTrue(named.contains("ranks.jsonl row 3") && named.contains("IDENTICAL_RESPONSES"), named);
        assertEquals(2, q.report().groups());
        assertEquals(3 + 1, q.report().pairs());
        assertEquals(3, q.report().maxK());
        List<PromptGroup> groups = q.data().shards().flatMap(s -> s.examples.iterator()).collect();
        PromptGroup g = groups.stream().filter(x -> x.answers() == 3).findFirst().orElseThrow();
        assertArrayEquals(new int[] {2, 2, 0}, g.better(), "ranking [2, 0, 1] = answer 2 best, then 0, then 1");
        assertArrayEquals(new int[] {0, 1, 1}, g.worse());
        q.release();

        // the same pairs as Parquet with the user's own column names
        String parquet = tmp.resolve("bad/pairs.parquet").toString();
        spark.read().json(pairs).withColumnRenamed("prompt", "question").withColumnRenamed("chosen", "good")
                .withColumnRenamed("rejected", "bad").coalesce(1).write().parquet(parquet);
        RewardSettings mapped = RewardFixtures.settings("data.train=" + parquet, "data.template=plain",
                "data.context_length=16", "data.columns.prompt=question", "data.columns.chosen=good",
                "data.columns.rejected=bad", "data.max_bad_fraction=1");
        PreferenceGroups.Prepared pq = PreferenceGroups.prepare(sc,
                PreferenceGroups.read(spark, parquet, mapped.preferences(), plain), tok, mapped.preferences(),
                "parquet pairs");
        assertEquals(2, pq.report().groups());
        assertEquals(2, pq.report().badRows(), String.join("; ", pq.report().firstBad()));
        pq.release();

        // over-long: dropped and counted, or failed
        // data.partitions equal to the rows' own: no shuffle cuts the cached groups' lineage, which
        // holds the tokenizer broadcast (once destroyed here, the first training step failed on it)
        Examples<PreferenceGroups.TextGroup> rows = PreferenceGroups.read(spark, pairs, drop.preferences(), plain);
        RewardSettings same = RewardFixtures.settings("data.train=" + pairs, "data.template=plain", "data.context_length=16",
                "data.max_bad_fraction=1", "data.partitions=" + rows.rdd().getNumPartitions());
        PreferenceGroups.Prepared unshuffled = PreferenceGroups.prepare(sc, rows, tok, same.preferences(), "pairs");
        assertEquals(2, unshuffled.data().shards().map(x -> x.size()).fold(0, Integer::sum));
        unshuffled.release();

        RewardSettings tight = RewardFixtures.settings("data.train=" + pairs, "data.template=plain", "data.context_length=9",
                "data.max_bad_fraction=1");
        PreferenceGroups.Prepared o = PreferenceGroups.prepare(sc,
                PreferenceGroups.read(spark, pairs, tight.preferences(), plain), tok, tight.preferences(), "pairs");
        assertEquals(1, o.report().overlong(), "p4 ' not ok' + EOS is 10 tokens: " + o.report().firstOverlong());
        o.release();

        RewardSettings fail = RewardFixtures.settings("data.train=" + pairs, "data.on_bad_row=fail", "data.template=plain");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PreferenceGroups.read(spark, pairs, fail.preferences(), plain));
        assertTrue(e.getMessage().contains("pairs.jsonl row 2") && e.getMessage().contains("identical"), e.getMessage());
        String sameInRanking = PreferenceRows.writeJsonl(tmp.resolve("bad/same.jsonl"), List.of(
                PreferenceRows.ranking("r1", List.of(" a", " b"), 1, 0),
                PreferenceRows.ranking("r3", List.of(" a", " b", " a"), 1, 0, 2)));
        e = assertThrows(IllegalArgumentException.class, () -> PreferenceGroups.prepare(sc,
                PreferenceGroups.read(spark, sameInRanking, fail.preferences(), plain), tok, fail.preferences(), "same"));
        assertTrue(e.getMessage().contains("same.jsonl row 2: IDENTICAL_RESPONSES") && e.getMessage().contains("data.on_bad_row=fail"),
                e.getMessage());
    }
}
