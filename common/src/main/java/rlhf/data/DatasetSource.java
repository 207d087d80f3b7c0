package rlhf.data;

import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import rlhf.config.JobConfig;

/**
 * A dataset read with Spark SQL and turned into example records on the executors.
 *
 * <p>Input: a path (a {@code .jsonl}/{@code .json} JSON-lines file, a {@code .parquet} file, or a
 * directory of those; any Hadoop file system) or a table name {@code table:NAME}. Format
 * {@code auto} decides from the {@code table:} prefix, the extension, or the files in the
 * directory. A column mapping renames the user's columns to ours ({@code prompt -> question}
 * reads column "question" as "prompt").
 *
 * <p>Row formats, detected from the columns present (after mapping):
 * <ul>
 *   <li>SFT: {@code prompt}/{@code response}; Alpaca {@code instruction}/{@code input}(optional)/{@code output};
 *       chat {@code messages} = array of {role, content} (see {@link ChatTemplate}).</li>
 *   <li>preferences: {@code prompt}/{@code chosen}/{@code rejected}/{@code margin}(optional), or
 *       {@code prompt}/{@code responses}/{@code ranking} (see {@link Ranking}).</li>
 *   <li>PPO: {@code prompt}, or Alpaca {@code instruction}/{@code input}.</li>
 * </ul>
 *
 * <p>Every example keeps its source file (or table) and its 1-based record number within it.
 * Rows with null, empty or malformed fields are bad rows: counted and dropped, or the read
 * fails ({@link OnBadRow}); either way the first few are named with file and row. JSON lines are
 * read strictly ({@link JsonLineRows}): a value of another JSON type than its column's (a number
 * as a prompt, a string as a margin) is a bad row of its own, never converted to text and never
 * a reason to refuse the whole column. A missing
 * column, an empty dataset or a dataset of only bad rows is an error naming the dataset.
 *
 * <p>Conversion runs on the executors in two passes over the rows: the first counts the rows
 * of each file in each partition and validates them (only counts and a few messages come back to
 * the driver), the second numbers the rows and converts them.
 */
public final class DatasetSource {

    private static final Logger LOG = LoggerFactory.getLogger(DatasetSource.class);

    /** Bad rows named in messages and logs. */
    static final int FIRST_BAD = 5;

    /** Our column names, each of which {@code data.columns.<name>} may map. */
    public static final List<String> COLUMNS = List.of("prompt", "response", "instruction", "input", "output",
            "messages", "chosen", "rejected", "margin", "responses", "ranking", "reference");

    public enum Format { AUTO, JSON, PARQUET, TABLE }

    public enum OnBadRow { DROP, FAIL }

    /** The preference row formats: pairs, rankings, or both in one dataset (row by row). */
    public enum PreferenceFormat { PAIRS, RANKINGS, MIXED }

    private static final String FILE_COL = "__rlhf_file";
    private static final String PROBLEM_COL = "__rlhf_problem";
    /** The column Spark's JSON reader adds when some lines are malformed: not the user's. */
    private static final String CORRUPT_COL = "_corrupt_record";

    private final String input;
    private final Format format;
    private final Map<String, String> columns;
    private final OnBadRow onBadRow;
    private final double maxBadFraction;

    /**
     * @param input   path or {@code table:NAME}
     * @param columns our column name -> the user's column name (entries with an empty value ignored)
     */
    public DatasetSource(String input, Format format, Map<String, String> columns, OnBadRow onBadRow) {
        this(input, format, columns, onBadRow, 1.0);
    }

    /**
     * @param maxBadFraction with {@link OnBadRow#DROP}, the largest share of the rows that may be
     *                       bad; above it reading stops with the counts per kind of problem (1: no
     *                       limit)
     */
    public DatasetSource(String input, Format format, Map<String, String> columns, OnBadRow onBadRow,
            double maxBadFraction) {
        if (!(maxBadFraction >= 0 && maxBadFraction <= 1)) {
            throw new IllegalArgumentException("maxBadFraction must be in [0, 1], found " + maxBadFraction);
        }
        this.maxBadFraction = maxBadFraction;
        this.input = input;
        this.format = format;
        this.columns = new LinkedHashMap<>();
        columns.forEach((ours, theirs) -> {
            if (!COLUMNS.contains(ours)) {
                throw new IllegalArgumentException("unknown column '" + ours + "' in the column mapping; ours are " + COLUMNS);
            }
            if (theirs != null && !theirs.isBlank()) {
                this.columns.put(ours, theirs.strip());
            }
        });
        this.onBadRow = onBadRow;
    }

