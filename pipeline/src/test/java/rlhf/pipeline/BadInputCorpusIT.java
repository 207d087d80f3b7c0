package rlhf.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import rlhf.cli.Launcher;
import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.io.TinyCheckpoints;
import rlhf.model.GptConfig;
import rlhf.tokenizer.BpeTokenizer;
import rlhf.tokenizer.ByteTokenizer;

/**
 * A corpus of bad inputs run through the real commands ({@code bin/rlhf COMMAND}, the packaged
 * jars in a child JVM), one row of {@link #cases()} each. For every case: exit code 2; one line
 * {@code rlhf COMMAND: ...} on stderr that holds the expected message, which names the file, row
 * or key; no stack trace; and the case's working directory (its inputs, and any earlier output or
 * run it must not touch, copied there) byte for byte as it was: no output created, none half
 * written, none changed.
 *
 * <p>The models are tiny (1 layer, width 16, a byte-level tokenizer) and written in-process before
 * any command runs; the broken ones are copies with one defect each. Commands run with
 * {@code --master local[1]}, {@link #PARALLEL} at a time: most fail before Spark starts (about 2 s),
 * those that read data or models start it (5 to 10 s).
 */
class BadInputCorpusIT {

    /** Commands run at once: each is one mostly single-threaded JVM that also waits (Spark's start and stop). */
    static final int PARALLEL = 3;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PREFS = "{\"prompt\":\"p\",\"chosen\":\"a\",\"rejected\":\"b\"}";
    private static final String DEMO = "{\"prompt\":\"p\",\"response\":\"r\"}";
    private static final String TINY = "--set data.template=plain --set data.context_length=16";

    @TempDir
    static Path tmp;

    /** One bad input: the command line, the files it finds in its working directory, what it must say. */
    record Case(String command, String name, String args, Map<String, byte[]> files, List<String> copies,
                String says, boolean debug) {

        Case with(String file, String... lines) {
            Map<String, byte[]> f = new LinkedHashMap<>(files);
            f.put(file, lines.length == 0 ? new byte[0]
                    : (String.join("\n", lines) + "\n").getBytes(StandardCharsets.ISO_8859_1));
            return new Case(command, name, args, f, copies, says, debug);
        }

        /** Copies a shared fixture ({@code @name}) into the working directory under {@code as}. */
        Case copy(String fixture, String as) {
            List<String> c = new ArrayList<>(copies);
            c.add(fixture + " " + as);
            return new Case(command, name, args, files, c, says, debug);
        }

        Case says(String message) {
            return new Case(command, name, args, files, copies, message, debug);
        }

        /** Run with --debug: the same line, then the stack trace. */
        Case withDebug() {
            return new Case(command, name, args + " --debug", files, copies, says, true);
        }

        String label() {
            return command + ": " + name;
        }
    }

    static Case c(String command, String name, String args) {
        return new Case(command, name, args, Map.of(), List.of(), null, false);
    }

    /** SFT on one good row, starting from the model {@code init}. */
    static Case sftFrom(String name, String init) {
        return c("sft", name, "--set data.train=sft.jsonl --set model.init=" + init + " " + TINY).with("sft.jsonl", DEMO);
    }

