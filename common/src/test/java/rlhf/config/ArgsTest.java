package rlhf.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

class ArgsTest {

    private static Args.Spec spec() {
        return Args.command("testjob", "a test job")
                .required("input", "dataset path or table:NAME")
                .required("output", "output directory")
                .optional("model", "checkpoint to start from")
                .flag("overwrite", "replace an existing output");
    }

    @Test
    void parsesCommonAndDeclaredOptionsInBothForms() {
        Args a = spec().parse("--input", "data.jsonl", "--output=out", "--set", "train.seed=1", "--set=train.batch_size=2",
                "--config", "my.properties", "--resume", "--master", "local[2]", "--overwrite");
        assertEquals("data.jsonl", a.get("input"));
        assertEquals("out", a.get("output"));
        assertNull(a.get("model"));
        assertEquals("gpt2", a.get("model", "gpt2"));
        assertEquals(List.of("train.seed=1", "train.batch_size=2"), a.sets());
        assertEquals("my.properties", a.configFile());
        assertEquals("local[2]", a.master());
        assertTrue(a.resume());
        assertTrue(a.flag("overwrite"));
        assertFalse(a.help());
    }

    private static String error(String... argv) {
        return assertThrows(ConfigException.class, () -> spec().parse(argv)).getMessage();
    }

    @Test
    void errorsNameTheOffendingArgument() {
        assertEquals("unknown option --inptu; run with --help for usage", error("--inptu", "x", "--output", "o"));
        assertEquals("missing required option --output (output directory); run with --help for usage",
                error("--input", "x"));
        assertEquals("option --input needs a value; run with --help for usage", error("--output", "o", "--input"));
        assertEquals("option --input needs a value; run with --help for usage", error("--input", "--output", "o"));
        assertEquals("unexpected argument 'extra' (options start with --); run with --help for usage",
                error("--input", "x", "--output", "o", "extra"));
        assertEquals("--set expects key=value, found 'train.seed'; run with --help for usage",
                error("--input", "x", "--output", "o", "--set", "train.seed"));
        assertEquals("option --input given twice; run with --help for usage",
                error("--input", "x", "--input", "y", "--output", "o"));
        assertEquals("option --overwrite takes no value; run with --help for usage",
                error("--input", "x", "--output", "o", "--overwrite=yes"));
        assertEquals("option --config given twice ('a' and 'b'); run with --help for usage",
                error("--input", "x", "--output", "o", "--config", "a", "--config", "b"));
    }

    @Test
    void helpSkipsRequiredOptionsAndUsageListsOptionsAndConfigKeys() {
        Args a = spec().parse("--help");
        assertTrue(a.help());
        String u = spec().usage(JobConfig.defaults("testjob"));
        assertTrue(u.startsWith("usage: testjob --input INPUT --output OUTPUT [--model MODEL] [--overwrite] [--config FILE]"), u);
        assertTrue(u.contains("  --input VALUE        (required) dataset path or table:NAME\n"), u);
        assertTrue(u.contains("  --set key=value "), u);
        assertTrue(u.contains("  train.batch_size = 8\n      Sequences per optimizer step, summed over all partitions.\n"), u);
    }

    @Test
    void loadedConfigUsesTheArgsFileAndSets() {
        Args a = spec().parse("--input", "x", "--output", "o", "--set", "train.seed=99");
        assertEquals(99, JobConfig.load("testjob", a).getInt("train.seed"));
    }
}
