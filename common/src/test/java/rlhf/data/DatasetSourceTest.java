package rlhf.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import rlhf.config.JobConfig;
import rlhf.config.SparkSessions;
import rlhf.data.DatasetSource.Format;
import rlhf.data.DatasetSource.OnBadRow;

class DatasetSourceTest {

    static SparkSession spark;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        // Also the check that SparkSessions makes a working session with its defaults and the config's spark.* keys.
        spark = SparkSessions.create("DatasetSourceTest", "local[2]", JobConfig.defaultsFromText("test",
                "spark.ui.enabled = false\nspark.sql.shuffle.partitions = 2\nspark.sql.codegen.wholeStage = false\n"));
        assertEquals("local[2]", spark.sparkContext().master());
        assertEquals("false", spark.conf().get("spark.broadcast.compress"));
        assertEquals("0", spark.conf().get("spark.driver.maxResultSize"));
        assertEquals("false", spark.conf().get("spark.ui.enabled"));
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private String jsonl(String name, String... lines) throws Exception {
        Path p = tmp.resolve(name);
        Files.writeString(p, String.join("\n", lines) + "\n");
        return p.toString();
    }

    private String parquet(String name, StructType schema, Row... rows) {
        String dir = tmp.resolve(name).toString();
        spark.createDataFrame(List.of(rows), schema).coalesce(1).write().parquet(dir);
        return dir;
    }

    private static DatasetSource source(String input) {
        return new DatasetSource(input, Format.AUTO, Map.of(), OnBadRow.DROP);
    }

    private static <T> List<T> collect(Examples<T> ex) {
        return ex.rdd().collect();
    }

    @Test
    void promptResponseJsonlKeepsFileAndRowNumbers() throws Exception {
        String f = jsonl("pr.jsonl",
                "{\"prompt\":\"2+2=\",\"response\":\" 4\",\"extra\":1}",
                "{\"prompt\":\"3+3=\",\"response\":\" 6\"}",
                "{\"prompt\":\"1+0=\",\"response\":\" 1\"}");
        Examples<Demonstration> ex = source(f).demonstrations(spark, PromptTemplate.plain());
        assertEquals(3, ex.count());
        assertEquals(0, ex.dropped());
        List<Demonstration> d = collect(ex);
        assertEquals(List.of("2+2=", "3+3=", "1+0="), d.stream().map(Demonstration::prompt).toList());
        assertEquals(List.of(" 4", " 6", " 1"), d.stream().map(Demonstration::response).toList());
        assertEquals(List.of(1L, 2L, 3L), d.stream().map(Demonstration::row).toList());
        assertTrue(d.get(1).source().endsWith("/pr.jsonl"), d.get(1).source());
        assertTrue(d.get(1).where().endsWith("/pr.jsonl row 2"), d.get(1).where());
    }

    @Test
    void alpacaParquetUsesTheTemplateWithAndWithoutInput() {
        StructType schema = new StructType().add("instruction", DataTypes.StringType)
                .add("input", DataTypes.StringType).add("output", DataTypes.StringType);
        String dir = parquet("alpaca", schema,
                RowFactory.create("Translate.", "Hello", "Bonjour"),
                RowFactory.create("Name a colour.", null, "Blue"),
                RowFactory.create("Count to 3.", "", "1 2 3"));
        List<Demonstration> d = new ArrayList<>(collect(source(dir).demonstrations(spark, PromptTemplate.alpaca())));
        d.sort(Comparator.comparingLong(Demonstration::row));
        assertEquals(PromptTemplate.alpaca().format("Translate.", "Hello"), d.get(0).prompt());
        assertTrue(d.get(0).prompt().contains("### Input:\nHello\n\n### Response:"));
        assertEquals(PromptTemplate.ALPACA_NO_INPUT.replace("{instruction}", "Name a colour."), d.get(1).prompt());
        assertEquals(PromptTemplate.ALPACA_NO_INPUT.replace("{instruction}", "Count to 3."), d.get(2).prompt());
        assertEquals(List.of("Bonjour", "Blue", "1 2 3"), d.stream().map(Demonstration::response).toList());
        assertTrue(d.get(2).source().endsWith(".parquet"), d.get(2).source());
    }