    /**
     * The corpus. {@code @lm}, {@code @rm} and the other {@code @name}s are the shared models of
     * {@link #fixtures}; relative paths are in the case's own working directory.
     */
    static List<Case> cases() {
        return List.of(
                // ---------------------------------------------------------------- sft
                c("sft", "a typo'd key in --set is named with a suggestion", "--set train.stpes=3")
                        .says("unknown config key 'train.stpes' in --set; did you mean 'train.steps'?"),
                c("sft", "a typo'd key in a --config file is named with its file and line", "--config my.properties")
                        .with("my.properties", "train.steps = 3", "train.micro_bacth = 2")
                        .says("unknown config key 'train.micro_bacth' in my.properties line 2; did you mean 'train.micro_batch'?"),
                c("sft", "a missing --config file is named", "--config no-such.properties")
                        .says("cannot read config file no-such.properties:"),
                c("sft", "a config line without '=' is named with its line", "--config my.properties")
                        .with("my.properties", "# steps", "train.steps 3")
                        .says("my.properties line 2: expected 'key = value', found 'train.steps 3'"),
                c("sft", "an unknown option is named", "--bogus")
                        .says("unknown option --bogus"),
                c("sft", "an empty data.train is named", "")
                        .says("config key 'data.train' is empty"),
                c("sft", "a zero micro batch is out of range", "--set data.train=sft.jsonl --set train.micro_batch=0")
                        .says("config key 'train.micro_batch' = \"0\" (from --set): expected a number in [1, 65536]"),
                c("sft", "an unknown loss_on value is named", "--set data.train=sft.jsonl --set train.loss_on=everything")
                        .says("config key 'train.loss_on' = \"everything\" (from --set): expected one of response|all"),
                c("sft", "a missing data file is named", "--set data.train=no-such.jsonl")
                        .says("dataset no-such.jsonl does not exist"),
                c("sft", "a data directory with a non-data file is refused by name", "--set data.train=data")
                        .with("data/a.jsonl", DEMO).with("data/README.txt", "notes")
                        .says("directory data holds 1 file(s) that are not JSON lines: [README.txt]"),
                c("sft", "an empty data file is named", "--set data.train=empty.jsonl")
                        .with("empty.jsonl")
                        .says("dataset empty.jsonl is empty (no rows, no columns)"),
                c("sft", "a column mapping to a missing column names the columns present", "--set data.train=qa.jsonl --set data.columns.prompt=query")
                        .with("qa.jsonl", "{\"question\":\"q\",\"answer\":\"a\"}")
                        .says("dataset qa.jsonl has no column 'query' (data.columns.prompt maps it to 'prompt'); columns present: [answer, question]"),
                sftFrom("model.init pointing to a missing directory is named", "no-model")
                        .says("checkpoint directory no-model does not exist"),
                sftFrom("a truncated model.safetensors names the tensor past the end", "@hf-truncated")
                        .says("safetensors file @hf-truncated/model.safetensors: tensor"),
                sftFrom("a corrupt config.json is named", "@bad-config")
                        .says("@bad-config/config.json: not valid JSON"),
                sftFrom("a truncated vocab.json is named", "@bad-vocab")
                        .says("@bad-vocab/vocab.json: not valid JSON"),
                sftFrom("NaN weights are refused by tensor", "@nan")
                        .says("@nan/model.safetensors: tensor 'ln_f.bias' holds NaN"),
                c("sft", "an output.dir holding a finished run is refused and left as it was", "--set data.train=sft.jsonl --set model.init=@lm --set output.dir=run " + TINY)
                        .with("sft.jsonl", DEMO).copy("@sft-run", "run")
                        .says("output.dir run already holds checkpoints [2]: continue that run with --resume"),
                c("sft", "--resume with another global batch is refused and the run left as it was", "--resume --set data.train=sft8.jsonl --set model.init=@lm --set output.dir=run --set train.global_batch=2 --set train.micro_batch=2 " + TINY)
                        .with("sft8.jsonl", sft8()).copy("@sft-run", "run")
                        .says("was trained with global_batch=4 but this run has 2 (train.global_batch)"),

                // ---------------------------------------------------------------- reward
                c("reward", "a typo'd key is named", "--set train.stpes=3")
                        .says("unknown config key 'train.stpes' in --set; did you mean 'train.steps'?"),
                c("reward", "with --debug a typo'd key is the same line and its stack trace", "--set train.stpes=3")
                        .says("unknown config key 'train.stpes' in --set").withDebug(),
                c("reward", "a bad-row fraction above 1 is out of range", "--set data.train=prefs.jsonl --set data.max_bad_fraction=2")
                        .says("config key 'data.max_bad_fraction' = \"2\" (from --set): expected a number in [0, 1]"),
                c("reward", "more bad rows than data.max_bad_fraction stop the read", "--set data.train=prefs.jsonl")
                        .with("prefs.jsonl", PREFS, "prompt,chosen,rejected", "p,a,b")
                        .says("2 of 3 rows (66.7%) of dataset prefs.jsonl are bad, more than data.max_bad_fraction = 0.01"),
                c("reward", "a number as prompt is a bad row named by file and row", "--set data.train=prefs.jsonl")
                        .with("prefs.jsonl", "{\"prompt\":7,\"chosen\":\"a\",\"rejected\":\"b\"}", PREFS)
                        .says("prefs.jsonl row 1: 'prompt' is not a string: a number (7)"),
                c("reward", "a string margin makes every row bad", "--set data.train=prefs.jsonl")
                        .with("prefs.jsonl", "{\"prompt\":\"p\",\"chosen\":\"a\",\"rejected\":\"b\",\"margin\":\"big\"}")
                        .says("prefs.jsonl row 1: 'margin' is not a number: a string (\"big\")"),
                c("reward", "a fractional rank is a bad row", "--set data.train=ranks.jsonl")
                        .with("ranks.jsonl", "{\"prompt\":\"p\",\"responses\":[\"a\",\"b\",\"c\"],\"ranking\":[0,1.5,2]}")
                        .says("ranks.jsonl row 1: rank 1 is 1.5, not a whole number"),
                c("reward", "an invalid UTF-8 line is a bad row named by its byte", "--set data.train=prefs.jsonl")
                        .with("prefs.jsonl", PREFS, "{\"prompt\":\"p\u00ff\",\"chosen\":\"a\",\"rejected\":\"b\"}")
                        .says("prefs.jsonl row 2: invalid UTF-8: byte 12 of the line (0xff)"),

                // ---------------------------------------------------------------- dpo
                c("dpo", "an empty model.init is named", "--set data.train=prefs.jsonl")
                        .says("config key 'model.init' is empty: set it to the policy DPO starts from"),
                c("dpo", "label smoothing with IPO is refused", "--set model.init=@lm --set data.train=prefs.jsonl --set dpo.loss=ipo --set dpo.label_smoothing=0.1")
                        .says("is a term of the sigmoid loss; IPO (dpo.loss=ipo) has none"),
                c("dpo", "a reward model as the policy is refused", "--set model.init=@rm --set data.train=prefs.jsonl " + TINY)
                        .with("prefs.jsonl", PREFS, PREFS)
                        .says("is a reward model (it has a score head); DPO trains a policy"),

                // ---------------------------------------------------------------- ppo
                c("ppo", "an empty model.reward with a model reward is named", "--set model.policy=@lm --set data.prompts=p.jsonl")
                        .says("config key 'model.reward' is empty but reward.kind = model"),
                c("ppo", "a missing reward model directory is named with its key", "--set model.policy=@lm --set model.reward=no-rm --set data.prompts=p.jsonl")
                        .with("p.jsonl", "{\"prompt\":\"a\"}")
                        .says("checkpoint directory no-rm does not exist (model.reward)"),
                c("ppo", "a reward model too short for prompt and response is refused", "--set model.policy=@lm --set model.reward=@rm --set data.prompts=p.jsonl --set data.max_prompt_tokens=8")
                        .with("p.jsonl", "{\"prompt\":\"a\"}")
                        .says("model.reward @rm has n_positions=16 but scores up to"),
                c("ppo", "a negative clip range is out of range", "--set model.policy=@lm --set model.reward=@rm --set data.prompts=p.jsonl --set ppo.cliprange=-1")
                        .says("config key 'ppo.cliprange' = \"-1\" (from --set): expected a number in [1.0E-9, 1000000000]"),
                c("ppo", "an unknown KL estimator is named", "--set model.policy=@lm --set model.reward=@rm --set data.prompts=p.jsonl --set ppo.kl_estimator=k9")
                        .says("config key 'ppo.kl_estimator' = \"k9\" (from --set): expected one of k1|k3"),
                c("ppo", "a prompt set where every prompt is too long is refused", "--set model.policy=@lm --set model.reward=@rm --set data.prompts=p.jsonl --set data.template=plain --set gen.max_new_tokens=4 --set data.max_prompt_tokens=3")
                        .with("p.jsonl", "{\"prompt\":\"a long prompt\"}", "{\"prompt\":\"another long one\"}")
                        .says("data.prompts p.jsonl: all 2 prompts are empty or longer than data.max_prompt_tokens = 3 tokens"),

                c("ppo", "a regular expression that does not compile is named", "--set model.policy=@lm --set data.prompts=p.jsonl --set reward.kind=rule --set reward.rule=regex --set reward.regex=(a")
                        .says("config key 'reward.regex' = \"(a\" is not a regular expression"),
                c("ppo", "a weighted sum without terms is named", "--set model.policy=@lm --set data.prompts=p.jsonl --set reward.kind=sum")
                        .says("config key 'reward.sum' is empty but reward.kind = sum"),
                c("ppo", "an exact-match reward on prompts without references is refused", "--set model.policy=@lm --set data.prompts=p.jsonl --set reward.kind=rule --set reward.rule=exact --set data.template=plain --set gen.max_new_tokens=4")
                        .with("p.jsonl", "{\"prompt\":\"a\"}")
                        .says("compares each response with its prompt's reference answer, but no prompt has one"),

                // ---------------------------------------------------------------- best-of-n
                c("best-of-n", "--set without '=' is named", "--set gen.n")
                        .says("--set expects key=value, found 'gen.n'"),
                c("best-of-n", "a zero temperature is out of range", "--set model.policy=@lm --set model.reward=@rm --set data.prompts=p.jsonl --set gen.temperature=0")
                        .says("config key 'gen.temperature' = \"0\" (from --set): expected a number in [1.0E-6, 100]"),
                c("best-of-n", "zero samples per prompt are out of range", "--set model.policy=@lm --set model.reward=@rm --set data.prompts=p.jsonl --set gen.n=0")
                        .says("config key 'gen.n' = \"0\" (from --set): expected a number in [1, 65536]"),
                c("best-of-n", "a language model as reward model is refused", "--set model.policy=@lm --set model.reward=@lm --set data.prompts=p.jsonl --set data.template=plain --set gen.max_new_tokens=4")
                        .with("p.jsonl", "{\"prompt\":\"a\"}")
                        .says("score head"),

                // ---------------------------------------------------------------- pipeline
                c("pipeline", "--set without '=' is named", "--set stages")
                        .says("--set expects key=value, found 'stages'"),
                c("pipeline", "a typo'd stage key is named with its stage", "--set sft.train.stpes=2 --set output.dir=out")
                        .says("stage sft: unknown config key 'train.stpes' in sft.train.stpes (--set)"),
                c("pipeline", "a key of no stage is named", "--set train.stpes=2 --set output.dir=out")
                        .says("unknown key 'train.stpes' in --set: conf/pipeline.properties does not declare it"),
                c("pipeline", "an unknown stage is named", "--set stages=sft,rewrd --set output.dir=out")
                        .says("stages: unknown stage 'rewrd', expected some of [sft, reward, dpo, best-of-n, ppo, grpo, rloo]"),
                c("pipeline", "a run directory holding a finished SFT stage is refused and left as it was", "--set stages=sft --set sft.data.train=sft.jsonl --set sft.model.init=@lm --set output.dir=out " + TINY)
                        .with("sft.jsonl", DEMO).with("out/conf/sft.properties", "# the earlier run's").copy("@sft-run", "out/sft")
                        .says("stage sft: out/sft already holds a final model; continue that run with --resume"),

                // ---------------------------------------------------------------- model commands
                c("init", "a typo'd model key is named with a suggestion", "--output model --set model.n_layers=2")
                        .says("unknown config key 'model.n_layers' in --set; did you mean 'model.n_layer'?"),
                c("init", "a missing --output option is named", "--set tokenizer.path=@lm")
                        .says("missing required option --output"),
                c("init", "a truncated vocab.json in tokenizer.path is named", "--output model --set tokenizer.path=@bad-vocab")
                        .says("@bad-vocab/vocab.json: not valid JSON"),
                c("tokenize", "a missing --tokenizer option is named", "--input t.jsonl --output out")
                        .says("missing required option --tokenizer"),
                c("tokenize", "an unknown option is named", "--tokenizer @lm --input t.jsonl --output out --overwrite-all")
                        .says("unknown option --overwrite-all"),
                c("generate", "a missing --input option is named", "--model @lm --output out")
                        .says("missing required option --input"),
                c("generate", "a row without a prompt is named by file and line and leaves no output", "--model @lm --input in.jsonl --output out")
                        .with("in.jsonl", "{\"prompt\":\"a\"}", "{\"text\":\"b\"}")
                        .says("in.jsonl line 2: no \"prompt\" field (fields found: \"text\")"),
                c("generate", "an existing output is refused and left as it was", "--model @lm --input in.jsonl --output out")
                        .with("in.jsonl", "{\"prompt\":\"a\"}").with("out/part-00000", "{\"earlier\":1}")
                        .says("output out already exists; remove it or pass --overwrite"),
                c("generate", "a failed --overwrite run leaves the earlier output as it was", "--model @lm --input in.jsonl --output out --overwrite")
                        .with("in.jsonl", "{\"prompt\":\"a\"}", "{\"text\":\"b\"}").with("out/part-00000", "{\"earlier\":1}")
                        .says("in.jsonl line 2: no \"prompt\" field (fields found: \"text\")"),
                c("generate", "a tokenizer larger than the model's vocabulary is refused", "--model @small-vocab --input in.jsonl --output out")
                        .with("in.jsonl", "{\"prompt\":\"a\"}")
                        .says("tokenizer has 257 tokens but the model in @small-vocab only vocab_size=200"),
                c("score", "a missing --model option is named", "--input in.jsonl --output out")
                        .says("missing required option --model"),
                c("score", "a language model is not a reward model", "--model @lm --input in.jsonl --output out")
                        .with("in.jsonl", "{\"prompt\":\"a\",\"response\":\"b\"}")
                        .says("checkpoint @lm is not a reward model: config.json has no score head"),
                c("logprobs", "a typo'd key is named with a suggestion", "--model @lm --input in.jsonl --output out --set logprobs.batch_sise=2")
                        .says("unknown config key 'logprobs.batch_sise' in --set; did you mean 'logprobs.batch_size'?"),
                c("logprobs", "an invalid UTF-8 line is named by its byte and leaves no output", "--model @lm --input in.jsonl --output out")
                        .with("in.jsonl", "{\"text\":\"ok\"}", "{\"text\":\"caf\u00e9\"}")
                        .says("in.jsonl line 2: invalid UTF-8: byte 12 of the line (0xe9)"));
    }

