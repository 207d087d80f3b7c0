package rlhf.sft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import rlhf.config.ConfigException;
import rlhf.spark.TestSpark;

/** What a user sees for bad input: messages that name the data and the problem, and counts. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class SftBadInputTest {

    private static SparkSession spark;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        spark = TestSpark.local(2, "sft-bad-input-test");
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static String[] sets(String data, String out, String... more) throws Exception {
        List<String> l = new ArrayList<>(List.of("data.train=" + data,
                "tokenizer.path=" + SftFixtures.writeByteTokenizer(tmp.resolve("tok")), "data.template=plain",
                "data.context_length=24", "model.n_layer=1", "model.n_head=2", "model.n_embd=16",
                "train.global_batch=4", "train.micro_batch=4", "train.steps=1", "checkpoint.every=0",
                "output.dir=" + tmp.resolve(out)));
        l.addAll(List.of(more));
        return l.toArray(new String[0]);
    }

    @Test
    void missingColumnNamesTheDatasetAndTheColumnsPresent() throws Exception {
        Path f = tmp.resolve("qa.jsonl");
        Files.write(f, List.of("{\"question\":\"2+2\",\"answer\":\" 4\"}", "{\"question\":\"3+3\",\"answer\":\" 6\"}"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SftJob.run(spark, SftFixtures.settings(sets(f.toString(), "qa")), false));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("prompt")
                && e.getMessage().contains("question"), e.getMessage());

        // the column mapping fixes it
        SftJob.Result r = SftJob.run(spark, SftFixtures.settings(sets(f.toString(), "qa-mapped",
                "data.columns.prompt=question", "data.columns.response=answer")), false);
        assertEquals(2, r.train().kept());
    }

    @Test
    void emptyDataIsAnErrorNamingTheDataset() throws Exception {
        Path f = tmp.resolve("empty.jsonl");
        Files.write(f, new byte[0]);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SftJob.run(spark, SftFixtures.settings(sets(f.toString(), "empty")), false));
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
    }

    @Test
    void aRunDirectoryIsNeitherOverwrittenNorResumedWithOtherSettings() throws Exception {
        List<String[]> rows = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            rows.add(new String[] {"q" + i, " a" + i});
        }
        String data = SftFixtures.writePairs(tmp.resolve("rerun/train.jsonl"), rows);
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> SftJob.run(spark, SftFixtures.settings(sets(data, "rerun-run")), true));
        assertTrue(none.getMessage().contains("--resume: no complete checkpoint"), none.getMessage());

        SftJob.run(spark, SftFixtures.settings(sets(data, "rerun-run")), false);
        IllegalArgumentException again = assertThrows(IllegalArgumentException.class,
                () -> SftJob.run(spark, SftFixtures.settings(sets(data, "rerun-run")), false));
        assertTrue(again.getMessage().contains("already holds checkpoints [1]")
                && again.getMessage().contains("--resume"), again.getMessage());
        IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
                () -> SftJob.run(spark, SftFixtures.settings(sets(data, "rerun-run", "train.global_batch=2")), true));
        assertTrue(other.getMessage().contains("global_batch=4 but this run has 2"), other.getMessage());
    }

    @Test
    void missingTrainingDataKeyIsAConfigError() {
        ConfigException e = assertThrows(ConfigException.class, () -> SftFixtures.settings("output.dir=x"));
        assertTrue(e.getMessage().contains("data.train"), e.getMessage());
    }

    @Test
    void overlongExamplesAreCountedWhenDroppedAndNamedWhenFailing() throws Exception {
        List<String[]> rows = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            // every third response is far beyond the 24-token context (byte tokens)
            rows.add(new String[] {"q" + i, i % 3 == 0 ? " " + "x".repeat(40) : " ok"});
        }
        String data = SftFixtures.writePairs(tmp.resolve("long/train.jsonl"), rows);
        SftJob.Result r = SftJob.run(spark, SftFixtures.settings(sets(data, "long-drop", "data.overlong=drop")), false);
        assertEquals(4, r.train().droppedOverlong(), "rows 0, 3, 6, 9 dropped");
        assertEquals(6, r.train().kept());
        assertEquals(0, r.train().truncated());
        assertEquals(10, r.train().rows());

        SftJob.Result t = SftJob.run(spark, SftFixtures.settings(sets(data, "long-trunc", "data.overlong=truncate")),
                false);
        assertEquals(4, t.train().truncated());
        assertEquals(10, t.train().kept());

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SftJob.run(spark, SftFixtures.settings(sets(data, "long-fail", "data.overlong=fail")), false));
        assertTrue(e.getMessage().contains("4 examples are longer than data.context_length=24")
                && e.getMessage().contains("train.jsonl row 1 (44 tokens)"), e.getMessage());
    }
}