    /**
     * From a job's configuration: {@code data.format}, {@code data.on_bad_row},
     * {@code data.max_bad_fraction} (when the job declares it) and every declared
     * {@code data.columns.<ours>} key (empty = same name).
     */
    public static DatasetSource fromConfig(String input, JobConfig cfg) {
        Map<String, String> cols = new LinkedHashMap<>();
        for (String c : COLUMNS) {
            String key = "data.columns." + c;
            if (cfg.isDeclared(key)) {
                cols.put(c, cfg.getString(key));
            }
        }
        return new DatasetSource(input, cfg.getEnum("data.format", Format.class), cols,
                cfg.getEnum("data.on_bad_row", OnBadRow.class),
                cfg.isDeclared("data.max_bad_fraction") ? cfg.requireIn("data.max_bad_fraction", 0, 1) : 1.0);
    }

    /**
     * Reads the dataset keys of a job's configuration ({@link #fromConfig}) without a dataset, so a
     * bad value there fails before Spark starts, not when the data is read.
     */
    public static void checkKeys(JobConfig cfg) {
        fromConfig("", cfg);
    }

    /**
     * The prompt template of a job: {@code data.template} (alpaca, plain or a user template), with
     * the first {@code data.few_shot.n} rows of {@code data.few_shot.path} as few-shot prefix when
     * the job declares those keys and n > 0 (read with this job's column mapping).
     */
    public static PromptTemplate template(JobConfig cfg, SparkSession spark) {
        PromptTemplate t = PromptTemplate.of(cfg.getString("data.template"));
        if (cfg.isDeclared("data.few_shot.n") && cfg.getInt("data.few_shot.n") > 0) {
            int n = cfg.getInt("data.few_shot.n");
            t = t.withFewShot(fromConfig(cfg.getPath("data.few_shot.path"), cfg).fewShots(spark, n));
        }
        return t;
    }

    /** The dataset in messages: the path, or table:NAME. */
    public String describe() {
        return input;
    }

    // ---------------------------------------------------------------- reading

    /**
     * Which of json, parquet or table {@code auto} means for this input. A directory read with
     * {@code auto} must hold only files of one format (hidden {@code _}/{@code .} files aside) and,
     * for JSON, no subdirectories: Spark would read every other file as that format, dropping most
     * of its "rows", and would skip the subdirectories without a word. Parquet keeps its
     * {@code key=value} partition directories.
     */
    Format resolveFormat(SparkSession spark) {
        if (format != Format.AUTO) {
            return format;
        }
        if (input.startsWith("table:")) {
            return Format.TABLE;
        }
        Format f = byExtension(input);
        try {
            Path p = new Path(input);
            FileSystem fs = p.getFileSystem(spark.sparkContext().hadoopConfiguration());
            // here, not in Spark's reader: its PATH_NOT_FOUND comes as a page of stack trace
            FileStatus[] matched = fs.globStatus(p);
            if (matched == null || matched.length == 0) {
                throw new IllegalArgumentException("dataset " + input + (input.matches(".*[*?\\[{].*")
                        ? " matches no files" : " does not exist"));
            }
            if (f != null) {
                return f;
            }
            if (!fs.getFileStatus(p).isDirectory()) {
                throw new IllegalArgumentException("cannot tell the format of dataset " + input
                        + " from its name: expected .jsonl, .json or .parquet, or set data.format=json|parquet");
            }
            Set<Format> found = new TreeSet<>();
            List<String> others = new ArrayList<>();
            List<String> dirs = new ArrayList<>();
            for (FileStatus s : fs.listStatus(p)) {
                String n = s.getPath().getName();
                if (n.startsWith("_") || n.startsWith(".")) {
                    continue;
                }
                if (s.isDirectory()) {
                    dirs.add(n + "/");
                    continue;
                }
                Format ff = byExtension(n);
                if (ff != null) {
                    found.add(ff);
                } else {
                    others.add(n);
                }
            }
            if (found.size() != 1) {
                throw new IllegalArgumentException("directory " + input + (found.isEmpty()
                        ? " has no .jsonl, .json or .parquet files" : " mixes JSON and Parquet files")
                        + "; set data.format=json|parquet to read it anyway");
            }
            Format only = found.iterator().next();
            if (!others.isEmpty()) {
                throw new IllegalArgumentException("directory " + input + " holds " + others.size()
                        + " file(s) that are not " + (only == Format.JSON ? "JSON lines" : "Parquet") + ": "
                        + firstFew(others) + "; move them out, or set data.format=" + only.name().toLowerCase(Locale.ROOT)
                        + " to read every file as " + (only == Format.JSON ? "JSON lines" : "Parquet"));
            }
            dirs.removeIf(d -> only == Format.PARQUET && d.contains("="));
            if (!dirs.isEmpty()) {
                throw new IllegalArgumentException("directory " + input + " holds subdirectories " + firstFew(dirs)
                        + ", which would not be read; give their files' paths (data paths may be globs: "
                        + input.replaceAll("/+$", "") + "/*/*.jsonl), or move them out");
            }
            return only;
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot list dataset " + input + ": " + e.getMessage(), e);
        }
    }

