package rlhf.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import rlhf.io.Checkpoint;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.model.RewardScorer;
import rlhf.tokenizer.BpeTokenizer;

/**
 * Every model command end to end through the launcher ({@code bin/rlhf CMD ...}: spark-submit of
 * the packaged rlhf-common jar in a child JVM), checked against in-process computations with rlhf.model: a tiny model
 * and a tokenizer trained on a tiny corpus are made with {@code init}, then each command runs on
 * them. Tolerance for floats written to JSON and recomputed here: 1e-4 absolute.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ModelCommandsIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final double TOL = 1e-4;
    private static final String[] WORDS = {"the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "red",
            "ball", "and", "it", "was", "happy", "big", "tree", "under", "sun", "played"};

    @TempDir
    static Path tmp;
    Launcher launcher;
    String lm;
    String rm;
    String rmEos;
    BpeTokenizer tok;

    @BeforeAll
    void models() throws Exception {
        launcher = new Launcher(tmp);
        Random rnd = new Random(1);
        List<String> corpus = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            corpus.add(JSON.writeValueAsString(Map.of("text", sentence(rnd, 4 + rnd.nextInt(8)))));
        }
        Path corpusFile = write("corpus.jsonl", corpus);
        lm = tmp.resolve("lm").toString();
        rm = tmp.resolve("rm").toString();
        rmEos = tmp.resolve("rm-eos").toString();
        String[] shape = {"--set", "model.n_layer=2", "--set", "model.n_head=2", "--set", "model.n_embd=32",
                "--set", "model.n_positions=48"};
        ok(run(concat(new String[] {"init", "--output", lm, "--set", "tokenizer.corpus=" + corpusFile,
                "--set", "tokenizer.vocab_size=300", "--set", "init.seed=3"}, shape)));
        ok(run(concat(new String[] {"init", "--output", rm, "--set", "tokenizer.path=" + lm,
                "--set", "model.score_head=true", "--set", "init.seed=4"}, shape)));
        Path props = write("rm-eos.properties", List.of("tokenizer.path = " + lm, "model.score_head = true",
                "model.reward_appends_eos = true", "init.seed = 5", "model.n_layer = 2", "model.n_head = 2",
                "model.n_embd = 32", "model.n_positions = 48"));
        ok(run("init", "--config", props.toString(), "--output", rmEos));
        tok = BpeTokenizer.load(Path.of(lm));
    }

    @Test
    void initWritesTheConfiguredShapeAndTrainedTokenizer() throws Exception {
        Checkpoint c = Checkpoint.load(lm, false, new Configuration());
        GptConfig g = c.config().model();
        assertEquals(List.of(2, 2, 32, 48, tok.vocabSize()), List.of(g.nLayer(), g.nHead(), g.nEmbd(), g.maxSeqLen(),
                g.vocabSize()));
        assertFalse(g.scoreHead());
        assertTrue(tok.vocabSize() > 257 && tok.vocabSize() <= 300, "trained vocabulary: " + tok.vocabSize());
        assertEquals(tok.eosId(), c.config().eosTokenId());
        float[] expected = new float[c.params().length];
        Gpt.init(g, expected, 3);
        assertArrayEquals(expected, c.params(), "weights are GPT-2's init with init.seed=3");
        assertFalse(Checkpoint.load(rm, false, new Configuration()).config().hasExtra(RewardScorer.APPENDS_EOS_KEY));
        assertTrue(Checkpoint.load(rmEos, false, new Configuration()).config()
                .extraBoolean(RewardScorer.APPENDS_EOS_KEY));
        assertArrayEquals(Files.readAllBytes(Path.of(lm, "vocab.json")), Files.readAllBytes(Path.of(rm, "vocab.json")));
    }

    @Test
    void tokenizeAddsIdsThatDecodeToTheText() throws Exception {
        List<String> texts = List.of("the cat sat on the mat", "", "a dog ran to the big red ball, happy!",
                "ünïcödé and <|endoftext|> stay text");
        List<String> rows = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            rows.add(JSON.writeValueAsString(Map.of("text", texts.get(i), "n", i, "meta", Map.of("k", List.of(1.5, "x")))));
        }
        Path in = write("tok.jsonl", rows);
        String out = tmp.resolve("tok-out").toString();
        ok(run("tokenize", "--tokenizer", lm, "--input", in.toString(), "--output", out));
        List<ObjectNode> got = readOutput(out);
        assertEquals(texts.size(), got.size());
        for (int i = 0; i < texts.size(); i++) {
            ObjectNode o = got.get(i);
            assertKeepsInput(rows.get(i), o);
            int[] ids = ints(o.get("ids"));
            assertArrayEquals(tok.encode(texts.get(i)), ids);
            assertEquals(texts.get(i), tok.decode(ids), "round trip of row " + i);
        }
    }

    @Test
    void logprobsEqualTheModelsInProcess() throws Exception {
        Random rnd = new Random(2);
        List<String> rows = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            rows.add(JSON.writeValueAsString(Map.of("text", sentence(rnd, 1 + rnd.nextInt(9)), "row", i)));
        }
        rows.add("{\"text\": \"\"}");
        for (int i = 0; i < 4; i++) {
            rows.add(JSON.writeValueAsString(Map.of("prompt", sentence(rnd, 3), "response", sentence(rnd, 1 + i),
                    "extra", List.of(i))));
        }
        Path in = write("lp.jsonl", rows);
        String out = tmp.resolve("lp-out").toString();
        ok(run("logprobs", "--model", lm, "--input", in.toString(), "--output", out, "--set", "logprobs.batch_size=3"));
        Checkpoint c = Checkpoint.load(lm, false, new Configuration());
        List<ObjectNode> got = readOutput(out);
        assertEquals(rows.size(), got.size());
        for (int i = 0; i < rows.size(); i++) {
            ObjectNode o = got.get(i);
            assertKeepsInput(rows.get(i), o);
            if (o.has("text")) {
                int[] ids = ints(o.get("ids"));
                assertArrayEquals(tok.encode(o.get("text").textValue()), ids);
                float[] lp = floats(o.get("logprobs"));
                assertEquals(Math.max(0, ids.length - 1), lp.length);
                float[] ref = logprobs(c, ids, 1);
                double sum = 0;
                for (int t = 0; t < lp.length; t++) {
                    assertEquals(ref[t], lp[t], TOL, "row " + i + " token " + (t + 1));
                    assertTrue(Math.exp(lp[t]) <= 1.0, "probability <= 1");
                    sum += lp[t];
                }
                assertEquals(sum, o.get("sum_logprob").doubleValue(), TOL);
            } else {
                int[] p = tok.encode(o.get("prompt").textValue());
                int[] r = tok.encode(o.get("response").textValue());
                assertArrayEquals(r, ints(o.get("response_ids")));
                int[] seq = concat(p, r);
                float[] ref = logprobs(c, seq, p.length);
                float[] lp = floats(o.get("response_logprobs"));
                assertEquals(r.length, lp.length);
                double sum = 0;
                for (int t = 0; t < lp.length; t++) {
                    assertEquals(ref[t], lp[t], TOL, "row " + i + " response token " + t);
                    sum += lp[t];
                }
                assertEquals(sum, o.get("sum_response_logprob").doubleValue(), TOL);
            }
        }
    }

    @Test
    void greedyGenerationIsTheArgmaxContinuation() throws Exception {
        List<String> prompts = List.of("the cat", "a big red", "", "dog ran to the tree and it was", "sun");
        List<String> rows = new ArrayList<>();
        for (String p : prompts) {
            rows.add(JSON.writeValueAsString(Map.of("prompt", p, "tag", p.length())));
        }
        Path in = write("greedy.jsonl", rows);
        String out = tmp.resolve("greedy-out").toString();
        ok(run("generate", "--model", lm, "--input", in.toString(), "--output", out, "--set", "gen.temperature=0",
                "--set", "gen.max_new_tokens=10", "--set", "gen.batch_size=2", "--set", "gen.stop_at_eos=false"));
        Checkpoint c = Checkpoint.load(lm, false, new Configuration());
        List<ObjectNode> got = readOutput(out);
        assertEquals(prompts.size(), got.size());
        for (int i = 0; i < prompts.size(); i++) {
            ObjectNode o = got.get(i);
            assertKeepsInput(rows.get(i), o);
            int[] prompt = tok.encode(prompts.get(i));
            int[] expected = greedy(c, prompt.length == 0 ? new int[] {tok.eosId()} : prompt, 10);
            int[] ids = ints(o.get("completion_ids"));
            assertArrayEquals(expected, ids, "greedy continuation of row " + i);
            assertEquals(tok.decode(ids), o.get("completion").textValue());
            assertEquals("length", o.get("finish_reason").textValue());
        }
    }

    @Test
    void generationStopsAtEosAndLeavesItOut() throws Exception {
        // ln_f maps every hidden state to its bias b, and EOS's embedding is 10 b: EOS is always the argmax
        Checkpoint c = Checkpoint.load(lm, false, new Configuration());
        ParamLayout layout = ParamLayout.of(c.config().model());
        float[] p = c.params().clone();
        int C = c.config().model().nEmbd();
        int lnw = layout.offset("ln_f.weight");
        int lnb = layout.offset("ln_f.bias");
        int eosRow = layout.offset("wte.weight") + tok.eosId() * C;
        for (int i = 0; i < C; i++) {
            p[lnw + i] = 0f;
            p[lnb + i] = (i % 2 == 0 ? 1f : -1f);
            p[eosRow + i] = 10f * p[lnb + i];
        }
        String eosLm = tmp.resolve("eos-lm").toString();
        new Checkpoint(c.config(), p, c.tokenizer(), null).save(eosLm, new Configuration());
        Path in = write("eos.jsonl", List.of("{\"prompt\": \"the cat\"}", "{\"prompt\": \"\"}"));
        String out = tmp.resolve("eos-out").toString();
        ok(run("generate", "--model", eosLm, "--input", in.toString(), "--output", out, "--set", "gen.temperature=0"));
        for (ObjectNode o : readOutput(out)) {
            assertEquals("stop", o.get("finish_reason").textValue());
            assertEquals(0, o.get("completion_ids").size(), "EOS ends the row and is not part of it");
            assertEquals("", o.get("completion").textValue());
        }
    }

    @Test
    void sampledGenerationDependsOnSeedAndRowNotOnPartitioningOrBatching() throws Exception {
        Random rnd = new Random(3);
        List<String> rows = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            rows.add(JSON.writeValueAsString(Map.of("prompt", sentence(rnd, 1 + rnd.nextInt(5)))));
        }
        rows.add(rows.get(0)); // same prompt, another row id: another draw
        Path one = write("sample.jsonl", rows);
        Path split = tmp.resolve("sample-split");
        Files.createDirectories(split);
        Files.write(split.resolve("a.jsonl"), rows.subList(0, 4));
        Files.write(split.resolve("b.jsonl"), rows.subList(4, rows.size()));
        String a = tmp.resolve("sample-a").toString();
        String b = tmp.resolve("sample-b").toString();
        ok(run("generate", "--model", lm, "--input", one.toString(), "--output", a, "--set", "gen.seed=7",
                "--set", "gen.max_new_tokens=12", "--set", "gen.batch_size=4", "--set", "gen.top_k=50"));
        ok(run("generate", "--model", lm, "--input", split.toString(), "--output", b, "--set", "gen.seed=7",
                "--set", "gen.max_new_tokens=12", "--set", "gen.batch_size=3", "--set", "gen.top_k=50"));
        List<ObjectNode> ra = readOutput(a);
        List<ObjectNode> rb = readOutput(b);
        assertEquals(rows.size(), ra.size());
        assertEquals(ra, rb, "same seed, other files and batch size: same completions");
        assertNotEquals(ra.get(0).get("completion_ids"), ra.get(8).get("completion_ids"),
                "the same prompt in another row is sampled with another row id");
        for (ObjectNode o : ra) {
            assertTrue(o.get("completion_ids").size() >= 1 && o.get("completion_ids").size() <= 12);
        }
    }

    @Test
    void scoreIsTheHeadAtTheLastTokenWithEosAsRecorded() throws Exception {
        Random rnd = new Random(4);
        List<String> rows = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            rows.add(JSON.writeValueAsString(Map.of("prompt", sentence(rnd, 2 + i), "response",
                    i == 3 ? "" : sentence(rnd, 1 + rnd.nextInt(6)), "id", "r" + i)));
        }
        Path in = write("score.jsonl", rows);
        for (String model : List.of(rm, rmEos)) {
            boolean eos = model.equals(rmEos);
            String out = tmp.resolve("score-out-" + eos).toString();
            ok(run("score", "--model", model, "--input", in.toString(), "--output", out, "--set", "score.batch_size=2"));
            Checkpoint c = Checkpoint.load(model, false, new Configuration());
            List<ObjectNode> got = readOutput(out);
            assertEquals(rows.size(), got.size());
            for (int i = 0; i < rows.size(); i++) {
                ObjectNode o = got.get(i);
                assertKeepsInput(rows.get(i), o);
                int[] seq = concat(tok.encode(o.get("prompt").textValue()), tok.encode(o.get("response").textValue()));
                if (eos) {
                    seq = concat(seq, new int[] {tok.eosId()});
                }
                assertEquals(scoreAtLast(c, seq), o.get("reward").doubleValue(), TOL,
                        "row " + i + (eos ? " with" : " without") + " EOS");
            }
        }
    }

    @Test
    void usageErrorsNameTheOptionOrKey() throws Exception {
        Launcher.Result r = run("logprobs", "--model", lm, "--output", tmp.resolve("x").toString());
        assertEquals(2, r.code(), r.stderr());
        assertTrue(r.stderr().contains("missing required option --input"), r.stderr());
        r = run("tokenize", "--tokenizer", lm, "--input", "in", "--output", "out", "--bogus", "1");
        assertEquals(2, r.code(), r.stderr());
        assertTrue(r.stderr().contains("unknown option --bogus"), r.stderr());
        r = run("generate", "--model", lm, "--input", "in", "--output", "out", "--set", "gen.temprature=0");
        assertEquals(2, r.code(), r.stderr());
        assertTrue(r.stderr().contains("unknown config key 'gen.temprature'") && r.stderr().contains("gen.temperature"),
                r.stderr());
        r = run("init", "--help");
        assertEquals(0, r.code(), r.stderr());
        assertTrue(r.stdout().contains("model.n_layer = 4") && r.stdout().contains("tokenizer.corpus"), r.stdout());
    }

    @Test
    void rowErrorsNameTheFileAndLine() throws Exception {
        Path in = write("bad.jsonl", List.of("{\"text\": \"fine\"}", "", "{\"txt\": \"typo\"}"));
        Launcher.Result r = run("logprobs", "--model", lm, "--input", in.toString(), "--output", tmp.resolve("bad-out").toString());
        assertEquals(2, r.code(), "a user's error: " + r.stderr());
        assertFalse(r.stderr().contains("\tat "), "one line, no stack trace: " + r.stderr());
        assertTrue(r.stderr().contains("bad.jsonl line 3: no \"text\" field"), r.stderr());
        Path longIn = write("long.jsonl", List.of("{\"text\": \"" + sentence(new Random(5), 60) + "\"}"));
        r = run("logprobs", "--model", lm, "--input", longIn.toString(), "--output", tmp.resolve("long-out").toString());
        assertEquals(2, r.code(), r.stderr());
        assertTrue(r.stderr().contains("long.jsonl line 1: text has") && r.stderr().contains("n_positions=48"), r.stderr());
        // Latin-1 bytes are not read as U+FFFD: the row is named
        Path latin1 = tmp.resolve("latin1.jsonl");
        java.nio.file.Files.write(latin1, "{\"text\": \"fine\"}\n{\"text\": \"caf\u00ff\"}\n"
                .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        r = run("logprobs", "--model", lm, "--input", latin1.toString(), "--output", tmp.resolve("latin1-out").toString());
        assertEquals(2, r.code(), r.stderr());
        assertTrue(r.stderr().contains("latin1.jsonl line 2: invalid UTF-8: byte 13 of the line (0xff)"), r.stderr());
    }

    // ------------------------------------------------------------------ in-process references

    /** lp[t - from] = log p(seq[t] | seq[<t]) for t in [from, len), one full forward of B=1. */
    static float[] logprobs(Checkpoint c, int[] seq, int from) {
        if (seq.length < 2) {
            return new float[0];
        }
        Gpt g = new Gpt(c.config().model(), 1, seq.length);
        int[] targets = new int[seq.length];
        Arrays.fill(targets, -1);
        for (int t = from; t < seq.length; t++) {
            targets[t - 1] = seq[t];
        }
        float[] lp = new float[seq.length];
        g.forward(c.params(), seq, null, null, 1, seq.length, false, 0L);
        g.lmHeadForward(c.params(), targets, 1f, lp, null);
        return Arrays.copyOfRange(lp, from - 1, seq.length - 1);
    }

    /** n tokens of argmax continuation, recomputing the whole sequence each step (no cache). */
    static int[] greedy(Checkpoint c, int[] prompt, int n) {
        GptConfig cfg = c.config().model();
        int V = cfg.vocabSize();
        int[] seq = Arrays.copyOf(prompt, prompt.length + n);
        for (int k = 0; k < n; k++) {
            int T = prompt.length + k;
            Gpt g = new Gpt(cfg, 1, T);
            g.forward(c.params(), seq, null, null, 1, T, false, 0L);
            int[] targets = new int[T];
            g.lmHeadForward(c.params(), targets, 1f, new float[T], null);
            float[] logits = g.logits();
            int best = 0;
            for (int v = 1; v < V; v++) {
                if (logits[(T - 1) * V + v] > logits[(T - 1) * V + best]) {
                    best = v;
                }
            }
            seq[T] = best;
        }
        return Arrays.copyOfRange(seq, prompt.length, seq.length);
    }

    static double scoreAtLast(Checkpoint c, int[] seq) {
        Gpt g = new Gpt(c.config().model(), 1, seq.length);
        g.forward(c.params(), seq, null, null, 1, seq.length, false, 0L);
        float[] values = new float[seq.length];
        g.scoreHeadForward(c.params(), values);
        return values[seq.length - 1];
    }

    // ------------------------------------------------------------------ helpers

    /** bin/rlhf through spark-submit with the packaged common jar, in local[2] unless asking for help. */
    Launcher.Result run(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(args));
        if (!cmd.contains("--help")) {
            cmd.addAll(List.of("--master", "local[2]"));
        }
        return launcher.rlhf(120, cmd.toArray(String[]::new));
    }

    static void ok(Launcher.Result r) {
        assertEquals(0, r.code(), "exit code; stderr:\n" + r.stderr());
    }

    Path write(String name, List<String> lines) throws IOException {
        Path p = tmp.resolve(name);
        Files.write(p, lines, StandardCharsets.UTF_8);
        return p;
    }

    /** The part files of an output directory, in order, one object per line. */
    static List<ObjectNode> readOutput(String dir) throws IOException {
        List<ObjectNode> out = new ArrayList<>();
        List<Path> parts;
        try (Stream<Path> s = Files.list(Path.of(dir))) {
            parts = s.filter(p -> p.getFileName().toString().startsWith("part-")).sorted().toList();
        }
        assertFalse(parts.isEmpty(), "no part files in " + dir);
        for (Path p : parts) {
            for (String line : Files.readAllLines(p, StandardCharsets.UTF_8)) {
                out.add((ObjectNode) JSON.readTree(line));
            }
        }
        return out;
    }

    /** Every field of the input row is in the output row, unchanged. */
    static void assertKeepsInput(String inputLine, ObjectNode out) throws IOException {
        JsonNode in = JSON.readTree(inputLine);
        in.fields().forEachRemaining(e -> assertEquals(e.getValue(), out.get(e.getKey()),
                "field \"" + e.getKey() + "\" of " + inputLine));
    }

    static int[] ints(JsonNode a) {
        int[] v = new int[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.get(i).intValue();
        }
        return v;
    }

    static float[] floats(JsonNode a) {
        float[] v = new float[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.get(i).floatValue();
        }
        return v;
    }

    static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    static String[] concat(String[] a, String[] b) {
        String[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    static String sentence(Random rnd, int words) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < words; i++) {
            sb.append(i == 0 ? "" : " ").append(WORDS[rnd.nextInt(WORDS.length)]);
        }
        return sb.toString();
    }
}
