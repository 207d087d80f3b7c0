package rlhf.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.pipeline.PipelinePlan;

class DemoSetupTest {

    @TempDir
    Path tmp;

    final Configuration hconf = new Configuration();

    static JobConfig written(String out, String stage) {
        return JobConfig.defaultsFromPath(out + "/conf/" + stage + ".properties");
    }

    @Test
    void theDemoWiresItsDataIntoTheStagesAndChecksWhatTheRewardModelTrainsOn() throws IOException {
        PipelinePlan.Settings s = PipelinePlan.load("demo", null, List.of("sft.train.steps=3", "model.n_embd=32"));
        Map<String, Map<String, String>> w = DemoSetup.wiring(s.own(), "R");
        assertEquals("R/data/sft_train.jsonl", w.get("sft").get("data.train"));
        assertEquals("R/tokenizer", w.get("sft").get("tokenizer.path"));
        assertEquals("R/data/prefs_train.jsonl", w.get("reward").get("data.train"));
        assertEquals("R/data/prefs_eval.jsonl", w.get("reward").get("data.eval"));
        String out = tmp.resolve("demo").toString();
        PipelinePlan.plan(s, out, PipelinePlan.STAGES, w, false, hconf);
        JobConfig sft = written(out, "sft");
        assertEquals("3", sft.getString("train.steps"));
        assertEquals("32", sft.getString("model.n_embd"));
        assertEquals("R/data/sft_train.jsonl", sft.getString("data.train"));
        // best-of-n, when a user adds it, samples PPO's prompts with PPO's generation keys
        JobConfig bestOfN = written(out, PipelinePlan.BEST_OF_N);
        assertEquals("R/data/ppo_prompts.jsonl", bestOfN.getString("data.prompts"));
        assertEquals(written(out, "ppo").getString("gen.max_new_tokens"), bestOfN.getString("gen.max_new_tokens"));
        assertEquals(out + "/sft/final", bestOfN.getString("model.policy"));

        PipelinePlan.Settings ranked = PipelinePlan.load("demo", null, List.of("demo.reward_data=rankings"));
        assertEquals("R/data/rankings_train.jsonl", DemoSetup.wiring(ranked.own(), "R").get("reward").get("data.train"));
        PipelinePlan.Settings bad = PipelinePlan.load("demo", null, List.of("demo.reward_data=triples"));
        ConfigException e = assertThrows(ConfigException.class, () -> DemoSetup.wiring(bad.own(), "R"));
        assertTrue(e.getMessage().contains("triples") && e.getMessage().contains("pairs or rankings"), e.getMessage());
    }

}
