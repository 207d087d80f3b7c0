package rlhf.sft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import rlhf.data.Demonstration;
import rlhf.data.PromptTemplate;
import rlhf.io.Checkpoint;
import rlhf.metrics.MetricsLog;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.optim.AdamW;
import rlhf.optim.GradClip;
import rlhf.optim.LrSchedule;
import rlhf.spark.EpochPermutation;
import rlhf.spark.LossStats;
import rlhf.spark.Seeds;
import rlhf.spark.TestSpark;
import rlhf.tokenizer.BpeTokenizer;

/**
 * The SFT job end to end on local[2] with a tiny model (2 layers, 32 wide, context 32): the same
 * weights as a plain loop whatever the partitioning, bit-identical repeats, resume equal to an
 * uninterrupted run.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class SftTrainingTest {

    private static final String TEMPLATE = "Q: {prompt}\\nA:";
    private static SparkSession spark;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        spark = TestSpark.local(2, "sft-training-test");
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** 40 little sums "a+b" -> " c". */
    static List<String[]> sums(int n, int offset) {
        List<String[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int a = (i * 7 + offset) % 10;
            int b = (i * 3 + 2 * offset) % 10;
            out.add(new String[] {a + "+" + b, " " + (a + b)});
        }
        return out;
    }

    private static String[] tinyRun(String data, String tokenizer, String out, String... more) {
        List<String> sets = new ArrayList<>(List.of("data.train=" + data, "tokenizer.path=" + tokenizer,
                "data.template=" + TEMPLATE, "data.context_length=32", "model.n_layer=2", "model.n_head=2",
                "model.n_embd=32", "train.global_batch=8", "train.micro_batch=3", "optim.lr=1e-3", "optim.min_lr=3e-5",
                "optim.warmup_steps=1", "checkpoint.every=0", "eval.every=0", "output.dir=" + out));
        sets.addAll(Arrays.asList(more));
        return sets.toArray(new String[0]);
    }

    @Test
    void oneAndTwoPartitionsMatchAPlainLoopAndRepeatBitForBit() throws Exception {
        String data = SftFixtures.writePairs(tmp.resolve("sums.jsonl"), sums(40, 0));
        String tok = SftFixtures.writeByteTokenizer(tmp.resolve("tok"));
        int steps = 4;
        // AdamW's first steps move every weight by about lr whatever the size of its gradient; a
        // larger epsilon keeps weights with near-zero gradients (whose sign is rounding noise under
        // another summation order) from moving, so the comparison measures rounding, not its sign.
        String eps = "optim.eps=1e-3";
        SftJob.Result one = SftJob.run(spark, SftFixtures.settings(tinyRun(data, tok, tmp.resolve("p1").toString(),
                "train.steps=" + steps, "data.partitions=1", eps)), false);
        SftJob.Result two = SftJob.run(spark, SftFixtures.settings(tinyRun(data, tok, tmp.resolve("p2").toString(),
                "train.steps=" + steps, "data.partitions=2", eps)), false);
        SftJob.Result twoAgain = SftJob.run(spark, SftFixtures.settings(tinyRun(data, tok,
                tmp.resolve("p2b").toString(), "train.steps=" + steps, "data.partitions=2", eps)), false);

        GptConfig cfg = GptConfig.gpt2(257, 32, 2, 2, 32);
        assertEquals(cfg, one.config().model(), "random model of the configured shape");
        float[] expected = plainLoop(cfg, sums(40, 0), steps);

        assertArrayEquals(two.params(), twoAgain.params(), "repeated run, bit for bit: "
                + SftFixtures.firstDifferences(two.params(), twoAgain.params()));
        double scale = SftFixtures.maxAbsDiff(expected, new float[expected.length]);
        for (SftJob.Result r : List.of(one, two)) {
            double d = SftFixtures.maxAbsDiff(expected, r.params());
            assertTrue(d <= 1e-5 * scale, "weights vs plain loop within 1e-5 of the largest weight ("
                    + scale + "): " + SftFixtures.firstDifferences(expected, r.params()));
        }
        double moved = SftFixtures.maxAbsDiff(expected, initial(cfg));
        assertTrue(moved > 1e-4, "training moved the weights (" + moved + "), so the comparison means something");
        assertEquals(steps, one.losses().size());
        assertNotNull(one.finalDir());
    }

    private static float[] initial(GptConfig cfg) {
        float[] p = new float[ParamLayout.of(cfg).size()];
        Gpt.init(cfg, p, 1234);
        return p;
    }

    /**
     * The reference: one process, no Spark. Step s takes the examples whose position in epoch
     * e's permutation falls in batch b (e, b from s), in index order, micro-batches of 3, sums
     * gradients, divides by the target tokens of the global batch, clips, AdamW.
     */
    private static float[] plainLoop(GptConfig cfg, List<String[]> pairs, int steps) throws Exception {
        BpeTokenizer tok = SftFixtures.byteTokenizer();
        PromptTemplate tpl = PromptTemplate.of(TEMPLATE);
        List<Sequence> seqs = new ArrayList<>();
        for (String[] p : pairs) {
            seqs.add(SftExamples.tokenize(tok, new Demonstration(tpl.format(p[0]), p[1], "x", 1), 32,
                    SftExamples.Overlong.FAIL, SftExamples.LossOn.RESPONSE).sequence());
        }
        float[] params = initial(cfg);
        SftLoss loss = new SftLoss(cfg, 3, 32, tok.eosId());
        SftLoss.State state = loss.newState();
        AdamW adam = new AdamW(ParamLayout.of(cfg), 0.9f, 0.999f, 1e-3f, 0f, false);
        LrSchedule schedule = new LrSchedule(1e-3f, 3e-5f, 1, steps);
        int n = seqs.size();
        int gb = 8;
        int spe = n / gb;
        float[] grads = new float[params.length];
        for (int s = 0; s < steps; s++) {
            EpochPermutation perm = new EpochPermutation(n, 1234, s / spe);
            long lo = (long) (s % spe) * gb;
            List<Sequence> micro = new ArrayList<>();
            List<Long> seeds = new ArrayList<>();
            Arrays.fill(grads, 0f);
            LossStats stats = new LossStats(SftLoss.STATS.length);
            for (int i = 0; i < n; i++) {
                long pos = perm.position(i);
                if (pos >= lo && pos < lo + gb) {
                    micro.add(seqs.get(i));
                    seeds.add(Seeds.forExample(1234, s, i));
                    if (micro.size() == 3) {
                        loss.accumulate(state, params, micro, seeds.stream().mapToLong(Long::longValue).toArray(), grads, stats);
                        micro.clear();
                        seeds.clear();
                    }
                }
            }
            if (!micro.isEmpty()) {
                loss.accumulate(state, params, micro, seeds.stream().mapToLong(Long::longValue).toArray(), grads, stats);
            }
            double inv = 1.0 / stats.weight();
            for (int i = 0; i < grads.length; i++) {
                grads[i] = (float) (grads[i] * inv);
            }
            GradClip.clipGlobalNorm(grads, 1f);
            adam.update(params, grads, schedule.lr(s));
        }
        return params;
    }

    /** checkpoint.moments=false: the checkpoint holds the weights but no moments, and --resume says it cannot resume. */
    @Test
    void checkpointWithoutMomentsHasTheWeightsAndRefusesToResume() throws Exception {
        String data = SftFixtures.writePairs(tmp.resolve("m/train.jsonl"), sums(24, 1));
        String tok = SftFixtures.writeByteTokenizer(tmp.resolve("m/tok"));
        String out = tmp.resolve("m/run").toString();
        String[] keys = {"train.steps=3", "data.partitions=2", "eval.every=0", "checkpoint.every=2",
                "checkpoint.moments=false"};
        SftJob.Result r = SftJob.run(spark, SftFixtures.settings(concat(tinyRun(data, tok, out), keys)), false);
        Path last = Path.of(out, "checkpoint-3");
        assertTrue(Files.exists(last.resolve(Checkpoint.MODEL)), "the weights are saved");
        assertFalse(Files.exists(last.resolve(Checkpoint.OPTIMIZER)), "no moments");
        assertArrayEquals(r.params(), Checkpoint.load(last.toString(), true, new org.apache.hadoop.conf.Configuration())
                .params());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SftJob.run(spark,
                SftFixtures.settings(concat(tinyRun(data, tok, out), keys)), true));
        assertTrue(e.getMessage().contains("cannot be resumed"), e.getMessage());
    }

    @Test
    void resumedRunEndsWithTheWeightsOfAnUninterruptedOne() throws Exception {
        String data = SftFixtures.writePairs(tmp.resolve("r/train.jsonl"), sums(40, 1));
        String eval = SftFixtures.writePairs(tmp.resolve("r/eval.jsonl"), sums(12, 5));
        String tok = SftFixtures.writeByteTokenizer(tmp.resolve("r/tok"));
        // dropout on: the resumed run must also redraw the same masks
        String[] common = {"train.steps=7", "model.dropout=0.1", "data.partitions=2", "data.eval=" + eval,
                "eval.every=2", "checkpoint.every=2", "checkpoint.keep_last=2"};
        String whole = tmp.resolve("r/whole").toString();
        SftJob.Result uninterrupted = SftJob.run(spark, SftFixtures.settings(concat(tinyRun(data, tok, whole), common)),
                false);

        String split = tmp.resolve("r/split").toString();
        SftJob.Result first = SftJob.run(spark, SftFixtures.settings(concat(tinyRun(data, tok, split), common,
                "train.stop_at_step=3")), false);
        assertEquals(3, first.step());
        assertNull(first.finalDir(), "a run stopped early saves no final model");
        assertTrue(Files.isDirectory(Path.of(split, "checkpoint-3")), "checkpoint at the stop step");
        SftJob.Result resumed = SftJob.run(spark, SftFixtures.settings(concat(tinyRun(data, tok, split), common)), true);

        assertEquals(7, resumed.step());
        assertEquals(4, resumed.losses().size(), "the resumed run did steps 4..7");
        assertArrayEquals(uninterrupted.params(), resumed.params(), "resumed vs uninterrupted, bit for bit: "
                + SftFixtures.firstDifferences(uninterrupted.params(), resumed.params()));
        assertEquals(uninterrupted.losses().subList(3, 7), resumed.losses(), "same losses after the resume");

        // keep_last=2: checkpoints 6 and 7 remain; the final model loads with its tokenizer
        assertEquals(List.of("checkpoint-6", "checkpoint-7"), listCheckpoints(split));
        Checkpoint fin = Checkpoint.load(resumed.finalDir(), false, new org.apache.hadoop.conf.Configuration());
        assertArrayEquals(resumed.params(), fin.params());
        assertNotNull(fin.tokenizer());

        // the metrics file of the resumed run reads as one run: eval at 0, steps 1..7
        List<MetricsLog.Record> lines = MetricsLog.read(Path.of(split, "metrics.jsonl").toString());
        assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L), lines.stream().map(MetricsLog.Record::step).toList());
        assertTrue(Double.isFinite(lines.get(7).get("eval_loss")) && Double.isFinite(lines.get(7).get("tokens_per_s")));
        assertEquals(lines.get(7).get("examples_seen"), 7 * 8.0, "examples seen continue across the resume");
    }

    @Test
    void aRunStartsFromTheModelAndTokenizerOfACheckpoint() throws Exception {
        String data = SftFixtures.writePairs(tmp.resolve("i/train.jsonl"), sums(16, 2));
        String eval = SftFixtures.writePairs(tmp.resolve("i/eval.jsonl"), sums(8, 6));
        String tok = SftFixtures.writeByteTokenizer(tmp.resolve("i/tok"));
        SftJob.Result first = SftJob.run(spark, SftFixtures.settings(concat(tinyRun(data, tok,
                tmp.resolve("i/first").toString()), new String[] {"train.steps=2", "data.eval=" + eval})), false);
        // no tokenizer.path and another shape in the settings: both come from the checkpoint
        SftJob.Result second = SftJob.run(spark, SftFixtures.settings("data.train=" + data, "data.eval=" + eval,
                "model.init=" + first.finalDir(), "data.template=" + TEMPLATE, "data.context_length=32",
                "train.global_batch=8", "train.micro_batch=3", "train.steps=1", "eval.every=0",
                "checkpoint.every=0", "output.dir=" + tmp.resolve("i/second")), false);
        assertEquals(first.config().model(), second.config().model());
        assertEquals(first.evals().get(first.evals().size() - 1).loss(), second.evals().get(0).loss(),
                "the second run starts where the first ended: same eval loss, exactly");
    }

    private static List<String> listCheckpoints(String dir) throws Exception {
        try (var s = Files.list(Path.of(dir))) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("checkpoint-")).sorted().toList();
        }
    }

    private static String[] concat(String[] a, String[] b, String... c) {
        List<String> l = new ArrayList<>(Arrays.asList(a));
        l.addAll(Arrays.asList(b));
        l.addAll(Arrays.asList(c));
        return l.toArray(new String[0]);
    }
}
