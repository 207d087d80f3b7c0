package rlhf.demo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import rlhf.config.Args;
import rlhf.data.PromptTemplate;
import rlhf.io.Checkpoint;
import rlhf.io.TextFiles;
import rlhf.model.Generation;
import rlhf.model.GenerationConfig;
import rlhf.model.Generator;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.tensor.Parallel;
import rlhf.tokenizer.BpeTokenizer;

/**
 * Measures a policy on demo task prompts with the exact {@link Oracle}: generates a completion for
 * each prompt (formatted by the training template) with {@link Generator}, greedily or sampled,
 * and scores it ({@link Evaluation}: exact accuracy, answer accuracy, mean gold reward, per family
 * and sub-family). This is the demo's ground truth: it needs no reward model, so reward hacking
 * shows as a gap between the reward model's score and this one.
 *
 * <p>Deterministic: completion {@code j} of prompt {@code i} draws its tokens with the key
 * {@code i * samples + j} and the seed, whatever the batch size and thread count. Runs on the
 * driver, batches spread over the kernel threads ({@link Parallel}): the demo's held-out set is a
 * few hundred prompts of a small model.
 *
 * <p>{@code bin/rlhf evaluate --model DIR --prompts FILE [--template T] [--temperature 1]
 * [--samples N] [--max-new-tokens N] [--seed N] [--output FILE]}.
 */
public final class PolicyEvaluation {

    private static final ObjectMapper JSON = new ObjectMapper();

    private PolicyEvaluation() {}

    /** A causal LM as the evaluation uses it. */
    public record Policy(String name, GptConfig config, float[] params, BpeTokenizer tokenizer, int eosId) {

        /** The same shape and tokenizer with GPT-2 random initial weights (what SFT starts from). */
        public Policy randomInit(String newName, long seed) {
            float[] p = new float[ParamLayout.of(config).size()];
            Gpt.init(config, p, seed);
            return new Policy(newName, config, p, tokenizer, eosId);
        }
    }

    /**
     * How completions are drawn.
     *
     * @param temperature 0 greedy, else sampling at this temperature (no top-k/top-p)
     * @param samples     completions per prompt (1 when greedy: they would all be equal)
     */
    public record Settings(PromptTemplate template, float temperature, int samples, int maxNewTokens, int batchSize,
                           long seed) {
        public Settings {
            if (temperature < 0 || !Float.isFinite(temperature)) {
                throw new IllegalArgumentException("temperature must be >= 0, found " + temperature);
            }
            if (samples < 1 || maxNewTokens < 1 || batchSize < 1) {
                throw new IllegalArgumentException("samples (" + samples + "), max new tokens (" + maxNewTokens
                        + ") and batch size (" + batchSize + ") must be >= 1");
            }
            if (temperature == 0) {
                samples = 1;
            }
        }

        public String describe() {
            return temperature == 0 ? "greedy" : String.format(Locale.ROOT, "sampled T=%s x%d",
                    temperature == (int) temperature ? Integer.toString((int) temperature) : Float.toString(temperature),
                    samples);
        }
    }

    /** One graded completion. */
    public record Completion(String prompt, String completion, double score, boolean stopped) {}

    /** The scores and every completion, in prompt order (samples of a prompt together). */
    public record Result(String policy, Settings settings, Evaluation.Result scores, List<Completion> completions) {}

    /** Loads a checkpoint directory (ours or Hugging Face GPT-2 with tokenizer files). */
    public static Policy load(String dir, Configuration hconf) throws IOException {
        Checkpoint c = Checkpoint.loadPretrained(dir, hconf);
        if (c.tokenizer() == null) {
            throw new IOException("checkpoint " + dir + " has no tokenizer files (" + Checkpoint.VOCAB + ", "
                    + Checkpoint.MERGES + ")");
        }
        if (!c.config().model().causal()) {
            throw new IllegalArgumentException("checkpoint " + dir + " is bidirectional: a policy must be causal");
        }
        BpeTokenizer tok = c.tokenizer().load(dir);
        return new Policy(dir, c.config().model(), c.params(), tok, c.config().eosTokenId());
    }

    /** Generates and grades {@code s.samples()} completions for each prompt. */
    public static Result evaluate(Policy p, List<String> prompts, Settings s, Oracle oracle) {
        int n = prompts.size();
        int[][] ids = new int[n][];
        int maxT = 1;
        for (int i = 0; i < n; i++) {
            oracle.problem(prompts.get(i)); // fail before generating on a prompt the oracle cannot grade
            ids[i] = p.tokenizer().encode(s.template().format(prompts.get(i)));
            if (ids[i].length == 0) {
                ids[i] = new int[] {p.eosId()};
            }
            if (ids[i].length >= p.config().maxSeqLen()) {
                throw new IllegalArgumentException("prompt " + (i + 1) + " has " + ids[i].length + " tokens; the model "
                        + p.name() + " sees at most " + p.config().maxSeqLen() + ": \"" + prompts.get(i) + "\"");
            }
            maxT = Math.max(maxT, ids[i].length);
        }
        int total = n * s.samples();
        int B = Math.min(s.batchSize(), total);
        int newTokens = Math.min(s.maxNewTokens(), p.config().maxSeqLen() - 1);
        GenerationConfig gc = new GenerationConfig(newTokens, s.temperature(), 0, 1f, p.eosId(), s.seed());
        String[] texts = new String[total];
        boolean[] stopped = new boolean[total];
        final int maxPrompt = maxT;
        // batches split over the kernel threads, each with its own generator; nested kernels run inline
        Parallel.forRange((total + B - 1) / B, 1, (from, to) -> {
            Generator gen = new Generator(p.config(), B, maxPrompt, newTokens);
            int[] buf = new int[B * maxPrompt];
            int[] lens = new int[B];
            long[] keys = new long[B];
            for (int batch = from; batch < to; batch++) {
                int start = batch * B;
                int b = Math.min(B, total - start);
                int T = 1;
                for (int r = 0; r < b; r++) {
                    T = Math.max(T, ids[(start + r) / s.samples()].length);
                }
                for (int r = 0; r < b; r++) {
                    int[] x = ids[(start + r) / s.samples()];
                    System.arraycopy(x, 0, buf, r * T, x.length);
                    Arrays.fill(buf, r * T + x.length, (r + 1) * T, p.eosId());
                    lens[r] = x.length;
                    keys[r] = start + r;
                }
                Generation g = gen.generate(p.params(), buf, T, lens, b, gc, keys);
                for (int r = 0; r < b; r++) {
                    int len = g.length(r) - (g.endedWithEos(r) ? 1 : 0);
                    texts[start + r] = p.tokenizer().decode(g.completion(r), 0, len);
                    stopped[start + r] = g.endedWithEos(r);
                }
            }
        });
        List<String> graded = new ArrayList<>(total);
        List<Completion> out = new ArrayList<>(total);
        for (int i = 0; i < total; i++) {
            String prompt = prompts.get(i / s.samples());
            graded.add(prompt);
            out.add(new Completion(prompt, texts[i], oracle.score(prompt, texts[i]), stopped[i]));
        }
        List<String> completions = Arrays.asList(texts);
        return new Result(p.name(), s, Evaluation.evaluate(graded, completions, oracle), out);
    }