    private static String firstFew(List<String> names) {
        return names.size() <= FIRST_BAD ? names.toString()
                : names.subList(0, FIRST_BAD) + " and " + (names.size() - FIRST_BAD) + " more";
    }

    private static Format byExtension(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (n.endsWith(".jsonl") || n.endsWith(".json") || n.endsWith(".jsonl.gz") || n.endsWith(".json.gz")) {
            return Format.JSON;
        }
        if (n.endsWith(".parquet")) {
            return Format.PARQUET;
        }
        return null;
    }

    /**
     * The rows as Spark reads them and the format they were read in, resolved once (resolving
     * lists the input). For JSON lines Spark's column types only say which columns exist: it
     * widens a column whose rows disagree to string, so those rows are typed one by one by
     * {@link JsonLineRows}, and only Parquet's and tables' declared types are checked per column.
     */
    private record Loaded(Dataset<Row> df, Format format) {
        boolean json() {
            return format == Format.JSON;
        }
    }

    /** The rows with the user's columns renamed to ours (plus any other columns as they are). */
    public Dataset<Row> read(SparkSession spark) {
        return load(spark).df();
    }

    private Loaded load(SparkSession spark) {
        Format f = resolveFormat(spark);
        Dataset<Row> df = switch (f) {
            case JSON -> spark.read().json(input);
            case PARQUET -> spark.read().parquet(input);
            case TABLE -> spark.table(input.startsWith("table:") ? input.substring(6) : input);
            case AUTO -> throw new IllegalStateException();
        };
        List<String> present = Arrays.asList(df.columns());
        if (present.isEmpty()) { // e.g. an empty JSON file: Spark infers no columns
            throw new IllegalArgumentException("dataset " + input + " is empty (no rows, no columns)");
        }
        for (Map.Entry<String, String> m : columns.entrySet()) {
            String ours = m.getKey();
            String theirs = m.getValue();
            if (theirs.equals(ours)) {
                continue;
            }
            if (!present.contains(theirs)) {
                throw new IllegalArgumentException("dataset " + input + " has no column '" + theirs
                        + "' (data.columns." + ours + " maps it to '" + ours + "'); columns present: " + userColumns(present));
            }
            if (present.contains(ours)) {
                df = df.drop(ours);
            }
            df = df.withColumnRenamed(theirs, ours);
        }
        return new Loaded(df, f);
    }

    private static List<String> userColumns(List<String> cols) {
        List<String> out = new ArrayList<>(cols);
        out.remove(CORRUPT_COL);
        return out;
    }

    /** The user's name of our column, for messages. */
    private String userName(String ours) {
        String theirs = columns.get(ours);
        return theirs == null || theirs.equals(ours) ? "'" + ours + "'" : "'" + theirs + "' (mapped to " + ours + ")";
    }

    // ---------------------------------------------------------------- typed readers

    /** SFT demonstrations from prompt/response, Alpaca or chat rows; {@code template} builds non-chat prompts. */
    public Examples<Demonstration> demonstrations(SparkSession spark, PromptTemplate template) {
        Loaded in = load(spark);
        Dataset<Row> df = in.df();
        Set<String> cols = Set.of(df.columns());
        if (cols.contains("messages")) {
            requireColumns(df, "chat", "messages");
            requireMessages(in);
            return convert(in, List.of("messages"), new ChatConverter());
        }
        if (!(cols.contains("prompt") && cols.contains("response")) && cols.contains("instruction")) {
            requireColumns(df, "Alpaca", "instruction", "output");
            List<String> use = cols.contains("input") ? List.of("instruction", "output", "input") : List.of("instruction", "output");
            requireStrings(in, use);
            return convert(in, use, new AlpacaConverter(template));
        }
        requireColumns(df, "prompt/response (or Alpaca instruction/input/output, or chat messages)", "prompt", "response");
        requireStrings(in, List.of("prompt", "response"));
        return convert(in, List.of("prompt", "response"), new PromptResponseConverter(template));
    }

    /**
     * PPO prompts from {@code prompt} or Alpaca {@code instruction}/{@code input} rows, formatted by
     * {@code template}, each with its {@code reference} (a string, null where the row has none) when
     * the dataset has that column.
     */
    public Examples<Prompt> prompts(SparkSession spark, PromptTemplate template) {
        Loaded in = load(spark);
        Dataset<Row> df = in.df();
        Set<String> cols = Set.of(df.columns());
        List<String> use = new ArrayList<>();
        if (!cols.contains("prompt") && cols.contains("instruction")) {
            use.add("instruction");
            if (cols.contains("input")) {
                use.add("input");
            }
        } else {
            requireColumns(df, "prompt (or Alpaca instruction/input)", "prompt");
            use.add("prompt");
        }
        int inputAt = use.indexOf("input");
        int referenceAt = -1;
        if (cols.contains("reference")) {
            referenceAt = use.size();
            use.add("reference");
        }
        requireStrings(in, use);
        return convert(in, use, new PromptConverter(template, inputAt, referenceAt));
    }