    @Test
    void chatMessagesBecomeTemplatedPromptAndLastAssistantResponse() throws Exception {
        String f = jsonl("chat.jsonl",
                "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi\"},"
                        + "{\"role\":\"assistant\",\"content\":\"Hello!\"},{\"role\":\"user\",\"content\":\"2+2?\"},"
                        + "{\"role\":\"assistant\",\"content\":\"4\"}]}",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"no answer\"}]}");
        Examples<Demonstration> ex = source(f).demonstrations(spark, PromptTemplate.alpaca());
        assertEquals(1, ex.count());
        assertEquals(1, ex.dropped());
        assertTrue(ex.firstDropped().get(0).endsWith("/chat.jsonl row 2: no assistant message"), ex.firstDropped().toString());
        Demonstration d = collect(ex).get(0);
        assertEquals("<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\nHello!\n<|user|>\n2+2?\n<|assistant|>\n", d.prompt());
        assertEquals("4", d.response());
    }

    @Test
    void columnMappingRenamesUserColumns() throws Exception {
        String f = jsonl("qa.jsonl", "{\"question\":\"Why?\",\"answer\":\"Because.\",\"prompt\":\"ignored\"}");
        DatasetSource s = new DatasetSource(f, Format.JSON, Map.of("prompt", "question", "response", "answer"), OnBadRow.FAIL);
        Demonstration d = collect(s.demonstrations(spark, PromptTemplate.plain())).get(0);
        assertEquals("Why?", d.prompt());
        assertEquals("Because.", d.response());
    }

    @Test
    void columnMappingFromConfig() throws Exception {
        String f = jsonl("qa2.jsonl", "{\"question\":\"Why?\",\"answer\":\"Because.\"}");
        JobConfig cfg = JobConfig.defaultsFromText("d", "data.format = auto\ndata.on_bad_row = fail\n"
                + "data.columns.prompt =\ndata.columns.response =\n").applySets(List.of("data.columns.prompt=question",
                "data.columns.response = answer"));
        Demonstration d = collect(DatasetSource.fromConfig(f, cfg).demonstrations(spark, PromptTemplate.plain())).get(0);
        assertEquals("Because.", d.response());
    }

    @Test
    void missingColumnNamesColumnDatasetAndColumnsPresent() throws Exception {
        String f = jsonl("missing.jsonl", "{\"prompt\":\"a\",\"answer\":\"b\"}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> source(f).demonstrations(spark, PromptTemplate.plain()));
        assertEquals("dataset " + f + " has no column 'response', needed by the prompt/response (or Alpaca "
                + "instruction/input/output, or chat messages) format; columns present: [answer, prompt]; "
                + "map yours with data.columns.response=YOUR_COLUMN", e.getMessage());

        DatasetSource mapped = new DatasetSource(f, Format.AUTO, Map.of("response", "reply"), OnBadRow.DROP);
        e = assertThrows(IllegalArgumentException.class, () -> mapped.demonstrations(spark, PromptTemplate.plain()));
        assertEquals("dataset " + f + " has no column 'reply' (data.columns.response maps it to 'response'); "
                + "columns present: [answer, prompt]", e.getMessage());
    }

    @Test
    void badRowsAreCountedAndDroppedWithTheFirstNamed() throws Exception {
        String f = jsonl("bad.jsonl",
                "{\"prompt\":\"ok1\",\"response\":\"r1\"}",
                "{\"prompt\":\"ok2\",\"response\":null}",
                "{\"prompt\":\"   \",\"response\":\"r3\"}",
                "{\"prompt\":\"broken\", \"response\": ",
                "{\"prompt\":\"ok5\",\"response\":\"r5\"}");
        Examples<Demonstration> ex = source(f).demonstrations(spark, PromptTemplate.plain());
        assertEquals(2, ex.count());
        assertEquals(3, ex.dropped());
        assertEquals(List.of(f + " row 2: 'response' is null", f + " row 3: 'prompt' is empty",
                        f + " row 4: malformed JSON (expected one object per line): {\"prompt\":\"broken\", \"response\": "),
                ex.firstDropped());
        List<Demonstration> d = collect(ex);
        assertEquals(List.of(1L, 5L), d.stream().map(Demonstration::row).toList());
        assertEquals(List.of("ok1", "ok5"), d.stream().map(Demonstration::prompt).toList());

        DatasetSource failing = new DatasetSource(f, Format.AUTO, Map.of(), OnBadRow.FAIL);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> failing.demonstrations(spark, PromptTemplate.plain()));
        assertTrue(e.getMessage().startsWith("3 bad row(s) of 5 in dataset " + f
                + " (data.on_bad_row=fail; set drop to skip them); first: " + f + " row 2: 'response' is null; "),
                e.getMessage());
    }

