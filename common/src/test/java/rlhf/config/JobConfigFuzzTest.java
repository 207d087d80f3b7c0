package rlhf.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import rlhf.io.TextFiles;
import rlhf.testing.Fuzz;
import rlhf.testing.Fuzz.Invalid;
import rlhf.testing.Mutate;

/**
 * Seeded fuzzing of job configuration: 10,000 cases of mutated defaults files (the test job's and
 * the real SFT job's), users' {@code --config} files (declared, misspelt and {@code spark.*} keys,
 * every separator, comments, blank lines, odd whitespace, line endings, backslashes, truncation,
 * byte flips, invalid UTF-8) and {@code --set} overrides, each loaded by {@link JobConfig} and then
 * read through every typed getter. Proves that each is either refused with a
 * {@link ConfigException} naming the file (or {@code --set}, or the key), or gives exactly the
 * values and sources an independent reading of the documented syntax gives, which, for files
 * {@link Properties} reads the same way (no escapes, no spaces in keys), is also what
 * {@link Properties#load} gives; and that no getter throws anything but a ConfigException naming
 * its key. A configuration read wrong runs a job with settings nobody asked for.
 */
class JobConfigFuzzTest {

    private static final long SEED = 20261211L;
    private static final int CASES = 10_000;

    private enum Schedule { COSINE, LINEAR, CONSTANT }

    @TempDir
    Path tmp;