    /** Which preference format the dataset has: chosen/rejected pairs or K-wise rankings. */
    public PreferenceFormat preferenceFormat(SparkSession spark) {
        return preferenceFormat(read(spark));
    }

    private PreferenceFormat preferenceFormat(Dataset<Row> df) {
        Set<String> cols = Set.of(df.columns());
        boolean rankings = cols.contains("responses") || cols.contains("ranking");
        boolean pairs = cols.contains("chosen") || cols.contains("rejected");
        return rankings && pairs ? PreferenceFormat.MIXED : rankings ? PreferenceFormat.RANKINGS : PreferenceFormat.PAIRS;
    }

    /**
     * Preference rows of any format: pairs, rankings, or both in one dataset (JSON lines where some
     * rows have chosen/rejected and others responses/ranking), each row by its own columns.
     */
    public Examples<Preference> preferences(SparkSession spark) {
        Loaded in = load(spark);
        switch (preferenceFormat(in.df())) {
            case PAIRS -> {
                return widen(preferencePairs(in));
            }
            case RANKINGS -> {
                return widen(rankings(in));
            }
            default -> {
                requireColumns(in.df(), "mixed pairs and rankings", "prompt", "chosen", "rejected", "responses", "ranking");
                requireStrings(in, List.of("prompt", "chosen", "rejected"));
                requireArray(in, "responses", DataTypes.StringType);
                requireArray(in, "ranking", null);
                List<String> use = new ArrayList<>(List.of("prompt", "chosen", "rejected", "responses", "ranking"));
                boolean margin = Set.of(in.df().columns()).contains("margin");
                if (margin) {
                    requireMargin(in);
                    use.add("margin");
                }
                return convert(in, use, new MixedConverter(margin));
            }
        }
    }

    private static <T extends Preference> Examples<Preference> widen(Examples<T> ex) {
        return ex.with(ex.rdd().map(p -> (Preference) p));
    }

    /** Preference pairs from prompt/chosen/rejected(/margin) rows; prompts are used as they are. */
    public Examples<PreferencePair> preferencePairs(SparkSession spark) {
        return preferencePairs(load(spark));
    }

    private Examples<PreferencePair> preferencePairs(Loaded in) {
        Dataset<Row> df = in.df();
        requireColumns(df, "preference pairs prompt/chosen/rejected (or rankings prompt/responses/ranking)",
                "prompt", "chosen", "rejected");
        requireStrings(in, List.of("prompt", "chosen", "rejected"));
        List<String> use = new ArrayList<>(List.of("prompt", "chosen", "rejected"));
        if (Set.of(df.columns()).contains("margin")) {
            requireMargin(in);
            use.add("margin");
        }
        return convert(in, use, new PairConverter());
    }

    private void requireMargin(Loaded in) {
        DataType t = in.df().schema().apply("margin").dataType();
        if (!in.json() && !(t instanceof NumericType)) {
            throw new IllegalArgumentException("column " + userName("margin") + " of dataset " + input
                    + " has type " + t.simpleString() + ", expected a number");
        }
    }

    /** K-wise rankings from prompt/responses/ranking rows. */
    public Examples<Ranking> rankings(SparkSession spark) {
        return rankings(load(spark));
    }

    private Examples<Ranking> rankings(Loaded in) {
        requireColumns(in.df(), "rankings prompt/responses/ranking", "prompt", "responses", "ranking");
        requireStrings(in, List.of("prompt"));
        requireArray(in, "responses", DataTypes.StringType);
        requireArray(in, "ranking", null);
        return convert(in, List.of("prompt", "responses", "ranking"), new RankingConverter());
    }

    /** The first {@code n} rows as few-shot examples (Alpaca or prompt/response rows), collected to the driver. */
    public List<PromptTemplate.Shot> fewShots(SparkSession spark, int n) {
        Dataset<Row> df = read(spark);
        Set<String> cols = Set.of(df.columns());
        boolean alpaca = cols.contains("instruction");
        if (alpaca) {
            requireColumns(df, "Alpaca", "instruction", "output");
        } else {
            requireColumns(df, "prompt/response", "prompt", "response");
        }
        List<PromptTemplate.Shot> out = new ArrayList<>();
        for (Row r : df.limit(n).collectAsList()) {
            if (alpaca) {
                String in = cols.contains("input") ? r.getAs("input") : "";
                out.add(new PromptTemplate.Shot(r.getAs("instruction"), in == null ? "" : in, r.getAs("output")));
            } else {
                out.add(new PromptTemplate.Shot(r.getAs("prompt"), "", r.getAs("response")));
            }
        }
        if (out.size() < n) {
            throw new IllegalArgumentException("few-shot dataset " + input + " has " + out.size() + " rows, "
                    + n + " requested");
        }
        return out;
    }

    // ---------------------------------------------------------------- schema checks