    private static String[] sft8() {
        String[] rows = new String[8];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = "{\"prompt\":\"p" + i + "\",\"response\":\"r" + i + "\"}";
        }
        return rows;
    }

    /** What a case did: its result, and its working directory before and after. */
    record Outcome(Launcher.Result result, Map<String, String> before, Map<String, String> after, double seconds) {
    }

    @TestFactory
    Stream<DynamicTest> badInputsThroughTheRealCommands() throws Exception {
        Path shared = tmp.resolve("shared");
        Map<String, Path> fixtures = fixtures(shared);
        Map<String, String> sharedBefore = tree(shared);
        List<Case> cases = cases();
        ExecutorService pool = Executors.newFixedThreadPool(PARALLEL);
        List<Future<Outcome>> runs = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < cases.size(); i++) {
            Path dir = tmp.resolve("case-" + i);
            Case c = cases.get(i);
            runs.add(pool.submit(() -> run(c, dir, fixtures)));
        }
        pool.shutdown();
        List<DynamicTest> tests = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            Future<Outcome> f = runs.get(i);
            tests.add(dynamicTest(c.label(), () -> check(c, f.get(), fixtures)));
        }
        tests.add(dynamicTest("the corpus: at least 40 cases, and the shared models unchanged", () -> {
            Map<String, Long> byCommand = cases.stream().collect(Collectors.groupingBy(Case::command, TreeMap::new,
                    Collectors.counting()));
            System.err.printf("BadInputCorpusIT: %d cases %s in %.0f s (%d at a time)%n", cases.size(), byCommand,
                    (System.nanoTime() - t0) / 1e9, PARALLEL);
            for (int i = 0; i < cases.size(); i++) {
                System.err.printf("  %5.1f s  %s%n", runs.get(i).get().seconds(), cases.get(i).label());
            }
            assertTrue(cases.size() >= 40, "cases: " + cases.size());
            assertEquals(cases.size(), cases.stream().map(Case::label).distinct().count(), "case names are distinct");
            assertEquals(sharedBefore, tree(shared), "no command changed the shared models");
        }));
        return tests.stream();
    }

    private static Outcome run(Case c, Path dir, Map<String, Path> fixtures) throws Exception {
        Files.createDirectories(dir);
        for (Map.Entry<String, byte[]> f : c.files().entrySet()) {
            Path p = dir.resolve(f.getKey());
            Files.createDirectories(p.getParent());
            Files.write(p, f.getValue());
        }
        for (String copy : c.copies()) {
            String[] fromTo = copy.split(" ");
            copyTree(fixtures.get(fromTo[0]), dir.resolve(fromTo[1]));
        }
        List<String> args = new ArrayList<>(List.of(c.command(), "--master", "local[1]"));
        for (String a : c.args().split(" ")) {
            if (!a.isEmpty()) {
                args.add(resolve(a, fixtures));
            }
        }
        Map<String, String> before = tree(dir);
        long t0 = System.nanoTime();
        Launcher.Result r = new Launcher(dir).rlhf(180, args.toArray(new String[0]));
        double seconds = (System.nanoTime() - t0) / 1e9;
        return new Outcome(r, before, tree(dir), seconds);
    }

    private static void check(Case c, Outcome o, Map<String, Path> fixtures) {
        String err = o.result().stderr();
        String expected = resolve(c.says(), fixtures);
        String prefix = "rlhf " + c.command() + ": ";
        List<String> lines = err.lines().filter(l -> l.startsWith(prefix)).toList();
        String where = String.format("(%.1f s) stderr:%n%s", o.seconds(), Launcher.tail(err));
        assertEquals(2, o.result().code(), "exit code " + where);
        assertEquals(1, lines.size(), "one line '" + prefix + "...' " + where);
        assertTrue(lines.get(0).contains(expected), "expected '" + expected + "' in the line " + where);
        if (c.debug()) {
            assertTrue(err.contains("\tat rlhf."), "--debug prints the stack trace " + where);
        } else {
            assertFalse(err.contains("\tat ") || err.contains("Exception in thread"), "no stack trace " + where);
        }
        assertEquals(o.before(), o.after(), "the working directory is byte for byte as it was");
    }

    /** {@code @name} of a shared fixture -> its absolute path, wherever it occurs in {@code s}. */
    private static String resolve(String s, Map<String, Path> fixtures) {
        String out = s;
        for (Map.Entry<String, Path> f : fixtures.entrySet()) {
            out = out.replace(f.getKey(), f.getValue().toString());
        }
        return out;
    }

    /**
     * Every file and directory under {@code root} -> its SHA-256 ("dir" for a directory), but the
     * launcher's captured stdout and stderr.
     */
    static Map<String, String> tree(Path root) throws IOException {
        Map<String, String> t = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(p -> !p.equals(root)).toList()) {
                String rel = root.relativize(p).toString();
                if (rel.matches("(stdout|stderr)\\d+\\.txt")) {
                    continue;
                }
                try {
                    t.put(rel, Files.isDirectory(p) ? "dir" : StandaloneClusterIT.sha256(p));
                } catch (Exception e) {
                    throw new IOException(e);
                }
            }
        }
        return t;
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path q = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(q);
                } else {
                    Files.copy(p, q);
                }
            }
        }
    }

    // ---------------------------------------------------------------- the shared models

    /**
     * Tiny models and their broken copies, and a finished SFT run, under {@code dir}; keyed by the
     * {@code @name} the cases use. The broken Hugging Face style copies have no completion marker
     * (and no Hadoop .crc files), so their own format errors are met.
     */
    static Map<String, Path> fixtures(Path dir) throws IOException {
        Configuration conf = new Configuration();
        BpeTokenizer tok = ByteTokenizer.of();
        GptConfig cfg = TinyCheckpoints.tinyConfig(tok);
        float[] params = TinyCheckpoints.init(cfg, 3);
        Map<String, Path> f = new LinkedHashMap<>();
        f.put("@lm", Path.of(TinyCheckpoints.save(dir, "lm", cfg, params, tok)));
        GptConfig rc = cfg.withScoreHead(true);
        f.put("@rm", Path.of(TinyCheckpoints.save(dir, "rm", rc, TinyCheckpoints.init(rc, 5), tok)));

        Path hfTruncated = copyModel(f.get("@lm"), dir.resolve("hf-truncated"));
        truncate(hfTruncated.resolve(Checkpoint.MODEL), 20_000);
        f.put("@hf-truncated", hfTruncated);
        Path badConfig = copyModel(f.get("@lm"), dir.resolve("bad-config"));
        Files.writeString(badConfig.resolve(Checkpoint.CONFIG), "{\"n_layer\": ");
        f.put("@bad-config", badConfig);
        Path badVocab = copyModel(f.get("@lm"), dir.resolve("bad-vocab"));
        truncate(badVocab.resolve(Checkpoint.VOCAB), 1_000);
        f.put("@bad-vocab", badVocab);

        float[] nan = params.clone();
        nan[nan.length - 1] = Float.NaN; // the last tensor, ln_f.bias
        f.put("@nan", Path.of(TinyCheckpoints.save(dir, "nan", cfg, nan, tok)));
        GptConfig small = GptConfig.gpt2(200, 16, 1, 2, 16);
        new Checkpoint(ModelConfigJson.of(small, 199), TinyCheckpoints.init(small, 3), TinyCheckpoints.files(tok), null)
                .save(dir.resolve("small-vocab").toString(), conf);
        f.put("@small-vocab", dir.resolve("small-vocab"));

        // a finished SFT run of sft8() (what checkpoint-2 of a run of 2 steps of 4 sequences holds)
        Path run = dir.resolve("sft-run");
        ObjectNode st = JSON.createObjectNode();
        st.put("step", 2).put("epoch", 1).put("position", 0).put("seed", 1234).put("adam_step", 2)
                .put("examples_seen", 8).put("tokens_seen", 32).put("elapsed_seconds", 1.5).put("total_steps", 2)
                .put("data_sequences", 8).put("global_batch", 4).put("context_length", 16).put("packing", false)
                .put("loss_on", "response");
        float[] moment = new float[params.length];
        ModelConfigJson json = ModelConfigJson.of(cfg, tok.eosId());
        new Checkpoint(json, params, TinyCheckpoints.files(tok), new Checkpoint.TrainingState(st, moment, moment))
                .save(run.resolve("checkpoint-2").toString(), conf);
        new Checkpoint(json.withExtra("rlhf_stage", "sft"), params, TinyCheckpoints.files(tok), null)
                .save(run.resolve("final").toString(), conf);
        Files.writeString(run.resolve("metrics.jsonl"), "{\"step\":1,\"loss\":5.5}\n{\"step\":2,\"loss\":5.4}\n");
        f.put("@sft-run", run);
        return f;
    }

    /** The model files of a checkpoint without its completion marker: a Hugging Face style directory. */
    private static Path copyModel(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        for (String n : List.of(Checkpoint.CONFIG, Checkpoint.MODEL, Checkpoint.VOCAB, Checkpoint.MERGES)) {
            Files.copy(from.resolve(n), to.resolve(n));
        }
        return to;
    }

    private static void truncate(Path file, long size) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
        }
    }
}
