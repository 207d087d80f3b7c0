package rlhf.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import rlhf.cli.Launcher;

/**
 * A training job's user errors through {@code bin/rlhf}, as a user meets them: one line naming
 * what is wrong, exit code 2, no stack trace (unless {@code --debug}); before, a missing data file
 * printed about 210 lines of Spark's PATH_NOT_FOUND.
 */
class UserErrorsIT {

    @TempDir
    Path tmp;

    private Launcher.Result rlhf(String... args) throws Exception {
        return new Launcher(tmp).rlhf(180, args);
    }

    private static void oneLine(Launcher.Result r, String expected) {
        assertEquals(2, r.code(), r.stderr());
        assertTrue(r.stderr().contains(expected), "expected '" + expected + "' in:\n" + r.stderr());
        assertFalse(r.stderr().contains("\tat ") || r.stderr().contains("Exception in thread"),
                "no stack trace:\n" + r.stderr());
    }

    @Test
    void aMissingDataFileIsOneLineWithExitCode2AndTheTraceOnlyWithDebug() throws Exception {
        String missing = tmp.resolve("no-such.jsonl").toString();
        oneLine(rlhf("sft", "--master", "local[1]", "--set", "data.train=" + missing),
                "rlhf sft: dataset " + missing + " does not exist (data.train)");

        Launcher.Result debug = rlhf("sft", "--master", "local[1]", "--set", "data.train=" + missing, "--debug");
        assertEquals(2, debug.code(), debug.stderr());
        assertTrue(debug.stderr().contains("\tat rlhf.cli.InputPaths"), "--debug prints the trace:\n" + debug.stderr());
    }

    @Test
    void aBadKeyAndAMostlyBadDatasetAreOneLineEach() throws Exception {
        oneLine(rlhf("reward", "--set", "train.stpes=3"), "unknown config key 'train.stpes'");

        Path data = tmp.resolve("prefs.jsonl");
        Files.write(data, List.of("{\"prompt\":\"p\",\"chosen\":\"a\",\"rejected\":\"b\"}",
                "prompt,chosen,rejected", "p,a,b"));
        oneLine(rlhf("reward", "--master", "local[1]", "--set", "data.train=" + data),
                "2 of 3 rows (66.7%) of dataset " + data + " are bad, more than data.max_bad_fraction = 0.01");
    }
}