    // ---------------------------------------------------------------- files

    /** The "prompt" of every row of a JSON-lines file (any Hadoop path); errors name file and line. */
    public static List<String> readPrompts(String path, Configuration hconf) throws IOException {
        List<String> out = new ArrayList<>();
        for (JsonNode row : readJsonLines(path, hconf)) {
            out.add(row.get("prompt").asText());
        }
        return out;
    }

    /** Rows of a JSON-lines file; each must be an object with a string "prompt". */
    static List<JsonNode> readJsonLines(String path, Configuration hconf) throws IOException {
        Path p = new Path(path);
        FileSystem fs = p.getFileSystem(hconf);
        List<JsonNode> rows = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(fs.open(p), StandardCharsets.UTF_8))) {
            String line;
            int n = 0;
            while ((line = r.readLine()) != null) {
                n++;
                if (line.isBlank()) {
                    continue;
                }
                JsonNode row;
                try {
                    row = JSON.readTree(line);
                } catch (IOException e) {
                    throw new IllegalArgumentException(path + " line " + n + ": not JSON: " + e.getMessage());
                }
                if (row == null || !row.isObject() || !row.path("prompt").isTextual()) {
                    throw new IllegalArgumentException(path + " line " + n + ": expected an object with a string"
                            + " \"prompt\", found " + abbreviate(line));
                }
                rows.add(row);
            }
        }
        if (rows.isEmpty()) {
            throw new IllegalArgumentException(path + ": no rows");
        }
        return rows;
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }

    /** Writes completions as JSON lines {"prompt", "completion", "score", "stopped"}. */
    public static void writeCompletions(List<Completion> cs, String path, Configuration hconf) throws IOException {
        StringBuilder b = new StringBuilder();
        for (Completion c : cs) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("prompt", c.prompt());
            m.put("completion", c.completion());
            m.put("score", c.score());
            m.put("stopped", c.stopped());
            b.append(JSON.writeValueAsString(m)).append('\n');
        }
        TextFiles.write(path, b.toString(), hconf);
    }

    /**
     * {@code evaluate --model DIR --prompts FILE [--template T] [--temperature F] [--samples N]
     * [--max-new-tokens N] [--batch-size N] [--seed N] [--output FILE]}: prints the accuracy table.
     */
    public static void main(String[] argv) throws IOException {
        Args.Spec spec = Args.command("evaluate", "accuracy and gold reward of a policy on demo task prompts,"
                        + " graded by the exact oracle")
                .required("model", "policy checkpoint directory (with its tokenizer)")
                .required("prompts", "JSON lines with a \"prompt\" per row, e.g. heldout_prompts.jsonl of the demo data")
                .optional("template", "prompt template the policy was trained with (default: plain, the demo's)")
                .optional("temperature", "0 greedy (default), else sampling temperature")
                .optional("samples", "completions per prompt when sampling (default 1)")
                .optional("max-new-tokens", "longest completion (default 16)")
                .optional("batch-size", "prompts per generation batch (default 64)")
                .optional("seed", "sampling seed (default 7)")
                .optional("output", "write every completion with its score here (JSON lines)");
        Args args = spec.parse(argv);
        if (args.help()) {
            System.out.print(spec.usage(null));
            return;
        }
        Configuration hconf = new Configuration();
        Settings s = new Settings(PromptTemplate.of(args.get("template", DEMO_TEMPLATE)),
                Float.parseFloat(args.get("temperature", "0")), Integer.parseInt(args.get("samples", "1")),
                Integer.parseInt(args.get("max-new-tokens", "16")), Integer.parseInt(args.get("batch-size", "64")),
                Long.parseLong(args.get("seed", "7")));
        Result r = evaluate(load(args.get("model"), hconf), readPrompts(args.get("prompts"), hconf), s, new Oracle());
        if (args.get("output") != null) {
            writeCompletions(r.completions(), args.get("output"), hconf);
        }
        System.out.println(args.get("model") + ", " + s.describe() + ":");
        System.out.print(r.scores());
    }

    /** The demo's prompt template (conf/demo.properties data.template). */
    public static final String DEMO_TEMPLATE = "plain";
}