    private void requireColumns(Dataset<Row> df, String what, String... needed) {
        List<String> present = Arrays.asList(df.columns());
        for (String c : needed) {
            if (!present.contains(c)) {
                throw new IllegalArgumentException("dataset " + input + " has no column " + userName(c)
                        + ", needed by the " + what + " format; columns present: " + userColumns(present)
                        + (columns.isEmpty() ? "; map yours with data.columns." + c + "=YOUR_COLUMN" : ""));
            }
        }
    }

    /** Declared column types (Parquet, tables); JSON lines are typed row by row. */
    private void requireStrings(Loaded in, List<String> cols) {
        if (in.json()) {
            return;
        }
        for (String c : cols) {
            DataType t = in.df().schema().apply(c).dataType();
            if (!t.equals(DataTypes.StringType)) {
                throw new IllegalArgumentException("column " + userName(c) + " of dataset " + input
                        + " has type " + t.simpleString() + ", expected string");
            }
        }
    }

    /** {@code elem} null: any numeric element type. Declared types only, as above. */
    private void requireArray(Loaded in, String c, DataType elem) {
        if (in.json()) {
            return;
        }
        DataType t = in.df().schema().apply(c).dataType();
        boolean ok = t instanceof ArrayType a
                && (elem == null ? a.elementType() instanceof NumericType : a.elementType().equals(elem));
        if (!ok) {
            throw new IllegalArgumentException("column " + userName(c) + " of dataset " + input + " has type "
                    + t.simpleString() + ", expected " + (elem == null ? "an array of integers" : "an array of strings"));
        }
    }

    private void requireMessages(Loaded in) {
        if (in.json()) {
            return;
        }
        DataType t = in.df().schema().apply("messages").dataType();
        if (t instanceof ArrayType a && a.elementType() instanceof StructType s) {
            Set<String> f = Set.of(s.fieldNames());
            if (f.contains("role") && f.contains("content")) {
                return;
            }
        }
        throw new IllegalArgumentException("column " + userName("messages") + " of dataset " + input
                + " has type " + t.simpleString() + ", expected an array of {role, content}");
    }

    // ---------------------------------------------------------------- conversion

    /** A row that cannot become an example; cheap (no stack trace). */
    static final class BadRow extends Exception {
        /** What kind of problem, without the row's values: the key the bad rows are counted by. */
        final String kind;

        /** A problem whose message holds no row values: the message is its kind. */
        BadRow(String reason) {
            this(reason, reason);
        }

        BadRow(String kind, String reason) {
            super(reason, null, false, false);
            this.kind = kind;
        }
    }

    /** Converts one row whose first columns are {@code use} (in order); the row's location is given. */
    interface Converter<T> extends Serializable {
        T convert(Row r, String source, long row) throws BadRow;
    }

    /** What pass 1 brings back from one partition: rows per file (in order seen) and bad rows. */
    record PartitionStats(int partition, LinkedHashMap<String, Long> rowsPerFile, long good,
                          long bad, Map<String, Long> badByKind, List<BadRowAt> firstBad) implements Serializable {}

    /** A bad row located by partition and its 1-based index among its file's rows in that partition. */
    record BadRowAt(String file, int partition, long localRow, String reason) implements Serializable {}

