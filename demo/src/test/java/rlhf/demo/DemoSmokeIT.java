package rlhf.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import rlhf.cli.Launcher;
import rlhf.io.Checkpoint;

/**
 * The demo's orchestration end to end at toy sizes: {@code bin/rlhf demo} generates the data,
 * trains the tokenizer, runs the real SFT, reward and PPO jobs (one Spark application, as a user's
 * run does), evaluates and writes the report; a second run with {@code --resume} skips every
 * finished stage; without it an existing run directory is refused.
 *
 * <p>An integration test: it runs the packaged demo jar through the launcher, as a user does.
 */
class DemoSmokeIT {

    @TempDir
    Path tmp;


    static final List<String> TINY = List.of(
            "demo.sft_train=160", "demo.sft_eval=16", "demo.prefs_train=64", "demo.prefs_eval=32",
            "demo.ppo_prompts=32", "demo.heldout_prompts=24",
            "model.n_layer=1", "model.n_head=2", "model.n_embd=32", "model.n_positions=48",
            "data.context_length=48", "tokenizer.vocab_size=300",
            "sft.train.steps=3", "sft.train.global_batch=8", "sft.train.micro_batch=8", "sft.eval.every=0",
            "sft.checkpoint.every=0", "sft.optim.warmup_steps=0",
            "reward.train.steps=2", "reward.train.global_batch=8", "reward.train.micro_batch=8",
            "reward.eval.every=0", "reward.checkpoint.every=0", "reward.optim.warmup_steps=0",
            "ppo.ppo.iterations=2", "ppo.ppo.rollouts=8", "ppo.ppo.minibatches=2", "ppo.ppo.epochs=1",
            "ppo.ppo.micro_batch=8", "ppo.gen.batch=8", "ppo.gen.max_new_tokens=6", "ppo.checkpoint.every=1",
            "ppo.samples.every=0",
            "eval.samples=2", "eval.max_new_tokens=6", "eval.show=4");

    @Test
    void demoRunsTheThreeJobsEvaluatesReportsAndResumes() throws Exception {
        String run = tmp.resolve("run").toString();
        Launcher.Result r = demo(run, false);
        assertEquals(0, r.code(), "exit code; stderr:\n" + r.stderr());

        Configuration hconf = new Configuration();
        FileSystem fs = FileSystem.getLocal(hconf);
        for (String stage : List.of("sft", "reward", "ppo")) {
            assertTrue(Checkpoint.isComplete(fs, new org.apache.hadoop.fs.Path(run + "/" + stage + "/final")),
                    stage + "/final is a complete checkpoint; stderr:\n" + r.stderr());
            assertTrue(Files.size(Path.of(run, stage, "metrics.jsonl")) > 0, stage + " metrics");
        }
        JsonNode summary = new ObjectMapper().readTree(Path.of(run, "report", "summary.json").toFile());
        for (String policy : List.of("random init", "SFT", "PPO")) {
            double acc = summary.path("policies").path(policy).path("sampled").path("accuracy").asDouble(-1);
            assertTrue(acc >= 0 && acc <= 1, policy + " sampled accuracy " + acc);
        }
        assertEquals(32, summary.path("reward_model").path("pairs").asInt());
        // the yardstick: the SFT model's best of 4 by the reward model on the held-out prompts
        JsonNode bon = summary.path("best_of_n");
        assertEquals(4, bon.path("n").asInt(), summary.toString());
        double chosen = bon.path("accuracy_chosen").asDouble(-1);
        assertTrue(chosen >= 0 && chosen <= 1, "best-of-4 accuracy " + chosen);
        assertTrue(r.stdout().contains("best-of-4 SFT"), "summary table:\n" + r.stdout());
        // SFT as iteration 0, then the two PPO checkpoints
        assertEquals(3, summary.path("ppo_gold_accuracy").size(), summary.toString());
        String html = Files.readString(Path.of(run, "report", "index.html"));
        assertTrue(html.contains("chart-1.png") && Files.exists(Path.of(run, "report", "chart-1.png")));
        assertTrue(html.contains("Sample generations"), "samples before and after PPO");
        assertTrue(r.stdout().contains("SFT") && r.stdout().contains("PPO") && r.stdout().contains("reward model:"),
                "summary table:\n" + r.stdout());
        assertTrue(Files.exists(Path.of(run, "eval", "ppo-sampled.jsonl")));

        Launcher.Result again = demo(run, false);
        assertTrue(again.code() != 0 && again.stderr().contains("--resume"), "an existing run is refused:\n" + again.stderr());

        Launcher.Result resumed = demo(run, true);
        assertEquals(0, resumed.code(), "exit code; stderr:\n" + resumed.stderr());
        for (String stage : List.of("sft", "reward", "ppo")) {
            assertTrue(resumed.stderr().contains(stage + ": already complete"), resumed.stderr());
        }
    }

    /** bin/rlhf demo: spark-submit of the packaged demo jar in local[2]. */
    Launcher.Result demo(String run, boolean resume) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("demo", "--out", run, "--master", "local[2]"));
        for (String s : TINY) {
            cmd.addAll(List.of("--set", s));
        }
        if (resume) {
            cmd.add("--resume");
        }
        return new Launcher(tmp).rlhf(300, cmd.toArray(String[]::new));
    }
}
