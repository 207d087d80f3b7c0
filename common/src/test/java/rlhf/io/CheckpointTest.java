package rlhf.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;

class CheckpointTest {

    @TempDir
    java.nio.file.Path tmp;

    private final Configuration conf = new Configuration();
    private static final GptConfig CFG = GptConfig.gpt2(50, 8, 2, 2, 8).withScoreHead(true);
    private static final Checkpoint.Tokenizer TOK = new Checkpoint.Tokenizer(
            "{\"a\": 0}".getBytes(StandardCharsets.UTF_8), "#version: 0.2\na b\n".getBytes(StandardCharsets.UTF_8));

    private String uri(String name) {
        return tmp.resolve(name).toUri().toString();
    }

    private static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return a;
    }

    private static Checkpoint checkpoint(long step, int momentsSize) {
        int n = ParamLayout.of(CFG).size();
        ObjectNode state = Safetensors.JSON.createObjectNode();
        state.put("step", step).put("seed", 42L).put("data_position", 3 * step);
        state.putObject("metrics").put("loss", 1.25);
        ModelConfigJson config = ModelConfigJson.of(CFG, 49).withPadTokenId(0).withExtra("rlhf_reward_mean", 0.5);
        return new Checkpoint(config, random(n, step),
                TOK, new Checkpoint.TrainingState(state, random(momentsSize, step + 1), random(momentsSize, step + 2)));
    }

    private static void assertBits(float[] a, float[] b, String what) {
        assertEquals(a.length, b.length, what);
        for (int i = 0; i < a.length; i++) {
            assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]), what + " at " + i);
        }
    }

    private List<String> names(String dir) throws IOException {
        try (Stream<java.nio.file.Path> s = Files.list(tmp.resolve(dir))) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.endsWith(".crc")).sorted().toList();
        }
    }

    @Test
    void saveThenLoadGivesIdenticalBitsStateAndTokenizerFiles() throws IOException {
        Checkpoint c = checkpoint(7, ParamLayout.of(CFG).size());
        c.save(uri("run/ckpt"), conf);
        assertEquals(List.of("ckpt"), names("run"), "no temporary directory left");
        assertEquals(List.of("checkpoint_complete.json", "config.json", "merges.txt", "model.safetensors",
                "optimizer.safetensors", "trainer_state.json", "vocab.json"), names("run/ckpt"));

        Checkpoint back = Checkpoint.load(uri("run/ckpt"), true, conf);
        assertEquals(CFG, back.config().model());
        assertEquals(0, back.config().padTokenId());
        assertEquals(0.5, back.config().extraDouble("rlhf_reward_mean"));
        assertBits(c.params(), back.params(), "params");
        assertBits(c.training().adamM(), back.training().adamM(), "m");
        assertBits(c.training().adamV(), back.training().adamV(), "v");
        // JSON numbers come back as the smallest node type (42L reads as an int node): compare the text
        assertEquals(c.training().trainerState().toString(), back.training().trainerState().toString());
        assertEquals(42L, back.training().trainerState().get("seed").asLong());
        assertArrayEquals(TOK.vocabJson(), back.tokenizer().vocabJson());
        assertArrayEquals(TOK.mergesTxt(), back.tokenizer().mergesTxt());
        assertNull(Checkpoint.load(uri("run/ckpt"), false, conf).training(), "model only when asked");

        Checkpoint.Tokenizer copied = Checkpoint.Tokenizer.fromDir(uri("run/ckpt"), conf);
        assertArrayEquals(TOK.mergesTxt(), copied.mergesTxt());

        // saving again over it replaces it, in F16 this time
        c.save(uri("run/ckpt"), Safetensors.Dtype.F16, conf);
        assertEquals(List.of("ckpt"), names("run"), "old copy removed after the replace");
        float[] half = Checkpoint.load(uri("run/ckpt"), false, conf).params();
        for (int i = 0; i < half.length; i++) {
            assertEquals(c.params()[i], half[i], Math.abs(c.params()[i]) * 0x1p-11f + 1e-7f, "F16 param " + i);
        }
    }

    @Test
    void aNonFiniteOptimizerMomentIsRefusedByTensorAndElement() throws IOException {
        Checkpoint c = checkpoint(3, ParamLayout.of(CFG).size());
        c.training().adamV()[5] = Float.POSITIVE_INFINITY;
        c.save(uri("run/bad"), conf);
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
                () -> Checkpoint.load(uri("run/bad"), true, conf));
        assertTrue(e.getMessage().contains("optimizer.safetensors") && e.getMessage().contains(
                "tensor 'v' holds Infinity at element 5 of " + ParamLayout.of(CFG).size()), e.getMessage());
        assertEquals(c.params().length, Checkpoint.load(uri("run/bad"), false, conf).params().length,
                "the model alone still loads");
    }

    @Test
    void hubStyleDirectoryWithoutMarkerLoadsAsPretrainedButNotAsOurCheckpoint() throws IOException {
        java.nio.file.Path dir = Files.createDirectories(tmp.resolve("gpt2-tiny"));
        ModelConfigJson cfg = ModelConfigJson.of(Gpt2WeightsTest.TINY, 10);
        Files.write(dir.resolve("config.json"), cfg.toBytes());
        Gpt2WeightsTest.hubStyle(Gpt2WeightsTest.TINY, false).write(dir.resolve("model.safetensors"));
        Checkpoint c = Checkpoint.loadPretrained(uri("gpt2-tiny"), conf);
        assertArrayEquals(Gpt2WeightsTest.expectedParams(Gpt2WeightsTest.TINY), c.params());
        assertNull(c.tokenizer());
        var e = assertThrows(CheckpointFormatException.class, () -> Checkpoint.load(uri("gpt2-tiny"), false, conf));
        assertTrue(e.getMessage().contains("gpt2-tiny is incomplete: no checkpoint_complete.json"), e.getMessage());
    }

    @Test
    void interruptedWritesLeaveThePreviousCheckpointAndAreNeverChosen() throws IOException {
        RunCheckpoints run = new RunCheckpoints(uri("run"), 100, 3, conf);
        int n = ParamLayout.of(CFG).size();
        Checkpoint first = checkpoint(100, n);
        run.save(100, first, Safetensors.Dtype.F32);

        // a save that fails half-way (after model.safetensors, on the optimizer file): nothing changes
        Checkpoint broken = checkpoint(200, n);
        Checkpoint bad = new Checkpoint(broken.config(), broken.params(), TOK,
                new Checkpoint.TrainingState(broken.training().trainerState(), new float[n], new float[n - 1]));
        assertThrows(IllegalArgumentException.class, () -> run.save(200, bad, Safetensors.Dtype.F32));
        assertThrows(IllegalArgumentException.class, () -> bad.save(run.dirFor(100), Safetensors.Dtype.F32, conf));
        assertEquals(List.of("checkpoint-100"), names("run"));

        // a killed process: a temporary directory with partial files, and a renamed directory whose
        // copy was cut (object store) so that it has no marker
        java.nio.file.Path partial = Files.createDirectories(tmp.resolve("run/checkpoint-300.tmp-1234"));
        Files.write(partial.resolve("config.json"), "{\"n_layer\"".getBytes(StandardCharsets.UTF_8));
        first.save(uri("elsewhere"), conf);
        java.nio.file.Path cut = Files.createDirectories(tmp.resolve("run/checkpoint-400"));
        Files.copy(tmp.resolve("elsewhere/config.json"), cut.resolve("config.json"));
        // a directory whose marker lists a file that was later truncated
        java.nio.file.Path trunc = tmp.resolve("run/checkpoint-500");
        first.save(trunc.toUri().toString(), conf);
        byte[] model = Files.readAllBytes(trunc.resolve("model.safetensors"));
        Files.deleteIfExists(trunc.resolve(".model.safetensors.crc"));
        Files.write(trunc.resolve("model.safetensors"), java.util.Arrays.copyOf(model, model.length / 2));

        assertEquals(Optional.of(run.dirFor(100)), run.newestComplete());
        assertEquals(run.dirFor(100), RunCheckpoints.resolveResume(uri("run"), conf));
        assertBits(first.params(), Checkpoint.load(run.dirFor(100), true, conf).params(), "previous checkpoint");
        var e = assertThrows(CheckpointFormatException.class, () -> Checkpoint.load(run.dirFor(500), false, conf));
        assertTrue(e.getMessage().contains("model.safetensors has " + model.length / 2 + " bytes"), e.getMessage());
        e = assertThrows(CheckpointFormatException.class, () -> Checkpoint.load(run.dirFor(400), false, conf));
        assertTrue(e.getMessage().contains("checkpoint-400 is incomplete"), e.getMessage());
    }

    @Test
    void runKeepsTheLastKCompleteCheckpointsAndResolvesResume() throws IOException {
        RunCheckpoints run = new RunCheckpoints(uri("run"), 10, 2, conf);
        assertFalse(run.due(0));
        assertFalse(run.due(15));
        assertTrue(run.due(20));
        assertEquals(Optional.empty(), run.newestComplete());
        Files.createDirectories(tmp.resolve("run/checkpoint-5.tmp-dead"));
        Checkpoint c = checkpoint(1, 0);
        Checkpoint small = new Checkpoint(c.config(), c.params(), null, null);
        for (long step : new long[] {10, 20, 30}) {
            run.save(step, small, Safetensors.Dtype.BF16);
        }
        assertEquals(List.of("checkpoint-20", "checkpoint-30"), names("run"), "kept 2, stale leftovers pruned");
        assertEquals(List.of(20L, 30L), run.completeSteps());
        assertEquals(run.dirFor(30), RunCheckpoints.resolveResume(uri("run"), conf));
        assertEquals(run.dirFor(20), RunCheckpoints.resolveResume(run.dirFor(20), conf), "a checkpoint itself");
        var e = assertThrows(CheckpointFormatException.class, () -> RunCheckpoints.resolveResume(uri("run/.."), conf));
        assertTrue(e.getMessage().contains("neither a complete checkpoint nor a run directory"), e.getMessage());
        assertThrows(java.io.FileNotFoundException.class, () -> RunCheckpoints.resolveResume(uri("nope"), conf));
    }
}
