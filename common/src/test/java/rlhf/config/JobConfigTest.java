package rlhf.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JobConfigTest {

    enum Schedule { COSINE, LINEAR, CONSTANT }

    @TempDir
    Path tmp;

    private String userFile(String text) throws Exception {
        Path p = tmp.resolve("my.properties");
        Files.writeString(p, text);
        return p.toString();
    }

    @Test
    void defaultsComeFromTheClasspathFileWithTheirDocs() {
        JobConfig c = JobConfig.defaults("testjob");
        assertEquals(3e-4f, c.getFloat("train.learning_rate"));
        assertEquals(8, c.getInt("train.batch_size"));
        assertEquals("Peak learning rate of AdamW.", c.keys().get("train.learning_rate").doc());
        assertEquals("Where the initial model comes from (empty: random init).", c.keys().get("model.path").doc());
        assertEquals("", c.keys().get("model.path").defaultValue());
        assertTrue(c.source("train.batch_size").equals("defaults conf/testjob.properties line 6"), c.source("train.batch_size"));
        assertFalse(c.isUserSet("train.batch_size"));
    }

    @Test
    void setWinsOverUserFileWhichWinsOverDefaults() throws Exception {
        String f = userFile("# mine\ntrain.batch_size = 16\ntrain.max_steps=50\n");
        JobConfig c = JobConfig.load("testjob", f, List.of("train.batch_size=32", "train.seed = 7"));
        assertEquals(32, c.getInt("train.batch_size"));
        assertEquals("--set", c.source("train.batch_size"));
        assertEquals(50, c.getLong("train.max_steps"));
        assertEquals("my.properties line 3", c.source("train.max_steps"));
        assertEquals(7, c.getInt("train.seed"));
        assertEquals(0.1, c.getDouble("train.warmup_fraction"));
        assertTrue(c.isUserSet("train.max_steps"));
        assertTrue(c.describeChanges().contains("train.batch_size = 32   (--set)"));
    }

    @Test
    void aFileThatIsNotUtf8IsRefusedNamingItNotReadWithReplacementCharacters() throws Exception {
        // "model.path = /data/donn\xe9es" saved as Latin-1 was read with U+FFFD in place of the e-acute
        Path p = tmp.resolve("latin1.properties");
        Files.write(p, "train.seed = 1\nmodel.path = /data/donn\u00e9es\n".getBytes(StandardCharsets.ISO_8859_1));
        ConfigException e = assertThrows(ConfigException.class,
                () -> JobConfig.load("testjob", p.toString(), List.of()));
        assertEquals(p + ": not valid UTF-8 (at or after line 1)", e.getMessage());
    }

    @Test
    void unknownKeyInFileNamesFileLineAndClosestKey() throws Exception {
        String f = userFile("train.batch_size = 16\n\ntrain.lerning_rate = 1e-3\n");
        ConfigException e = assertThrows(ConfigException.class, () -> JobConfig.load("testjob", f, List.of()));
        assertEquals("unknown config key 'train.lerning_rate' in my.properties line 3; did you mean "
                + "'train.learning_rate'? (--help lists every key of conf/testjob.properties)", e.getMessage());
    }

    @Test
    void unknownKeyInSetNamesSetAndClosestKey() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> JobConfig.load("testjob", null, List.of("train.batchsize=4")));
        assertTrue(e.getMessage().startsWith("unknown config key 'train.batchsize' in --set; did you mean 'train.batch_size'?"),
                e.getMessage());
    }

    @Test
    void setWithoutEqualsIsAnError() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> JobConfig.load("testjob", null, List.of("train.seed")));
        assertEquals("--set expects key=value, found 'train.seed'", e.getMessage());
    }

    @Test
    void malformedLineInUserFileNamesLine() throws Exception {
        String f = userFile("train.seed = 1\njust words\n");
        ConfigException e = assertThrows(ConfigException.class, () -> JobConfig.load("testjob", f, List.of()));
        assertTrue(e.getMessage().endsWith("my.properties line 2: expected 'key = value', found 'just words'"), e.getMessage());
    }

    @Test
    void badTypesNameKeyValueSourceAndExpectation() {
        JobConfig c = JobConfig.load("testjob", null, List.of("train.batch_size=eight", "train.learning_rate=fast",
                "train.ptx=yes", "train.schedule=cosin", "train.seed=1.5", "train.warmup_fraction=NaN"));
        assertEquals("config key 'train.batch_size' = \"eight\" (from --set): expected an integer",
                assertThrows(ConfigException.class, () -> c.getInt("train.batch_size")).getMessage());
        assertEquals("config key 'train.learning_rate' = \"fast\" (from --set): expected a number",
                assertThrows(ConfigException.class, () -> c.getFloat("train.learning_rate")).getMessage());
        assertEquals("config key 'train.ptx' = \"yes\" (from --set): expected true or false",
                assertThrows(ConfigException.class, () -> c.getBoolean("train.ptx")).getMessage());
        assertEquals("config key 'train.schedule' = \"cosin\" (from --set): expected one of cosine|linear|constant",
                assertThrows(ConfigException.class, () -> c.getEnum("train.schedule", Schedule.class)).getMessage());
        assertEquals("config key 'train.seed' = \"1.5\" (from --set): expected an integer",
                assertThrows(ConfigException.class, () -> c.getLong("train.seed")).getMessage());
        assertEquals("config key 'train.warmup_fraction' = \"NaN\" (from --set): expected a finite number",
                assertThrows(ConfigException.class, () -> c.getDouble("train.warmup_fraction")).getMessage());
    }

    @Test
    void badTypeFromUserFileNamesFileAndLine() throws Exception {
        String f = userFile("\n\ntrain.max_steps = many\n");
        JobConfig c = JobConfig.load("testjob", f, List.of());
        assertEquals("config key 'train.max_steps' = \"many\" (from my.properties line 3): expected an integer",
                assertThrows(ConfigException.class, () -> c.getInt("train.max_steps")).getMessage());
    }

    @Test
    void rangeChecksNameKeyValueAndRange() {
        JobConfig c = JobConfig.load("testjob", null, List.of("train.batch_size=0", "train.warmup_fraction=1.5"));
        assertEquals("config key 'train.batch_size' = \"0\" (from --set): expected a number > 0",
                assertThrows(ConfigException.class, () -> c.requirePositive("train.batch_size")).getMessage());
        assertEquals("config key 'train.warmup_fraction' = \"1.5\" (from --set): expected a number in [0, 1]",
                assertThrows(ConfigException.class, () -> c.requireIn("train.warmup_fraction", 0, 1)).getMessage());
        assertEquals(1000.0, c.requirePositive("train.max_steps"));
        assertEquals(3e-4, c.requireIn("train.learning_rate", 0, 0.5));
    }

    @Test
    void enumsListsPathsAndOptional() {
        JobConfig c = JobConfig.load("testjob", null, List.of("train.schedule=Linear", "log.console_metrics= loss,, kl ,"));
        assertEquals(Schedule.LINEAR, c.getEnum("train.schedule", Schedule.class));
        assertEquals(List.of("loss", "kl"), c.getList("log.console_metrics"));
        assertTrue(c.getOptional("model.path").isEmpty());
        assertEquals("config key 'model.path' = \"\" (from defaults conf/testjob.properties line 16): expected a path (file, directory or URI)",
                assertThrows(ConfigException.class, () -> c.getPath("model.path")).getMessage());
        c.set("model.path", "hdfs:///models/gpt2", "test");
        assertEquals("hdfs:///models/gpt2", c.getPath("model.path"));
    }

    @Test
    void undeclaredKeyAskedByTheJobIsAnError() {
        JobConfig c = JobConfig.defaults("testjob");
        ConfigException e = assertThrows(ConfigException.class, () -> c.getInt("train.batch"));
        assertTrue(e.getMessage().contains("'train.batch', which conf/testjob.properties does not declare (closest: 'train.batch_size')"),
                e.getMessage());
    }

    @Test
    void sparkKeysPassThroughEvenWhenNotDeclared() {
        JobConfig c = JobConfig.load("testjob", null, List.of("spark.executor.memory=6g", "spark.ui.enabled=false"));
        assertEquals("6g", c.getString("spark.executor.memory"));
        assertEquals(List.of("spark.ui.enabled", "spark.executor.memory"), List.copyOf(c.sparkValues().keySet()));
    }

    @Test
    void missingDefaultsNameTheResourceAndFile() {
        ConfigException e = assertThrows(ConfigException.class, () -> JobConfig.defaults("nosuchjob"));
        assertTrue(e.getMessage().startsWith("no defaults for job 'nosuchjob': neither the class-path resource conf/nosuchjob.properties"),
                e.getMessage());
    }

    @Test
    void duplicateDefaultIsAnError() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> JobConfig.defaultsFromText("x.properties", "a = 1\nb = 2\na = 3\n"));
        assertEquals("key 'a' declared twice in defaults x.properties (again at line 3)", e.getMessage());
    }

    @Test
    void editDistanceMatchesHandComputedValues() {
        assertEquals(3, JobConfig.editDistance("kitten", "sitting"));
        assertEquals(0, JobConfig.editDistance("abc", "abc"));
        assertEquals(3, JobConfig.editDistance("", "abc"));
        assertEquals(1, JobConfig.editDistance("train.seed", "train.sed"));
    }

    @Test
    void usageListsEveryKeyWithDefaultAndMeaning() {
        String u = JobConfig.defaults("testjob").usage();
        assertTrue(u.contains("  train.learning_rate = 3e-4\n      Peak learning rate of AdamW.\n"), u);
        assertTrue(u.contains("  model.path = (empty)\n"), u);
        assertEquals(10, u.lines().filter(l -> l.startsWith("  ") && !l.startsWith("      ")).count(), u);
    }
}
