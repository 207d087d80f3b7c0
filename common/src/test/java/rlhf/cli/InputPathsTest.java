package rlhf.cli;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import rlhf.config.JobConfig;

class InputPathsTest {

    @TempDir
    Path tmp;

    private static JobConfig sft(String... sets) {
        return JobConfig.load("sft", null, List.of(sets));
    }

    @Test
    void aMissingLocalInputIsNamedWithItsKeyBeforeSparkStarts() throws Exception {
        Path data = Files.writeString(tmp.resolve("train.jsonl"), "{}\n");
        assertDoesNotThrow(() -> InputPaths.requireLocalInputs(sft("data.train=" + data)));
        assertDoesNotThrow(() -> InputPaths.requireLocalInputs(sft("data.train=" + tmp + "/*.jsonl")));
        assertDoesNotThrow(() -> InputPaths.requireLocalInputs(sft("data.train=file://" + data)));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> InputPaths.requireLocalInputs(sft("data.train=" + data, "data.eval=" + tmp + "/eval.jsonl")));
        assertEquals("dataset " + tmp + "/eval.jsonl does not exist (data.eval)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> InputPaths.requireLocalInputs(sft("data.train=" + tmp + "/*.parquet")));
        assertEquals("dataset " + tmp + "/*.parquet matches no files (data.train)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> InputPaths.requireLocalInputs(sft("data.train=" + data, "model.init=" + tmp + "/sft/final")));
        assertEquals("checkpoint directory " + tmp + "/sft/final does not exist (model.init)", e.getMessage());
    }

    @Test
    void tablesAndOtherFileSystemsAreLeftToTheirReaders() {
        assertDoesNotThrow(() -> InputPaths.requireLocalInputs(sft("data.train=table:prefs")));
        assertDoesNotThrow(() -> InputPaths.requireLocalInputs(sft("data.train=hdfs://namenode:8020/data/train.jsonl")));
    }
}
