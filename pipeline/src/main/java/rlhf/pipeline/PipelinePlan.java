package rlhf.pipeline;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import rlhf.bestofn.BestOfNJob;
import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.io.Checkpoint;
import rlhf.io.RunCheckpoints;
import rlhf.io.TextFiles;

/**
 * How the chain SFT -> reward model -> PPO (and the optional DPO, best-of-n, GRPO and RLOO) runs in one directory: the configuration of each stage
 * and whether it runs, resumes or is already done. {@link PipelineJob} then runs the stages, one
 * after the other, in one Spark application.
 *
 * <p>A chain configuration ({@code conf/pipeline.properties}, {@code conf/demo.properties}) has
 * its own declared keys, shared keys copied into every stage that declares them
 * ({@link #SHARED_PREFIXES}), {@code spark.*} keys (the application's), and stage keys:
 * {@code sft.K}, {@code reward.K}, {@code dpo.K}, {@code best-of-n.K}, {@code ppo.K}, {@code grpo.K}, {@code rloo.K} set key K of that stage, declared in the chain file
 * or not. A stage's effective keys, lowest precedence first: the wiring (its output directory, the
 * previous stages' final models, the data the caller provides), the shared keys, the stage keys.
 * Each is checked against the stage's own defaults ({@code conf/<stage>.properties}) when
 * planning, so a misspelt key fails in a second instead of after the previous stages trained. The
 * stage files are written to {@code <out>/conf/<stage>.properties}: a record of exactly what ran,
 * and what a stage job alone would be given ({@code bin/rlhf sft --config <out>/conf/sft.properties}).
 */
public final class PipelinePlan {

    /** Every stage, in the order they run. */
    public static final List<String> STAGES = List.of("sft", "reward", "dpo", "best-of-n", "ppo", "grpo", "rloo");

    /** The stages that run when the configuration does not list them: DPO and best-of-n are optional. */
    public static final List<String> DEFAULT_STAGES = List.of("sft", "reward", "ppo");

    /** The stages whose final model each stage starts from or scores with. */
    static final Map<String, List<String>> NEEDS = Map.of("sft", List.of(), "reward", List.of("sft"),
            "dpo", List.of("sft"), "best-of-n", List.of("sft", "reward"), "ppo", List.of("sft", "reward"),
            "grpo", List.of("sft"), "rloo", List.of("sft"));

    /** The stages that train the SFT model by reinforcement against a reward (model, rule or sum). */
    static final List<String> RL_STAGES = List.of("ppo", "grpo", "rloo");

    /**
     * The optional critic-free stages. They sample what PPO samples: the PPO stage's data.*, gen.*
     * and reward.* keys unless their own stage keys set them.
     */
    static final List<String> GROUP_STAGES = List.of("grpo", "rloo");

    /** The optional stage that trains the SFT model on the reward stage's preferences, without a reward model. */
    public static final String DPO = "dpo";

    /** The optional stage that samples like PPO: n responses per prompt of the SFT model, the best kept. */
    public static final String BEST_OF_N = "best-of-n";

    /** Keys of a chain file with these prefixes go to every stage that declares them. */
    public static final List<String> SHARED_PREFIXES = List.of("data.", "model.", "tokenizer.");

    /** The final model of a stage, under its output directory (the jobs' convention). */
    public static final String FINAL = "final";

    /** What the pipeline does with a stage. */
    public enum Action { RUN, RESUME, SKIP }

    /** One stage of the plan: its action, its written config file and its output directory. */
    public record Step(String stage, Action action, String configFile, String outputDir) {
    }

    /** A value and where it came from (for messages and the comment in the written file). */
    public record Value(String value, String source) {}

    /**
     * A loaded chain configuration.
     *
     * @param own    the chain file's declared keys, with the user's values
     * @param shared keys with a {@link #SHARED_PREFIXES shared prefix}: the declared ones and any the user gave
     * @param stages stage -> (stage key without prefix -> value); spark.* keys are in every stage
     */
    public record Settings(JobConfig own, Map<String, Value> shared, Map<String, Map<String, Value>> stages) {

        /** The stage keys of {@code stage} (unmodifiable). */
        public Map<String, Value> stage(String stage) {
            return stages.getOrDefault(stage, Map.of());
        }
    }

    private PipelinePlan() {}

    // ---------------------------------------------------------------- loading