    private record Defaults(String name, String text, Map<String, String> values) {
        Defaults(String name, String text) throws Invalid {
            this(name, text, parseLines(text, null));
        }
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = JobConfigFuzzTest.class.getClassLoader().getResourceAsStream(name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void everyMutatedConfigurationIsRefusedNamingWhereOrReadAsTheSyntaxSays() throws Exception {
        List<Defaults> bases = List.of(new Defaults("testjob.properties", resource("conf/testjob.properties")),
                new Defaults("sft.properties", resource("conf/sft.properties")));
        for (Defaults b : bases) {
            byte[] text = Mutate.utf8(b.text());
            assertEquals(Fuzz.Outcome.LOADED, check(write(b.name(), text), text, null, null, List.of(), true, Map.of()),
                    "the unmutated defaults load");
        }
        Fuzz.run("job config", SEED, CASES, (caseNo, r) -> {
            Defaults base = bases.get(r.nextInt(bases.size()));
            Map<String, String> baseValues = base.values();
            List<String> keys = new ArrayList<>(baseValues.keySet());
            byte[] defaults = Mutate.utf8(base.text());
            byte[] user = null;
            List<String> sets = new ArrayList<>();
            switch (r.nextInt(6)) {
                case 0 -> defaults = mutateText(defaults, keys, r);
                case 1, 2, 3 -> user = mutateText(Mutate.utf8(userLines(keys, r)), keys, r);
                case 4 -> sets = sets(keys, r);
                default -> {
                    user = Mutate.utf8(userLines(keys, r));
                    sets = sets(keys, r);
                }
            }
            // one case in 200 through files, the rest from the same bytes in memory: each file is
            // opened through a new Hadoop Configuration, which parses its XML defaults, too slow for all
            boolean files = r.nextInt(200) == 0;
            String defaultsFile = files ? write(caseNo + "-" + base.name(), defaults) : "conf/" + base.name();
            String userFile = user == null ? null : files ? write(caseNo + "-user.properties", user) : "my.properties";
            return check(defaultsFile, defaults, userFile, user, sets, files, baseValues);
        });
    }

    /** Defaults, then the user's file, then the overrides; from the files, or the same bytes in memory. */
    private static JobConfig load(String defaultsFile, byte[] defaults, String userFile, byte[] user,
            List<String> sets, boolean files) throws IOException {
        JobConfig c = files ? JobConfig.defaultsFromPath(defaultsFile)
                : JobConfig.parseDefaults(defaultsFile, JobConfig.utf8(new ByteArrayInputStream(defaults)));
        if (userFile != null) {
            if (files) {
                c.applyFile(userFile);
            } else {
                c.applyFile(userFile, JobConfig.utf8(new ByteArrayInputStream(user)));
            }
        }
        return c.applySets(sets);
    }

    private String write(String name, byte[] content) throws IOException {
        Path p = tmp.resolve(name);
        Files.write(p, content);
        return p.toString();
    }

    // ---------------------------------------------------------------- mutations

    /** A user's file: declared keys, misspelt ones, spark.* keys, comments and blank lines. */
    private static String userLines(List<String> keys, Random r) {
        StringBuilder s = new StringBuilder();
        for (int n = r.nextInt(6); n > 0; n--) {
            String key = Mutate.pick(r, keys.get(r.nextInt(keys.size())), keys.get(r.nextInt(keys.size())),
                    "spark.executor.memory", "train.lerning_rate", keys.get(r.nextInt(keys.size())) + "x", "a b");
            String value = Mutate.pick(r, "1", "-3", "0.5", "1e-4", "1e999", "NaN", "true", "FALSE", "", "x,y, ,z",
                    "cosine", "Linear", "hdfs://nn:8020/a b", "a=b:c", "# not a comment", "\u00e9\u4e2d", "0x10",
                    "2147483648", "9223372036854775808", " 7 ", "c:\\\\dir", "1d");
            String sep = Mutate.pick(r, " = ", "=", ": ", ":", "\t=\t", " ");
            s.append(Mutate.pick(r, "", "", "  ", "\t")).append(key).append(sep).append(value)
                    .append(Mutate.pick(r, "\n", "\n", "\r\n", "\r", "\n\n", "\n# comment\n", "\n! bang\n"));
        }
        return s.toString();
    }

    /** Line-level and byte-level edits of a properties text. */
    private static byte[] mutateText(byte[] text, List<String> keys, Random r) {
        String s = new String(text, StandardCharsets.UTF_8);
        List<String> lines = new ArrayList<>(List.of(s.split("\n", -1)));
        int at = r.nextInt(lines.size());
        switch (r.nextInt(10)) {
            case 0 -> lines.add(at, lines.get(r.nextInt(lines.size())));
            case 1 -> lines.set(at, lines.get(at).replaceFirst("[=:]", Mutate.pick(r, " ", "", "==", " := ")));
            case 2 -> lines.set(at, Mutate.pick(r, "=", ":", "=x", " = ", "\\", "key\\", "\f\u2003" + lines.get(at),
                    "\u00a0" + lines.get(at), "\ufeff" + lines.get(at), lines.get(at) + " \\"));
            case 3 -> lines.add(at, keys.get(r.nextInt(keys.size())) + Mutate.pick(r, " = \u0000", " = \u2028 ", "="));
            case 4 -> lines.remove(at);
            case 5 -> {
                return Mutate.utf8(String.join(Mutate.pick(r, "\r\n", "\r"), lines));
            }
            default -> {
                return Mutate.bytes(text, r);
            }
        }
        return Mutate.utf8(String.join("\n", lines));
    }

    private static List<String> sets(List<String> keys, Random r) {
        List<String> out = new ArrayList<>();
        for (int n = 1 + r.nextInt(3); n > 0; n--) {
            String key = keys.get(r.nextInt(keys.size()));
            out.add(Mutate.pick(r, key + "=2", key + " = x ", key + "=", "=1", key, " " + key + "=a=b",
                    "spark.sql.shuffle.partitions=4", key.toUpperCase() + "=1", "\t=\t", key + ":3"));
        }
        return out;
    }

    // ---------------------------------------------------------------- checking

    private static Fuzz.Outcome check(String defaultsFile, byte[] defaults, String userFile, byte[] user,
            List<String> sets, boolean files, Map<String, String> baseValues) throws IOException {
        Fuzz.Expectation<Expected> expectation = Fuzz.expect(() -> expected(defaultsFile, defaults, userFile, user, sets));
        Expected expected = expectation.value();
        String whyNot = expectation.whyNot();
        JobConfig c;
        try {
            c = load(defaultsFile, defaults, userFile, user, sets, files);
        } catch (ConfigException e) {
            String m = e.getMessage();
            if (!m.contains(name(defaultsFile)) && !(userFile != null && m.contains(name(userFile)))
                    && !(!sets.isEmpty() && m.contains("--set"))) {
                throw new AssertionError("the error names no file and no --set: " + m, e);
            }
            return Fuzz.Outcome.REFUSED;
        }
        if (expected == null) {
            throw new AssertionError("read a configuration the syntax refuses (" + whyNot + "): " + c.values());
        }
        assertEquals(List.copyOf(expected.values().entrySet()), List.copyOf(c.values().entrySet()), "values");
        for (String key : expected.sources().keySet()) {
            assertEquals(expected.sources().get(key), c.source(key), "source of " + key);
        }
        // the getters on the values this case changed (all of them for the unmutated defaults):
        // the others are the same every case, and each getter refusing a value costs an exception
        for (String key : c.keys().keySet()) {
            if (baseValues.isEmpty() || c.isUserSet(key) || !c.getString(key).equals(baseValues.get(key))) {
                everyGetter(c, key);
            }
        }
        return Fuzz.Outcome.LOADED;
    }

    /** Every typed getter on the key: a value, or a ConfigException naming the key, nothing else. */
    private static void everyGetter(JobConfig c, String key) {
        List<Consumer<String>> getters = List.of(c::getString, c::getInt, c::getLong, c::getDouble, c::getFloat,
                c::getBoolean, c::getList, c::getPath, c::getOptional, c::requirePositive, k -> c.requireIn(k, 0, 1), k -> c.getEnum(k, Schedule.class));
        for (Consumer<String> g : getters) {
            try {
                g.accept(key);
            } catch (ConfigException e) {
                if (!e.getMessage().contains("'" + key + "'")) {
                    throw new AssertionError("a getter's error does not name the key " + key + ": " + e.getMessage(), e);
                }
            }
        }
        String v = c.getString(key);
        boolean isBoolean = v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false");
        try {
            assertEquals(v.equalsIgnoreCase("true"), c.getBoolean(key), key);
        } catch (ConfigException e) {
            assertEquals(false, isBoolean, "a boolean refused: " + e.getMessage());
        }
        List<String> items = new ArrayList<>();
        for (String item : v.split(",")) {
            if (!item.strip().isEmpty()) {
                items.add(item.strip());
            }
        }
        assertEquals(items, c.getList(key), key);
    }

    private static String name(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    // ---------------------------------------------------------------- the reference reading

    private record Expected(Map<String, String> values, Map<String, String> sources) {
    }

    /** One "key = value" line of a file, numbered from 1. */
    private record Line(String key, String value, int number) {
    }

    /**
     * The documented syntax: lines end at \n, \r or \r\n; a stripped line that is empty or starts
     * with # or ! is skipped; otherwise it splits at its first '=' or ':', which must follow a
     * non-empty key; key and value are stripped. The lines in order, or (with {@code lines} null) a
     * key -> value map of them.
     */
    private static Map<String, String> parseLines(String text, List<Line> lines) throws Invalid {
        Map<String, String> out = new LinkedHashMap<>();
        List<String> raw = new BufferedReader(new StringReader(text)).lines().toList();
        for (int i = 0; i < raw.size(); i++) {
            String s = raw.get(i).strip();
            if (s.isEmpty() || s.startsWith("#") || s.startsWith("!")) {
                continue;
            }
            int sep = -1;
            for (int j = 0; j < s.length() && sep < 0; j++) {
                sep = s.charAt(j) == '=' || s.charAt(j) == ':' ? j : -1;
            }
            if (sep <= 0) {
                throw new Invalid("line " + (i + 1) + " has no key");
            }
            Line l = new Line(s.substring(0, sep).strip(), s.substring(sep + 1).strip(), i + 1);
            if (lines != null) {
                lines.add(l);
            }
            out.put(l.key(), l.value());
        }
        return out;
    }

    private static String utf8(byte[] bytes) throws Invalid {
        String s = new TextFiles.StrictUtf8().decode(bytes);
        if (s == null) {
            throw new Invalid("not UTF-8");
        }
        return s;
    }

    private static Expected expected(String defaultsFile, byte[] defaults, String userFile, byte[] user,
            List<String> sets) throws Invalid {
        Map<String, String> values = new LinkedHashMap<>();
        Map<String, String> sources = new LinkedHashMap<>();
        List<Line> lines = new ArrayList<>();
        parseLines(utf8(defaults), lines);
        for (Line l : lines) {
            if (values.containsKey(l.key())) {
                throw new Invalid("declared twice: " + l.key());
            }
            values.put(l.key(), l.value());
            sources.put(l.key(), "defaults " + defaultsFile + " line " + l.number());
        }
        Map<String, String> declared = Map.copyOf(values);
        if (user != null) {
            lines.clear();
            String text = utf8(user);
            parseLines(text, lines);
            for (Line l : lines) {
                override(declared, values, sources, l.key(), l.value(), name(userFile) + " line " + l.number());
            }
            propertiesAgree(text, lines);
        }
        for (String s : sets) {
            int eq = s.indexOf('=');
            if (eq <= 0) {
                throw new Invalid("--set without key=");
            }
            override(declared, values, sources, s.substring(0, eq).trim(), s.substring(eq + 1).trim(), "--set");
        }
        return new Expected(values, sources);
    }

    private static void override(Map<String, String> declared, Map<String, String> values, Map<String, String> sources,
            String key, String value, String source) throws Invalid {
        if (!declared.containsKey(key) && !key.startsWith("spark.")) {
            throw new Invalid("unknown key " + key);
        }
        values.put(key, value);
        sources.put(key, source);
    }

    /**
     * Where {@link Properties} reads a file as the documented syntax does (printable ASCII without
     * backslashes, keys without spaces), its values, stripped, are the same: a second reading by
     * code that is not ours.
     */
    private static void propertiesAgree(String text, List<Line> lines) {
        if (!text.chars().allMatch(ch -> ch == '\n' || (ch >= 0x20 && ch < 0x7f && ch != '\\'))) {
            return;
        }
        Map<String, String> ours = new LinkedHashMap<>();
        for (Line l : lines) {
            if (l.key().contains(" ")) {
                return;
            }
            ours.put(l.key(), l.value());
        }
        Properties p = new Properties();
        try {
            p.load(new StringReader(text));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        Map<String, String> theirs = new LinkedHashMap<>();
        for (String k : ours.keySet()) {
            theirs.put(k, p.getProperty(k) == null ? null : p.getProperty(k).strip());
        }
        assertEquals(ours, theirs, "java.util.Properties reads the file otherwise");
        assertEquals(ours.size(), p.size(), "java.util.Properties finds other keys");
    }
}