    @Test
    void emptyDatasetsAreClearErrors() throws Exception {
        String f = jsonl("empty.jsonl");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> source(f).demonstrations(spark, PromptTemplate.plain()));
        assertEquals("dataset " + f + " is empty (no rows, no columns)", e.getMessage());

        StructType schema = new StructType().add("prompt", DataTypes.StringType).add("response", DataTypes.StringType);
        String dir = parquet("empty-parquet", schema);
        e = assertThrows(IllegalArgumentException.class, () -> source(dir).demonstrations(spark, PromptTemplate.plain()));
        assertEquals("dataset " + dir + " is empty (no rows)", e.getMessage());

        String allBad = jsonl("allbad.jsonl", "{\"prompt\":\"a\",\"response\":\"\"}");
        e = assertThrows(IllegalArgumentException.class, () -> source(allBad).demonstrations(spark, PromptTemplate.plain()));
        assertTrue(e.getMessage().startsWith("dataset " + allBad + " has no usable rows: all 1 are bad ('response' is empty: 1); "
                + "first: "), e.getMessage());
    }

    @Test
    void rowNumbersCountWithinEachFileAcrossSplitPartitions() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("many"));
        List<String> a = new ArrayList<>();
        List<String> b = new ArrayList<>();
        for (int i = 1; i <= 300; i++) {
            a.add("{\"prompt\":\"a" + i + "\",\"response\":\"x\"}");
            if (i <= 120) {
                b.add("{\"prompt\":\"b" + i + "\",\"response\":\"y\"}");
            }
        }
        Files.write(dir.resolve("a.jsonl"), a);
        Files.write(dir.resolve("b.jsonl"), b);
        spark.conf().set("spark.sql.files.maxPartitionBytes", "1000");
        spark.conf().set("spark.sql.files.openCostInBytes", "0");
        try {
            Examples<Demonstration> ex = source(dir.toString()).demonstrations(spark, PromptTemplate.plain());
            assertTrue(ex.rdd().getNumPartitions() > 5, "partitions: " + ex.rdd().getNumPartitions());
            List<Demonstration> d = collect(ex);
            assertEquals(420, d.size());
            for (Demonstration x : d) {
                String file = x.source().endsWith("/a.jsonl") ? "a" : "b";
                assertEquals(file + x.row(), x.prompt(), "row number of " + x.where());
            }
        } finally {
            spark.conf().unset("spark.sql.files.maxPartitionBytes");
            spark.conf().unset("spark.sql.files.openCostInBytes");
        }
    }

    @Test
    void preferencePairsFromParquetWithMargin() {
        StructType schema = new StructType().add("prompt", DataTypes.StringType).add("chosen", DataTypes.StringType)
                .add("rejected", DataTypes.StringType).add("margin", DataTypes.DoubleType);
        String dir = parquet("pairs", schema,
                RowFactory.create("p1", "good", "bad", 2.5),
                RowFactory.create("p2", "fine", "worse", null),
                RowFactory.create("p3", "same", "same", 1.0));
        DatasetSource s = source(dir);
        assertEquals(DatasetSource.PreferenceFormat.PAIRS, s.preferenceFormat(spark));
        Examples<PreferencePair> ex = s.preferencePairs(spark);
        assertEquals(2, ex.count());
        assertTrue(ex.firstDropped().get(0).endsWith(" row 3: 'chosen' and 'rejected' are identical"), ex.firstDropped().toString());
        List<PreferencePair> p = collect(ex);
        assertEquals(new PreferencePair("p1", "good", "bad", 2.5f, p.get(0).source(), 1), p.get(0));
        assertEquals(0f, p.get(1).margin());
    }

    @Test
    void rankingsFromJsonlAcceptZeroAndOneBasedRanks() throws Exception {
        String f = jsonl("rank.jsonl",
                "{\"prompt\":\"p\",\"responses\":[\"a\",\"b\",\"c\"],\"ranking\":[2,0,1]}",
                "{\"prompt\":\"q\",\"responses\":[\"a\",\"b\"],\"ranking\":[1,2]}",
                "{\"prompt\":\"r\",\"responses\":[\"a\",\"b\"],\"ranking\":[0,0]}",
                "{\"prompt\":\"s\",\"responses\":[\"a\",\"b\",\"c\"],\"ranking\":[0,1]}");
        DatasetSource s = source(f);
        assertEquals(DatasetSource.PreferenceFormat.RANKINGS, s.preferenceFormat(spark));
        Examples<Ranking> ex = s.rankings(spark);
        assertEquals(2, ex.count());
        assertEquals(List.of(f + " row 3: 'ranking' [0, 0] is not a permutation of 0..1 or 1..2",
                        f + " row 4: 'ranking' has 2 entries for 3 responses"),
                ex.firstDropped());
        List<Ranking> r = collect(ex);
        assertArrayEquals(new String[] {"a", "b", "c"}, r.get(0).responses());
        assertArrayEquals(new int[] {2, 0, 1}, r.get(0).ranking());
        assertArrayEquals(new int[] {0, 1}, r.get(1).ranking());
    }

    @Test
    void theDatasetKeysAreCheckedWithoutADataset() {
        // what Cli checks before Spark starts: a bad value fails in a second, not at the first read
        rlhf.config.ConfigException e = assertThrows(rlhf.config.ConfigException.class, () -> DatasetSource.checkKeys(
                JobConfig.load("reward", null, List.of("data.max_bad_fraction=2"))));
        assertTrue(e.getMessage().contains("'data.max_bad_fraction' = \"2\""), e.getMessage());
        assertThrows(rlhf.config.ConfigException.class, () -> DatasetSource.checkKeys(
                JobConfig.load("sft", null, List.of("data.on_bad_row=skip"))));
        DatasetSource.checkKeys(JobConfig.load("sft", null, List.of()));
    }

    @Test
    void pairsAndRankingsInOneFileAreEachReadByTheirOwnColumns() throws Exception {
        // before: the responses column made every row a ranking, and each pair row "'responses' is null"
        String f = jsonl("mixed.jsonl",
                "{\"prompt\":\"p\",\"chosen\":\"a\",\"rejected\":\"b\",\"margin\":2}",
                "{\"prompt\":\"q\",\"responses\":[\"a\",\"b\",\"c\"],\"ranking\":[2,0,1]}",
                "{\"prompt\":\"r\",\"chosen\":\"a\",\"rejected\":\"b\",\"responses\":[\"a\",\"b\"],\"ranking\":[0,1]}",
                "{\"prompt\":\"s\"}",
                "{\"prompt\":\"t\",\"chosen\":\"c\",\"rejected\":\"d\"}",
                "{\"prompt\":\"u\",\"responses\":[\"a\",\"b\"],\"ranking\":[1,0],\"margin\":1}");
        DatasetSource s = source(f);
        assertEquals(DatasetSource.PreferenceFormat.MIXED, s.preferenceFormat(spark));
        Examples<Preference> ex = s.preferences(spark);
        assertEquals(3, ex.count());
        assertEquals(Map.of("both a pair and a ranking", 1L, "neither a pair nor a ranking", 1L, "'margin' on a ranking", 1L),
                ex.droppedByKind());
        assertEquals(List.of(f + " row 3: both chosen/rejected and responses/ranking are set; a row of a dataset "
                + "with both formats is one or the other", f + " row 4: neither chosen/rejected nor "
                + "responses/ranking is set; a row of a dataset with both formats is one or the other",
                f + " row 6: 'margin' is set on a ranking row; margins go with chosen/rejected pairs"), ex.firstDropped());
        List<Preference> rows = collect(ex);
        PreferencePair first = (PreferencePair) rows.get(0);
        assertEquals(List.of("p", "a", "b", 2f, 1L), List.of(first.prompt(), first.chosen(), first.rejected(),
                first.margin(), first.row()));
        Ranking second = (Ranking) rows.get(1);
        assertArrayEquals(new int[] {2, 0, 1}, second.ranking());
        assertEquals(2L, second.row());
        PreferencePair third = (PreferencePair) rows.get(2);
        assertEquals(List.of("t", 0f, 5L), List.of(third.prompt(), third.margin(), third.row()));
    }

    @Test
    void aRankThatIsNotAWholeNumberIsABadRowNotTruncated() throws Exception {
        // as the user wrote it: 0.5 was truncated to 0 when the column was read as doubles
        String f = jsonl("frac.jsonl",
                "{\"prompt\":\"p\",\"responses\":[\"a\",\"b\",\"c\"],\"ranking\":[2,0,1]}",
                "{\"prompt\":\"q\",\"responses\":[\"a\",\"b\",\"c\"],\"ranking\":[0.5,1,2]}");
        Examples<Ranking> ex = source(f).rankings(spark);
        assertEquals(1, ex.count());
        assertEquals(List.of(f + " row 2: rank 0 is 0.5, not a whole number; 'ranking' [0.5, 1, 2] must be a "
                + "permutation of 0..2 or 1..3"), ex.firstDropped());
        assertArrayEquals(new int[] {2, 0, 1}, collect(ex).get(0).ranking());
    }

    @Test
    void aValueOfAnotherJsonTypeIsABadRowNotText() throws Exception {
        // Spark's reader widens the column to string: 12345 and ["a","b"] would train as text
        String f = jsonl("types.jsonl",
                "{\"prompt\":\"ok1\",\"response\":\"r1\"}",
                "{\"prompt\": 12345, \"response\": \"r2\"}",
                "{\"prompt\":\"p3\", \"response\": [\"a\",\"b\"]}",
                "",
                "{\"prompt\":\"ok4\",\"response\":\"r4\",\"extra\":{\"any\":1}}");
        Examples<Demonstration> ex = source(f).demonstrations(spark, PromptTemplate.plain());
        assertEquals(List.of(f + " row 2: 'prompt' is not a string: a number (12345)",
                f + " row 3: 'response' is not a string: an array ([\"a\",\"b\"])"), ex.firstDropped());
        assertEquals(List.of(1L, 4L), collect(ex).stream().map(Demonstration::row).toList(),
                "the blank line is not a row, as for Spark's reader");
        DatasetSource failing = new DatasetSource(f, Format.AUTO, Map.of(), OnBadRow.FAIL);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> failing.demonstrations(spark, PromptTemplate.plain()));
        assertTrue(e.getMessage().startsWith("2 bad row(s) of 4 in dataset " + f), e.getMessage());

        // one string margin or rank is that row's problem, not the whole column's
        String pairs = jsonl("margins.jsonl",
                "{\"prompt\":\"p\",\"chosen\":\"a\",\"rejected\":\"b\",\"margin\":2}",
                "{\"prompt\":\"q\",\"chosen\":\"a\",\"rejected\":\"b\",\"margin\":\"high\"}",
                "{\"prompt\":\"r\",\"chosen\":\"a\",\"rejected\":\"b\",\"margin\":0.5}");
        Examples<PreferencePair> px = source(pairs).preferencePairs(spark);
        assertEquals(List.of(pairs + " row 2: 'margin' is not a number: a string (\"high\")"), px.firstDropped());
        assertEquals(List.of(2f, 0.5f), collect(px).stream().map(PreferencePair::margin).toList());
        String ranks = jsonl("ranks.jsonl",
                "{\"prompt\":\"p\",\"responses\":[\"a\",\"b\"],\"ranking\":[1,0]}",
                "{\"prompt\":\"q\",\"responses\":[\"a\",\"b\"],\"ranking\":[\"1\",0]}",
                "{\"prompt\":\"r\",\"responses\":[\"a\",7],\"ranking\":[0,1]}");
        Examples<Ranking> rx = source(ranks).rankings(spark);
        assertEquals(List.of(ranks + " row 2: 'ranking' holds a non-number: element 0 is a string (\"1\")",
                ranks + " row 3: 'responses' holds a non-string: element 1 is a number (7)"), rx.firstDropped());
        assertArrayEquals(new int[] {1, 0}, collect(rx).get(0).ranking());
    }

    @Test
    void aLineThatIsNotUtf8IsABadRowNotReplacementCharacters() throws Exception {
        byte[] good = "{\"prompt\":\"ok\",\"response\":\"r\"}\n".getBytes(StandardCharsets.UTF_8);
        byte[] bad = "{\"prompt\":\"caf\u00ff\",\"response\":\"r\"}\n".getBytes(StandardCharsets.ISO_8859_1);
        Path f = tmp.resolve("latin1.jsonl");
        Files.write(f, good);
        Files.write(f, bad, java.nio.file.StandardOpenOption.APPEND);
        Files.write(f, good, java.nio.file.StandardOpenOption.APPEND);
        Examples<Demonstration> ex = source(f.toString()).demonstrations(spark, PromptTemplate.plain());
        assertEquals(List.of(f + " row 2: invalid UTF-8: byte 14 of the line (0xff)"), ex.firstDropped());
        assertEquals(List.of(1L, 3L), collect(ex).stream().map(Demonstration::row).toList());
    }

    @Test
    void moreBadRowsThanTheBudgetStopTheReadWithTheCountOfEachKind() throws Exception {
        // a directory of the wrong files read as JSON lines: most lines are not JSON objects
        List<String> lines = new ArrayList<>();
        for (int i = 1; i <= 20; i++) {
            lines.add(i % 10 == 0 ? "{\"prompt\":\"p" + i + "\",\"response\":\"r\"}" : "prompt,response,row " + i);
        }
        lines.add("{\"prompt\":\"p\",\"response\":null}");
        String f = jsonl("mostly-bad.jsonl", lines.toArray(new String[0]));
        DatasetSource strict = new DatasetSource(f, Format.AUTO, Map.of(), OnBadRow.DROP, 0.05);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> strict.demonstrations(spark, PromptTemplate.plain()));
        assertTrue(e.getMessage().startsWith("19 of 21 rows (90.5%) of dataset " + f + " are bad, more than "
                + "data.max_bad_fraction = 0.05 allows (malformed JSON (expected one object per line): 18, "
                + "'response' is null: 1); first: " + f + " row 1: malformed JSON"), e.getMessage());
        assertTrue(e.getMessage().endsWith("or raise data.max_bad_fraction"), e.getMessage());
        // within the budget the bad rows are dropped as before
        assertEquals(2, new DatasetSource(f, Format.AUTO, Map.of(), OnBadRow.DROP, 0.95)
                .demonstrations(spark, PromptTemplate.plain()).count());
    }

    @Test
    void aDirectoryWithOtherFilesOrSubdirectoriesIsRefusedNotHalfRead() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("mixed"));
        Files.write(dir.resolve("a.jsonl"), List.of("{\"prompt\":\"a\",\"response\":\"x\"}"));
        Files.write(dir.resolve("notes.txt"), List.of("prompt: these are my notes"));
        Files.write(dir.resolve("_SUCCESS"), List.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> source(dir.toString()).demonstrations(spark, PromptTemplate.plain()));
        assertEquals("directory " + dir + " holds 1 file(s) that are not JSON lines: [notes.txt]; move them out, "
                + "or set data.format=json to read every file as JSON lines", e.getMessage());

        Files.delete(dir.resolve("notes.txt"));
        Path sub = Files.createDirectories(dir.resolve("more"));
        Files.write(sub.resolve("b.jsonl"), List.of("{\"prompt\":\"b\",\"response\":\"y\"}"));
        e = assertThrows(IllegalArgumentException.class,
                () -> source(dir.toString()).demonstrations(spark, PromptTemplate.plain()));
        assertTrue(e.getMessage().startsWith("directory " + dir + " holds subdirectories [more/], which would not be "
                + "read; give their files' paths (data paths may be globs: " + dir + "/*/*.jsonl)"), e.getMessage());
        // the glob the message suggests reads the subdirectory's file
        List<Demonstration> d = collect(source(dir + "/*/*.jsonl").demonstrations(spark, PromptTemplate.plain()));
        assertEquals(List.of("b"), d.stream().map(Demonstration::prompt).toList());
    }

    @Test
    void ppoPromptsFromATableAndFromAlpacaRows() throws Exception {
        spark.createDataFrame(List.of(RowFactory.create("Tell a joke."), RowFactory.create("Name a prime.")),
                new StructType().add("prompt", DataTypes.StringType)).createOrReplaceTempView("ppo_prompts");
        Examples<Prompt> ex = source("table:ppo_prompts").prompts(spark, PromptTemplate.of("Q: {prompt}\\nA:"));
        List<Prompt> p = collect(ex);
        assertEquals(List.of("Q: Tell a joke.\nA:", "Q: Name a prime.\nA:"), p.stream().map(Prompt::prompt).toList());
        assertEquals("table:ppo_prompts row 2", p.get(1).where());

        String f = jsonl("alpaca-prompts.jsonl", "{\"instruction\":\"Add.\",\"input\":\"1 2\"}");
        assertEquals(PromptTemplate.alpaca().format("Add.", "1 2"),
                collect(source(f).prompts(spark, PromptTemplate.alpaca())).get(0).prompt());
    }

    @Test
    void fewShotsComeFromTheFirstRows() throws Exception {
        String f = jsonl("shots.jsonl", "{\"prompt\":\"1+1\",\"response\":\" 2\"}", "{\"prompt\":\"2+2\",\"response\":\" 4\"}");
        List<PromptTemplate.Shot> shots = source(f).fewShots(spark, 2);
        assertEquals(new PromptTemplate.Shot("1+1", "", " 2"), shots.get(0));
        PromptTemplate t = PromptTemplate.of("{prompt} =").withFewShot(shots);
        assertEquals("1+1 = 2\n\n2+2 = 4\n\n3+3 =", t.format("3+3"));
        assertThrows(IllegalArgumentException.class, () -> source(f).fewShots(spark, 3));

        JobConfig cfg = JobConfig.defaultsFromText("d", "data.format = auto\ndata.on_bad_row = fail\n"
                + "data.template = alpaca\ndata.few_shot.n = 0\ndata.few_shot.path =\n");
        assertEquals(PromptTemplate.alpaca().format("x"), DatasetSource.template(cfg, spark).format("x"));
        cfg.applySets(List.of("data.template=Q: {prompt}\\nA:", "data.few_shot.n=1", "data.few_shot.path=" + f));
        assertEquals("Q: 1+1\nA: 2\n\nQ: x\nA:", DatasetSource.template(cfg, spark).format("x"));
    }

    @Test
    void wrongColumnTypeAndUnknownFormatAreNamed() throws Exception {
        // a declared type (Parquet) is checked for the whole column
        StructType nested = new StructType()
                .add("prompt", new StructType().add("a", DataTypes.LongType)).add("response", DataTypes.StringType);
        String pq = parquet("types-parquet", nested, RowFactory.create(RowFactory.create(1L), "x"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> source(pq).demonstrations(spark, PromptTemplate.plain()));
        assertEquals("column 'prompt' of dataset " + pq + " has type struct<a:bigint>, expected string", e.getMessage());
        // JSON lines are typed row by row: every row is refused, each named
        String f = jsonl("types.jsonl", "{\"prompt\":{\"a\":1},\"response\":\"x\"}");
        e = assertThrows(IllegalArgumentException.class, () -> source(f).demonstrations(spark, PromptTemplate.plain()));
        assertEquals("dataset " + f + " has no usable rows: all 1 are bad ('prompt' is not a string: 1); first: " + f
                + " row 1: 'prompt' is not a string: an object ({\"a\":1})", e.getMessage());

        String csv = jsonl("data.csv", "prompt,response");
        e = assertThrows(IllegalArgumentException.class, () -> source(csv).demonstrations(spark, PromptTemplate.plain()));
        assertTrue(e.getMessage().startsWith("cannot tell the format of dataset " + csv), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> source(tmp.resolve("nope").toString()).demonstrations(spark, PromptTemplate.plain()));
        assertEquals("dataset " + tmp.resolve("nope") + " does not exist", e.getMessage());
        // with a data file's extension too, before Spark's reader would fail with a page of stack trace
        e = assertThrows(IllegalArgumentException.class,
                () -> source(tmp.resolve("nope.jsonl").toString()).demonstrations(spark, PromptTemplate.plain()));
        assertEquals("dataset " + tmp.resolve("nope.jsonl") + " does not exist", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> source(tmp.resolve("nope") + "/*.jsonl").demonstrations(spark, PromptTemplate.plain()));
        assertEquals("dataset " + tmp.resolve("nope") + "/*.jsonl matches no files", e.getMessage());
    }
}