    /**
     * The chain configuration {@code job} ("pipeline", "demo"): its defaults file, then the user's
     * file (may be null), then {@code key=value} overrides. Stage keys need not be declared; any
     * other undeclared key is an error naming it and where it was found.
     */
    public static Settings load(String job, String userFile, List<String> sets) {
        JobConfig own = JobConfig.defaults(job);
        Map<String, Value> raw = new LinkedHashMap<>();
        for (Map.Entry<String, JobConfig.Key> k : own.keys().entrySet()) {
            raw.put(k.getKey(), new Value(k.getValue().defaultValue(), "conf/" + job + ".properties"));
        }
        Map<String, Value> user = new LinkedHashMap<>();
        if (userFile != null) {
            JobConfig f = JobConfig.defaultsFromPath(userFile);
            String name = userFile.substring(userFile.lastIndexOf('/') + 1);
            for (String k : f.keys().keySet()) {
                user.put(k, new Value(f.getString(k), f.source(k).replaceFirst("^defaults \\S+", name)));
            }
        }
        for (String s : sets) {
            int eq = s.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException("--set expects key=value, found '" + s + "'");
            }
            user.put(s.substring(0, eq).trim(), new Value(s.substring(eq + 1).trim(), "--set"));
        }
        for (Map.Entry<String, Value> e : user.entrySet()) {
            String k = e.getKey();
            if (own.isDeclared(k) || k.startsWith("spark.")) {
                own.set(k, e.getValue().value(), e.getValue().source());
            } else if (stageOf(k) == null && !k.startsWith("spark.") && !isShared(k)) {
                throw new ConfigException("unknown key '" + k + "' in " + e.getValue().source() + ": conf/" + job
                        + ".properties does not declare it, and it is not a stage key (sft.KEY, reward.KEY, dpo.KEY,"
                        + " best-of-n.KEY, ppo.KEY, grpo.KEY, rloo.KEY),"
                        + " a key for every stage (" + String.join("*, ", SHARED_PREFIXES) + "*) or a spark.* key");
            }
            raw.put(k, e.getValue());
        }
        Map<String, Map<String, Value>> stages = new LinkedHashMap<>();
        for (String st : STAGES) {
            stages.put(st, new LinkedHashMap<>());
        }
        Map<String, Value> shared = new LinkedHashMap<>();
        raw.forEach((k, v) -> {
            if (isShared(k)) {
                shared.put(k, own.isDeclared(k) ? new Value(own.getString(k), own.source(k)) : v);
            }
        });
        raw.forEach((k, v) -> {
            String st = stageOf(k);
            boolean userSet = user.containsKey(k);
            if (st != null && (userSet || !v.value().isEmpty())) {
                stages.get(st).put(k.substring(st.length() + 1), v);
            } else if (k.startsWith("spark.") && (userSet || !v.value().isEmpty())) {
                stages.values().forEach(m -> m.put(k, v));
            }
        });
        return new Settings(own, shared, stages);
    }

    static boolean isShared(String key) {
        return SHARED_PREFIXES.stream().anyMatch(key::startsWith);
    }

    /** "sft" for "sft.train.steps", or null when the key is not a stage key. */
    public static String stageOf(String key) {
        for (String st : STAGES) {
            if (key.startsWith(st + ".") && key.length() > st.length() + 1) {
                return st;
            }
        }
        return null;
    }

    // ---------------------------------------------------------------- planning

    /**
     * Writes {@code <out>/conf/<stage>.properties} for each stage of {@code stages} and decides what
     * the pipeline does with it.
     *
     * @param wiring stage -> keys the caller provides (data files of the demo), below the user's
     * @param resume skip stages whose final model is complete and resume those with checkpoints;
     *               without it, a stage with any output is an error
     */
    public static List<Step> plan(Settings s, String out, List<String> stages, Map<String, Map<String, String>> wiring,
                                  boolean resume, Configuration hconf) throws IOException {
        for (String st : stages) {
            if (!STAGES.contains(st)) {
                throw new ConfigException("stages: unknown stage '" + st + "', expected some of " + STAGES);
            }
        }
        for (String k : s.shared().keySet()) {
            boolean someone = false;
            for (String st : STAGES) {
                JobConfig d = stageDefaults(st);
                someone |= d == null || d.isDeclared(k);
            }
            if (!someone) {
                throw new ConfigException("key '" + k + "' (" + s.shared().get(k).source() + ") is declared by none of the"
                        + " stages (conf/sft.properties, conf/reward.properties, conf/dpo.properties, "
                        + "conf/best-of-n.properties, conf/ppo.properties, conf/grpo.properties, conf/rloo.properties)");
            }
        }
        String base = out.replaceAll("/+$", "");
        List<Step> steps = new ArrayList<>();
        Map<String, String> finals = new LinkedHashMap<>();
        Map<String, String> confs = new LinkedHashMap<>(); // file -> text
        for (String st : STAGES) {
            Map<String, String> w = wiringOf(st, wiring);
            String report = finals.get(BEST_OF_N);
            if (RL_STAGES.contains(st) && (stages.contains(BEST_OF_N) || exists(report, hconf))) {
                w.putIfAbsent(PPO_BEST_OF_N_KEY, report); // read against the SFT model's best-of-n
            }
            Map<String, Value> keys = stageKeys(s, st, base, finals, w);
            String outDir = keys.get("output.dir").value();
            finals.put(st, outDir.replaceAll("/+$", "") + "/" + doneMarker(st));
            if (!stages.contains(st)) {
                continue;
            }
            check(st, keys);
            String file = base + "/conf/" + st + ".properties";
            confs.put(file, conf(st, keys));
            steps.add(new Step(st, action(st, outDir, resume, hconf), file, outDir));
        }
        // written once every stage is planned: a refused run leaves an earlier run's files as they were
        for (Map.Entry<String, String> c : confs.entrySet()) {
            TextFiles.write(c.getKey(), c.getValue(), hconf);
        }
        return steps;
    }

    /** The effective keys of one stage: wiring, then shared keys it declares, then its own keys. */
    static Map<String, Value> stageKeys(Settings s, String stage, String base, Map<String, String> finals,
                                        Map<String, String> callerWiring) {
        Map<String, Value> keys = new LinkedHashMap<>();
        keys.put("output.dir", new Value(base + "/" + stage, "the pipeline: <output>/" + stage));
        switch (stage) {
            case "reward" -> keys.put("model.init", new Value(finals.get("sft"), "the pipeline: SFT's final model"));
            case DPO -> {
                keys.put("model.init", new Value(finals.get("sft"), "the pipeline: SFT's final model"));
                // the reward stage's preferences, unless dpo.data.* says otherwise
                for (String k : List.of("data.train", "data.eval")) {
                    Value v = s.stage("reward").get(k);
                    if (v != null) {
                        keys.put(k, new Value(v.value(), "the pipeline: reward." + k + " (" + v.source() + ")"));
                    }
                }
            }
            case "ppo", "grpo", "rloo", BEST_OF_N -> {
                keys.put(PPO_POLICY_KEY, new Value(finals.get("sft"), "the pipeline: SFT's final model"));
                keys.put(PPO_REWARD_KEY, new Value(finals.get("reward"), "the pipeline: the reward model"));
            }
            default -> { }
        }
        callerWiring.forEach((k, v) -> keys.put(k, new Value(v, "the pipeline")));
        JobConfig defaults = stageDefaults(stage);
        s.shared().forEach((k, v) -> {
            if (defaults == null || defaults.isDeclared(k)) {
                keys.put(k, v);
            }
        });
        if (stage.equals(BEST_OF_N) || GROUP_STAGES.contains(stage)) {
            // the yardstick, GRPO and RLOO sample what PPO samples: PPO's prompts, and its generation and reward keys
            s.stage("ppo").forEach((k, v) -> {
                if (samplesLikePpo(stage, k, defaults)) {
                    keys.put(k, new Value(v.value(), "the pipeline: ppo." + k + " (" + v.source() + ")"));
                }
            });
        }
        keys.putAll(s.stage(stage));
        return keys;
    }

    /**
     * The values of each planned stage that the user gave (not the pipeline's wiring of one
     * stage's output into the next), by stage: what can be checked before anything runs.
     */
    static Map<String, Map<String, String>> userValues(Settings s, String out, List<String> stages) {
        Map<String, Map<String, String>> byStage = new LinkedHashMap<>();
        for (String st : stages) {
            Map<String, String> user = new LinkedHashMap<>();
            stageKeys(s, st, out.replaceAll("/+$", ""), Map.of(), Map.of()).forEach((k, v) -> {
                if (v.value() != null && !v.source().startsWith("the pipeline")) {
                    user.put(k, v.value());
                }
            });
            byStage.put(st, user);
        }
        return byStage;
    }

    /**
     * Whether {@code stage} takes PPO's value of key {@code k}: best-of-n, one it declares other than
     * its models and output; GRPO and RLOO, its data.*, gen.* and reward.* keys.
     */
    private static boolean samplesLikePpo(String stage, String k, JobConfig defaults) {
        boolean declared = (defaults == null || defaults.isDeclared(k)) && !k.equals("output.dir")
                && !k.startsWith("model.");
        return declared && (stage.equals(BEST_OF_N) || k.startsWith("data.") || k.startsWith("gen.")
                || k.startsWith("reward."));
    }

    /** The caller's wiring of {@code stage}; best-of-n, GRPO and RLOO also get PPO's (the demo's prompt file, for one). */
    private static Map<String, String> wiringOf(String stage, Map<String, Map<String, String>> wiring) {
        Map<String, String> w = new LinkedHashMap<>();
        if (stage.equals(BEST_OF_N) || GROUP_STAGES.contains(stage)) {
            JobConfig d = stageDefaults(stage);
            wiring.getOrDefault("ppo", Map.of()).forEach((k, v) -> {
                if (samplesLikePpo(stage, k, d)) {
                    w.put(k, v);
                }
            });
        }
        w.putAll(wiring.getOrDefault(stage, Map.of()));
        return w;
    }

    /**
     * The file whose presence under a stage's output directory means the stage is complete: the
     * final model, or best-of-n's report.
     */
    public static String doneMarker(String stage) {
        return stage.equals(BEST_OF_N) ? BestOfNJob.REPORT : FINAL;
    }

    /**
     * Keys of the PPO job the pipeline wires: the policy to start from, the reward model, and the
     * best-of-n report it is read against (when that stage runs or has run).
     */
    static final String PPO_POLICY_KEY = "model.policy";
    static final String PPO_REWARD_KEY = "model.reward";
    static final String PPO_BEST_OF_N_KEY = "eval.best_of_n_report";

    private static boolean exists(String file, Configuration hconf) throws IOException {
        Path p = new Path(file);
        return p.getFileSystem(hconf).exists(p);
    }

    /** The stage's defaults, or null when its conf/<stage>.properties is not on the class path or in conf/. */
    public static JobConfig stageDefaults(String stage) {
        try {
            return JobConfig.defaults(stage);
        } catch (ConfigException e) {
            return null;
        }
    }

    /** Every key must be one the stage declares (or spark.*): checked now, not when the stage starts. */
    private static void check(String stage, Map<String, Value> keys) {
        JobConfig d = stageDefaults(stage);
        if (d == null) {
            return;
        }
        for (Map.Entry<String, Value> e : keys.entrySet()) {
            try {
                d.set(e.getKey(), e.getValue().value(), stage + "." + e.getKey() + " (" + e.getValue().source() + ")");
            } catch (ConfigException ex) {
                throw new ConfigException("stage " + stage + ": " + ex.getMessage());
            }
        }
    }

    private static Action action(String stage, String outDir, boolean resume, Configuration hconf) throws IOException {
        Path fin = new Path(outDir.replaceAll("/+$", "") + "/" + doneMarker(stage));
        FileSystem fs = fin.getFileSystem(hconf);
        boolean done = fs.exists(fin) && (stage.equals(BEST_OF_N) || Checkpoint.isComplete(fs, fin));
        boolean started = !new RunCheckpoints(outDir, 0, 0, hconf).completeSteps().isEmpty();
        if (!resume && (done || started)) {
            throw new ConfigException("stage " + stage + ": " + outDir + " already holds "
                    + (done ? stage.equals(BEST_OF_N) ? "a best-of-n result" : "a final model" : "checkpoints")
                    + "; continue that run with --resume, or choose another output directory");
        }
        return done ? Action.SKIP : started ? Action.RESUME : Action.RUN;
    }

    /** The text of a stage's properties file. */
    private static String conf(String stage, Map<String, Value> keys) {
        StringBuilder b = new StringBuilder("# " + stage + " stage of the pipeline, written by rlhf.pipeline.PipelinePlan.\n"
                + "# Every other key has its default from conf/" + stage + ".properties.\n");
        for (Map.Entry<String, Value> e : keys.entrySet()) {
            String v = e.getValue().value();
            if (v.indexOf('\n') >= 0 || v.indexOf('\r') >= 0) {
                throw new ConfigException(stage + "." + e.getKey() + " (" + e.getValue().source()
                        + "): a value cannot contain a line break (write \\n)");
            }
            b.append("# from ").append(e.getValue().source()).append('\n')
                    .append(e.getKey()).append(" = ").append(v).append('\n');
        }
        return b.toString();
    }

    /**
     * A warning for each stage left out of {@code stages} whose final model a later stage needs
     * and that is not complete (the user may have pointed the later stage elsewhere).
     */
    static List<String> missingInputs(Settings s, String out, List<String> stages, Configuration hconf)
            throws IOException {
        List<String> warnings = new ArrayList<>();
        for (String st : STAGES) {
            if (stages.contains(st) || stages.stream().noneMatch(x -> NEEDS.getOrDefault(x, List.of()).contains(st))) {
                continue; // no planned stage starts from this one's model
            }
            Map<String, Value> keys = stageKeys(s, st, out.replaceAll("/+$", ""), Map.of(), Map.of());
            Path fin = new Path(keys.get("output.dir").value().replaceAll("/+$", "") + "/" + FINAL);
            FileSystem fs = fin.getFileSystem(hconf);
            if (!fs.exists(fin) || !Checkpoint.isComplete(fs, fin)) {
                warnings.add("stage " + st + " is not in 'stages' and " + fin + " is not a complete model; the later"
                        + " stages need it unless their keys point elsewhere");
            }
        }
        return warnings;
    }
}