    private <T> Examples<T> convert(Loaded in, List<String> use, Converter<T> conv) {
        Dataset<Row> df = in.df();
        JavaRDD<Row> rows;
        if (in.json()) {
            rows = JsonLineRows.read(df.sparkSession(), input, use, columns, PROBLEM_COL, FILE_COL);
        } else {
            List<Column> sel = new ArrayList<>();
            for (String c : use) {
                sel.add(functions.col(c));
            }
            sel.add(functions.lit(null).cast(DataTypes.StringType).as(PROBLEM_COL));
            sel.add(functions.input_file_name().as(FILE_COL));
            rows = df.select(sel.toArray(new Column[0])).javaRDD();
        }
        int n = use.size();
        String fallbackSource = input;

        long t0 = System.nanoTime();
        List<PartitionStats> stats = rows.mapPartitionsWithIndex(new Validate<>(conv, n, fallbackSource), true).collect();
        double seconds = (System.nanoTime() - t0) / 1e9;
        // Per file, its rows are numbered in partition order: partition p's first row of file f is
        // row (rows of f in partitions < p) + 1.
        Map<Integer, Map<String, Long>> offsets = new LinkedHashMap<>();
        Map<String, Long> running = new LinkedHashMap<>();
        long good = 0;
        long bad = 0;
        Map<String, Long> badByKind = new java.util.TreeMap<>();
        List<BadRowAt> badRows = new ArrayList<>();
        for (PartitionStats s : stats) {
            Map<String, Long> start = new LinkedHashMap<>();
            for (Map.Entry<String, Long> e : s.rowsPerFile().entrySet()) {
                long before = running.getOrDefault(e.getKey(), 0L);
                start.put(e.getKey(), before);
                running.put(e.getKey(), before + e.getValue());
            }
            offsets.put(s.partition(), start);
            good += s.good();
            bad += s.bad();
            s.badByKind().forEach((k, c) -> badByKind.merge(k, c, Long::sum));
            badRows.addAll(s.firstBad());
        }
        List<String> named = new ArrayList<>();
        for (BadRowAt b : badRows) {
            if (named.size() == FIRST_BAD) {
                break;
            }
            long row = offsets.get(b.partition()).get(b.file()) + b.localRow();
            named.add(b.file() + " row " + row + ": " + b.reason());
        }
        long total = good + bad;
        if (total == 0) {
            throw new IllegalArgumentException("dataset " + input + " is empty (no rows)");
        }
        if (bad > 0 && onBadRow == OnBadRow.FAIL) {
            throw new IllegalArgumentException(bad + " bad row(s) of " + total + " in dataset " + input
                    + " (data.on_bad_row=fail; set drop to skip them); first: " + String.join("; ", named));
        }
        if (good == 0) {
            throw new IllegalArgumentException("dataset " + input + " has no usable rows: all " + total
                    + " are bad (" + countsByKind(badByKind) + "); first: " + String.join("; ", named));
        }
        if (bad > maxBadFraction * total) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%d of %d rows (%.1f%%) of dataset %s are bad, "
                    + "more than data.max_bad_fraction = %s allows (%s); first: %s. Fix the data (or its "
                    + "data.columns.* mapping), or raise data.max_bad_fraction", bad, total, 100.0 * bad / total,
                    input, maxBadFraction, countsByKind(badByKind), String.join("; ", named)));
        }
        if (bad > 0) {
            LOG.warn("dropped {} bad row(s) of {} in dataset {} ({}); first: {}", bad, total, input,
                    countsByKind(badByKind), String.join("; ", named));
        }
        LOG.info(String.format(Locale.ROOT, "dataset %s: %d rows read and checked in %.1f s (%.0f rows/s)", input, total,
                seconds, total / Math.max(seconds, 1e-9)));
        JavaRDD<T> out = rows.mapPartitionsWithIndex(new Convert<>(conv, n, fallbackSource, offsets), true);
        return new Examples<>(out, good, bad, java.util.Collections.unmodifiableMap(badByKind), List.copyOf(named));
    }

    /** "'response' is null: 3, malformed JSON (...): 1", most frequent first. */
    private static String countsByKind(Map<String, Long> byKind) {
        List<Map.Entry<String, Long>> e = new ArrayList<>(byKind.entrySet());
        e.sort(Map.Entry.<String, Long>comparingByValue().reversed());
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, Long> x : e) {
            out.add(x.getKey() + ": " + x.getValue());
        }
        return String.join(", ", out);
    }

    /**
     * The row's file (one String per file and partition), a plain path for local files, or the
     * dataset's name for tables without files.
     */
    private static String fileOf(Row r, int n, String fallback, Map<String, String> interned) {
        String f = r.getString(n + 1);
        if (f == null || f.isEmpty()) {
            f = fallback;
        }
        return interned.computeIfAbsent(f, DatasetSource::displayName);
    }

    /** "file:///tmp/a%20b.jsonl" -> "/tmp/a b.jsonl"; other URIs as they are. */
    static String displayName(String uri) {
        if (uri.startsWith("file:")) {
            try {
                return new java.net.URI(uri).getPath();
            } catch (java.net.URISyntaxException e) {
                return uri;
            }
        }
        return uri;
    }

    /** Pass 1: count rows per file, validate, and keep the first few bad rows. */
    private static final class Validate<T> implements Function2<Integer, Iterator<Row>, Iterator<PartitionStats>> {
        private final Converter<T> conv;
        private final int n;
        private final String fallback;

        Validate(Converter<T> conv, int n, String fallback) {
            this.conv = conv;
            this.n = n;
            this.fallback = fallback;
        }

        @Override
        public Iterator<PartitionStats> call(Integer partition, Iterator<Row> it) {
            LinkedHashMap<String, Long> perFile = new LinkedHashMap<>();
            Map<String, String> interned = new LinkedHashMap<>();
            long good = 0;
            long bad = 0;
            Map<String, Long> byKind = new java.util.TreeMap<>();
            List<BadRowAt> first = new ArrayList<>();
            while (it.hasNext()) {
                Row r = it.next();
                String file = fileOf(r, n, fallback, interned);
                long local = perFile.merge(file, 1L, Long::sum);
                try {
                    checkProblem(r, n);
                    conv.convert(r, file, local);
                    good++;
                } catch (BadRow e) {
                    bad++;
                    byKind.merge(e.kind, 1L, Long::sum);
                    if (first.size() < FIRST_BAD) {
                        first.add(new BadRowAt(file, partition, local, e.getMessage()));
                    }
                }
            }
            return List.of(new PartitionStats(partition, perFile, good, bad, byKind, first)).iterator();
        }
    }

    /** Pass 2: number the rows within their files and convert the good ones. */
    private static final class Convert<T> implements Function2<Integer, Iterator<Row>, Iterator<T>> {
        private final Converter<T> conv;
        private final int n;
        private final String fallback;
        private final Map<Integer, Map<String, Long>> offsets;

        Convert(Converter<T> conv, int n, String fallback, Map<Integer, Map<String, Long>> offsets) {
            this.conv = conv;
            this.n = n;
            this.fallback = fallback;
            this.offsets = offsets;
        }

        @Override
        public Iterator<T> call(Integer partition, Iterator<Row> it) {
            Map<String, Long> start = offsets.getOrDefault(partition, Map.of());
            Map<String, Long> seen = new LinkedHashMap<>();
            Map<String, String> interned = new LinkedHashMap<>();
            return new Iterator<T>() {
                T next = advance();

                private T advance() {
                    while (it.hasNext()) {
                        Row r = it.next();
                        String file = fileOf(r, n, fallback, interned);
                        long row = start.getOrDefault(file, 0L) + seen.merge(file, 1L, Long::sum);
                        try {
                            checkProblem(r, n);
                            return conv.convert(r, file, row);
                        } catch (BadRow e) {
                            // counted and reported by pass 1
                        }
                    }
                    return null;
                }

                @Override
                public boolean hasNext() {
                    return next != null;
                }

                @Override
                public T next() {
                    if (next == null) {
                        throw new java.util.NoSuchElementException();
                    }
                    T t = next;
                    next = advance();
                    return t;
                }
            };
        }
    }

    /** The row's problem column (a malformed line, a value of the wrong JSON type), as a bad row. */
    private static void checkProblem(Row r, int n) throws BadRow {
        String problem = r.getString(n);
        if (problem != null) {
            int colon = problem.indexOf(": ");
            throw new BadRow(colon < 0 ? problem : problem.substring(0, colon), problem);
        }
    }

    /** A non-empty string column; {@code name} is our column name, for the message. */
    static String text(Row r, int i, String name) throws BadRow {
        if (r.isNullAt(i)) {
            throw new BadRow("'" + name + "' is null");
        }
        String s = r.getString(i);
        if (s.isBlank()) {
            throw new BadRow("'" + name + "' is empty");
        }
        return s;
    }

    private record PromptResponseConverter(PromptTemplate template) implements Converter<Demonstration> {
        @Override
        public Demonstration convert(Row r, String source, long row) throws BadRow {
            return new Demonstration(template.format(text(r, 0, "prompt")), text(r, 1, "response"), source, row);
        }
    }

    /** Columns: instruction, output, [input]. */
    private record AlpacaConverter(PromptTemplate template) implements Converter<Demonstration> {
        @Override
        public Demonstration convert(Row r, String source, long row) throws BadRow {
            String in = r.length() > 4 && !r.isNullAt(2) ? r.getString(2) : "";
            return new Demonstration(template.format(text(r, 0, "instruction"), in), text(r, 1, "output"), source, row);
        }
    }

    private record ChatConverter() implements Converter<Demonstration> {
        @Override
        public Demonstration convert(Row r, String source, long row) throws BadRow {
            if (r.isNullAt(0)) {
                throw new BadRow("'messages' is null");
            }
            List<Row> msgs = r.getList(0);
            int last = -1;
            for (int i = 0; i < msgs.size(); i++) {
                Row m = msgs.get(i);
                if (m == null || m.getAs("role") == null || m.getAs("content") == null) {
                    throw new BadRow("a message has no role or no content", "message " + i + " has no role or no content");
                }
                if ("assistant".equals(m.getAs("role"))) {
                    last = i;
                }
            }
            if (last < 0) {
                throw new BadRow("no assistant message");
            }
            String response = msgs.get(last).getAs("content");
            if (response.isBlank()) {
                throw new BadRow("last assistant message is empty");
            }
            StringBuilder prompt = new StringBuilder();
            for (int i = 0; i < last; i++) {
                Row m = msgs.get(i);
                prompt.append(ChatTemplate.turn(m.getAs("role"), m.getAs("content")));
            }
            prompt.append(ChatTemplate.assistantHeader());
            return new Demonstration(prompt.toString(), response, source, row);
        }
    }

    /** Columns: prompt, or instruction[, input]; then [reference]. -1: no such column. */
    private record PromptConverter(PromptTemplate template, int inputAt, int referenceAt) implements Converter<Prompt> {
        @Override
        public Prompt convert(Row r, String source, long row) throws BadRow {
            String first = r.schema().fieldNames()[0];
            String in = inputAt >= 0 && !r.isNullAt(inputAt) ? r.getString(inputAt) : "";
            String reference = referenceAt >= 0 && !r.isNullAt(referenceAt) ? r.getString(referenceAt) : null;
            return new Prompt(template.format(text(r, 0, first), in), source, row, reference);
        }
    }

    /** Columns: prompt, chosen, rejected, [margin]. */
    private record PairConverter() implements Converter<PreferencePair> {
        @Override
        public PreferencePair convert(Row r, String source, long row) throws BadRow {
            String chosen = text(r, 1, "chosen");
            String rejected = text(r, 2, "rejected");
            if (chosen.equals(rejected)) {
                throw new BadRow("'chosen' and 'rejected' are identical");
            }
            float margin = 0f;
            if (r.length() > 5 && !r.isNullAt(3)) {
                margin = ((Number) r.get(3)).floatValue();
                if (!Float.isFinite(margin)) {
                    throw new BadRow("'margin' is not finite");
                }
            }
            return new PreferencePair(text(r, 0, "prompt"), chosen, rejected, margin, source, row);
        }
    }

    /** Columns: prompt, responses, ranking. */
    private record RankingConverter() implements Converter<Ranking> {
        @Override
        public Ranking convert(Row r, String source, long row) throws BadRow {
            String prompt = text(r, 0, "prompt");
            if (r.isNullAt(1) || r.isNullAt(2)) {
                throw new BadRow("'" + (r.isNullAt(1) ? "responses" : "ranking") + "' is null");
            }
            List<String> resp = r.getList(1);
            List<Object> rank = r.getList(2);
            int k = resp.size();
            if (k < 2) {
                throw new BadRow("fewer than 2 responses", "a ranking needs at least 2 responses, found " + k);
            }
            if (rank.size() != k) {
                throw new BadRow("'ranking' and 'responses' differ in length",
                        "'ranking' has " + rank.size() + " entries for " + k + " responses");
            }
            String[] responses = new String[k];
            int[] ranks = new int[k];
            int min = Integer.MAX_VALUE;
            for (int i = 0; i < k; i++) {
                String s = resp.get(i);
                if (s == null || s.isBlank()) {
                    throw new BadRow("a response is null or empty", "response " + i + " is null or empty");
                }
                responses[i] = s;
                if (rank.get(i) == null) {
                    throw new BadRow("a rank is null", "rank " + i + " is null");
                }
                // a JSON array holding 0.5 is read as doubles: a rank that is not a whole number is a
                // bad row, not one truncated to the next integer
                double x = ((Number) rank.get(i)).doubleValue();
                if (x != Math.rint(x) || Math.abs(x) > Integer.MAX_VALUE) {
                    throw new BadRow("a rank is not a whole number", "rank " + i + " is " + rank.get(i) + ", not a whole number; 'ranking' " + rank
                            + " must be a permutation of 0.." + (k - 1) + " or 1.." + k);
                }
                ranks[i] = (int) x;
                min = Math.min(min, ranks[i]);
            }
            boolean[] seen = new boolean[k];
            for (int i = 0; i < k; i++) {
                int v = ranks[i] - min;
                if ((min != 0 && min != 1) || v >= k || seen[v]) {
                    throw new BadRow("'ranking' is not a permutation", "'ranking' " + rank + " is not a permutation of 0.." + (k - 1)
                            + " or 1.." + k);
                }
                seen[v] = true;
                ranks[i] = v;
            }
            return new Ranking(prompt, responses, ranks, source, row);
        }
    }

    /**
     * Columns: prompt, chosen, rejected, responses, ranking, [margin]. A row is a pair or a ranking
     * by which of its columns are set; both or neither is a bad row.
     */
    private record MixedConverter(boolean margin, PairConverter pairs, RankingConverter rankings)
            implements Converter<Preference> {
        MixedConverter(boolean margin) {
            this(margin, new PairConverter(), new RankingConverter());
        }

        @Override
        public Preference convert(Row r, String source, long row) throws BadRow {
            boolean pair = !r.isNullAt(1) || !r.isNullAt(2);
            boolean ranking = !r.isNullAt(3) || !r.isNullAt(4);
            if (pair == ranking) {
                throw new BadRow(pair ? "both a pair and a ranking" : "neither a pair nor a ranking",
                        (pair ? "both chosen/rejected and responses/ranking are set" : "neither chosen/rejected nor responses/ranking is set")
                                + "; a row of a dataset with both formats is one or the other");
            }
            // the problem and file columns stay last, where the converters of one format find them
            int n = r.length();
            if (pair) {
                return pairs.convert(margin
                        ? RowFactory.create(r.get(0), r.get(1), r.get(2), r.get(5), r.get(n - 2), r.get(n - 1))
                        : RowFactory.create(r.get(0), r.get(1), r.get(2), r.get(n - 2), r.get(n - 1)), source, row);
            }
            if (margin && !r.isNullAt(5)) {
                throw new BadRow("'margin' on a ranking", "'margin' is set on a ranking row; margins go with chosen/rejected pairs");
            }
            return rankings.convert(RowFactory.create(r.get(0), r.get(3), r.get(4), r.get(n - 2), r.get(n - 1)),
                    source, row);
        }
    }
}
