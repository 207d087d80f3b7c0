package rlhf.config;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A job's typed configuration: defaults, then the user's file, then command-line overrides.
 *
 * <p>Every job has one defaults file, {@code conf/<job>.properties}, listing EVERY key the job
 * reads with its default value and, in the comment lines just above it, what it means. That file
 * is the single source of defaults and of documentation ({@code --help} prints it). It is found
 * as the class-path resource {@code conf/<job>.properties} (the build copies conf/ into the jar)
 * or, failing that, as the file {@code conf/<job>.properties} under the working directory.
 *
 * <p>Precedence, lowest first: the defaults file; the user's {@code --config FILE} (a properties
 * file on any Hadoop path or local); each {@code --set key=value} in command-line order. A key
 * the defaults file does not declare is an error that names the key, where it was found (file
 * and line, or {@code --set}) and the closest declared key. Keys starting with {@code spark.}
 * are the exception: they are passed to Spark as they are (see {@link SparkSessions}), since
 * Spark has hundreds of them.
 *
 * <p>File syntax: one {@code key = value} (or {@code key=value}, {@code key: value}) per line;
 * lines starting with {@code #} or {@code !} are comments; no line continuations or escapes.
 * Values are trimmed; an empty value means "not set" for optional paths and lists.
 */
public final class JobConfig {

    /** A declared key: its default and its meaning (the comment above it in the defaults file). */
    public record Key(String name, String defaultValue, String doc) {}

    private final String defaultsName;
    private final LinkedHashMap<String, Key> known = new LinkedHashMap<>();
    private final LinkedHashMap<String, String> values = new LinkedHashMap<>();
    /** key -> where its current value came from, e.g. "my.properties line 3" or "--set". */
    private final Map<String, String> sources = new LinkedHashMap<>();
    /** Keys given by the user (file or --set), as opposed to the defaults file. */
    private final Set<String> userSet = new java.util.LinkedHashSet<>();

    private JobConfig(String defaultsName) {
        this.defaultsName = defaultsName;
    }

    // ---------------------------------------------------------------- loading

    /** Defaults, then the user's file (may be null), then the {@code key=value} overrides. */
    public static JobConfig load(String job, String userFile, List<String> sets) {
        JobConfig c = defaults(job);
        if (userFile != null) {
            c.applyFile(userFile);
        }
        c.applySets(sets);
        return c;
    }

    /** {@link #load(String, String, List)} with the file and overrides of a parsed command line. */
    public static JobConfig load(String job, Args args) {
        return load(job, args.configFile(), args.sets());
    }

    /** The defaults of a job: resource {@code conf/<job>.properties}, else that file under the working directory. */
    public static JobConfig defaults(String job) {
        String resource = "conf/" + job + ".properties";
        InputStream in = JobConfig.class.getClassLoader().getResourceAsStream(resource);
        if (in != null) {
            try (Reader r = utf8(in)) {
                return parseDefaults(resource, r);
            } catch (IOException e) {
                throw new ConfigException("cannot read defaults resource " + resource + ": " + e.getMessage(), e);
            }
        }
        java.nio.file.Path local = java.nio.file.Path.of(resource);
        if (Files.isRegularFile(local)) {
            return defaultsFromPath(local.toString());
        }
        throw new ConfigException("no defaults for job '" + job + "': neither the class-path resource "
                + resource + " nor the file " + local.toAbsolutePath() + " exists");
    }

    /** The defaults from a properties file at any Hadoop or local path. */
    public static JobConfig defaultsFromPath(String path) {
        try (Reader r = open(path)) {
            return parseDefaults(path, r);
        } catch (IOException e) {
            throw new ConfigException("cannot read defaults file " + path + ": " + e.getMessage(), e);
        }
    }

    /** Defaults from text (tests, embedded configurations); {@code name} is used in messages. */
    public static JobConfig defaultsFromText(String name, String text) {
        try {
            return parseDefaults(name, new java.io.StringReader(text));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The defaults from {@code reader}; {@code name} is used in messages. */
    static JobConfig parseDefaults(String name, Reader reader) throws IOException {
        JobConfig c = new JobConfig(name);
        List<String> doc = new ArrayList<>();
        for (Line l : parse(name, reader, doc)) {
            if (c.known.containsKey(l.key)) {
                throw new ConfigException("key '" + l.key + "' declared twice in defaults " + name
                        + " (again at line " + l.number + ")");
            }
            c.known.put(l.key, new Key(l.key, l.value, l.doc));
            c.values.put(l.key, l.value);
            c.sources.put(l.key, "defaults " + name + " line " + l.number);
        }
        return c;
    }

    /** Applies a user properties file (any Hadoop path or local); unknown keys are errors. */
    public JobConfig applyFile(String path) {
        try (Reader r = open(path)) {
            return applyFile(path, r);
        } catch (IOException e) {
            throw new ConfigException("cannot read config file " + path + ": " + e.getMessage(), e);
        }
    }

    /** Applies the properties text of {@code reader}, read from {@code path}. */
    JobConfig applyFile(String path, Reader reader) throws IOException {
        String shortName = path.substring(path.lastIndexOf('/') + 1);
        for (Line l : parse(path, reader, new ArrayList<>())) {
            put(l.key, l.value, shortName + " line " + l.number);
        }
        return this;
    }

    /** Applies {@code key=value} overrides in order; unknown keys and missing '=' are errors. */
    public JobConfig applySets(List<String> sets) {
        for (String s : sets) {
            int eq = s.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException("--set expects key=value, found '" + s + "'");
            }
            put(s.substring(0, eq).trim(), s.substring(eq + 1).trim(), "--set");
        }
        return this;
    }

    /** Sets a declared key from code (tests, jobs deriving a value); {@code source} is shown in messages. */
    public JobConfig set(String key, String value, String source) {
        put(key, value, source);
        return this;
    }

    private void put(String key, String value, String source) {
        if (!known.containsKey(key) && !key.startsWith("spark.")) {
            throw new ConfigException("unknown config key '" + key + "' in " + source
                    + "; did you mean '" + closestKey(key) + "'? (--help lists every key of " + defaultsName + ")");
        }
        values.put(key, value);
        sources.put(key, source);
        userSet.add(key);
    }

    /**
     * The declared key nearest to {@code key} in edit distance (ties: the first declared); a
     * declared key that extends the given one (a truncated name) counts as distance 1.
     */
    String closestKey(String key) {
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String k : known.keySet()) {
            int d = k.startsWith(key) ? Math.min(1, editDistance(key, k)) : editDistance(key, k);
            if (d < bestD) {
                bestD = d;
                best = k;
            }
        }
        return best;
    }

    /** Levenshtein distance: insertions, deletions and substitutions of one character cost 1. */
    static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j], cur[j - 1]) + 1);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    private record Line(String key, String value, int number, String doc) {}

    /** Parses key/value lines; {@code doc} collects the comment block just above each key. */
    private static List<Line> parse(String name, Reader reader, List<String> doc) throws IOException {
        List<Line> out = new ArrayList<>();
        BufferedReader br = new BufferedReader(reader);
        String raw;
        int n = 0;
        while ((raw = nextLine(name, br, n)) != null) {
            n++;
            String s = raw.strip();
            if (s.isEmpty()) {
                doc.clear();
                continue;
            }
            if (s.startsWith("#") || s.startsWith("!")) {
                doc.add(s.substring(1).strip());
                continue;
            }
            int eq = s.indexOf('=');
            int colon = s.indexOf(':');
            int sep = eq < 0 ? colon : (colon < 0 ? eq : Math.min(eq, colon));
            if (sep <= 0) {
                throw new ConfigException(name + " line " + n + ": expected 'key = value', found '" + s + "'");
            }
            out.add(new Line(s.substring(0, sep).strip(), s.substring(sep + 1).strip(), n, String.join(" ", doc)));
            doc.clear();
        }
        return out;
    }

    /** The next line, or null at the end; bytes that are not UTF-8 are an error naming the file. */
    private static String nextLine(String name, BufferedReader br, int linesRead) throws IOException {
        try {
            return br.readLine();
        } catch (CharacterCodingException e) {
            // the reader decodes ahead of the lines it returns: the bad bytes are on this line or a later one
            throw new ConfigException(name + ": not valid UTF-8 (at or after line " + (linesRead + 1) + ")", e);
        }
    }

    private static Reader open(String path) throws IOException {
        Path p = new Path(path);
        FileSystem fs = p.getFileSystem(new Configuration());
        return utf8(fs.open(p));
    }

    /**
     * UTF-8 decoded strictly: a lenient reader turns bytes that are not UTF-8 (a file saved as
     * Latin-1) into U+FFFD, and a path with an accented letter would be used mangled without a word.
     */
    static Reader utf8(InputStream in) {
        return new InputStreamReader(in, StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT));
    }

    // ---------------------------------------------------------------- typed getters

    /** The raw (trimmed) value; the key must be declared (or be a spark.* key that was set). */
    public String getString(String key) {
        String v = values.get(key);
        if (v == null) {
            if (known.containsKey(key) || key.startsWith("spark.")) {
                throw new ConfigException("config key '" + key + "' is not set");
            }
            throw new ConfigException("the job asked for config key '" + key + "', which " + defaultsName
                    + " does not declare (closest: '" + closestKey(key) + "')");
        }
        return v;
    }

    public int getInt(String key) {
        String v = getString(key);
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw bad(key, v, "an integer");
        }
    }

    public long getLong(String key) {
        String v = getString(key);
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw bad(key, v, "an integer");
        }
    }

    /** A finite float; "1e-4", "0.5" and "3" are all accepted. */
    public float getFloat(String key) {
        double d = getDouble(key);
        float f = (float) d;
        if (Float.isInfinite(f)) {
            throw bad(key, getString(key), "a number within float range");
        }
        return f;
    }

    /** A finite double (NaN and Infinity are rejected). */
    public double getDouble(String key) {
        String v = getString(key);
        double d;
        try {
            d = Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw bad(key, v, "a number");
        }
        if (!Double.isFinite(d)) {
            throw bad(key, v, "a finite number");
        }
        return d;
    }

    /** {@code true} or {@code false}, case-insensitive; nothing else. */
    public boolean getBoolean(String key) {
        String v = getString(key);
        if (v.equalsIgnoreCase("true")) {
            return true;
        }
        if (v.equalsIgnoreCase("false")) {
            return false;
        }
        throw bad(key, v, "true or false");
    }

    /** The enum constant named by the value, case-insensitive, '-' read as '_'. */
    public <E extends Enum<E>> E getEnum(String key, Class<E> type) {
        String v = getString(key);
        String norm = v.replace('-', '_').toUpperCase(Locale.ROOT);
        for (E e : type.getEnumConstants()) {
            if (e.name().equals(norm)) {
                return e;
            }
        }
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) {
            names.add(e.name().toLowerCase(Locale.ROOT));
        }
        throw bad(key, v, "one of " + String.join("|", names));
    }

    /** A non-empty path or URI (any Hadoop file system); use {@link #getOptional} where it may be empty. */
    public String getPath(String key) {
        String v = getString(key);
        if (v.isEmpty()) {
            throw bad(key, v, "a path (file, directory or URI)");
        }
        return v;
    }

    /** The value, or empty when it is the empty string. */
    public Optional<String> getOptional(String key) {
        String v = getString(key);
        return v.isEmpty() ? Optional.empty() : Optional.of(v);
    }

    /** Comma-separated items, each trimmed; empty items dropped; "" is the empty list. */
    public List<String> getList(String key) {
        List<String> out = new ArrayList<>();
        for (String s : getString(key).split(",")) {
            String t = s.strip();
            if (!t.isEmpty()) {
                out.add(t);
            }
        }
        return out;
    }

    /** Checks a numeric key is > 0 and returns it. */
    public double requirePositive(String key) {
        double d = getDouble(key);
        if (!(d > 0)) {
            throw bad(key, getString(key), "a number > 0");
        }
        return d;
    }

    /** Checks a numeric key is in [min, max] (inclusive) and returns it. */
    public double requireIn(String key, double min, double max) {
        double d = getDouble(key);
        if (d < min || d > max) {
            throw bad(key, getString(key), "a number in [" + fmt(min) + ", " + fmt(max) + "]");
        }
        return d;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }

    private ConfigException bad(String key, String value, String expected) {
        return new ConfigException("config key '" + key + "' = \"" + value + "\" (from " + sources.get(key)
                + "): expected " + expected);
    }

    // ---------------------------------------------------------------- introspection

    public boolean isDeclared(String key) {
        return known.containsKey(key);
    }

    /** True when the user's file or a --set gave the key (not only the defaults file). */
    public boolean isUserSet(String key) {
        return userSet.contains(key);
    }

    /** Where the current value of {@code key} came from ("defaults ... line 4", "x.properties line 2", "--set"). */
    public String source(String key) {
        return sources.get(key);
    }

    /** The declared keys, in the order of the defaults file. */
    public Map<String, Key> keys() {
        return Collections.unmodifiableMap(known);
    }

    /** Every current value (declared keys in file order, then spark.* extras), e.g. to save with a checkpoint. */
    public Map<String, String> values() {
        return Collections.unmodifiableMap(values);
    }

    /** The non-empty {@code spark.*} values: declared ones and extras the user set. */
    public Map<String, String> sparkValues() {
        Map<String, String> out = new LinkedHashMap<>();
        values.forEach((k, v) -> {
            if (k.startsWith("spark.") && !v.isEmpty()) {
                out.put(k, v);
            }
        });
        return out;
    }

    /** Every declared key with its default and meaning, for --help. */
    public String usage() {
        StringBuilder sb = new StringBuilder("configuration keys (" + defaultsName
                + "; change with --config FILE or --set key=value):\n");
        for (Key k : known.values()) {
            sb.append("  ").append(k.name()).append(" = ").append(k.defaultValue().isEmpty() ? "(empty)" : k.defaultValue())
                    .append('\n');
            if (!k.doc().isEmpty()) {
                sb.append("      ").append(k.doc()).append('\n');
            }
        }
        return sb.toString();
    }

    /** The effective configuration, one "key = value   (source)" line per key the user changed, for the log. */
    public String describeChanges() {
        StringBuilder sb = new StringBuilder();
        for (String k : userSet) {
            sb.append(k).append(" = ").append(values.get(k)).append("   (").append(sources.get(k)).append(")\n");
        }
        return sb.toString();
    }
}
