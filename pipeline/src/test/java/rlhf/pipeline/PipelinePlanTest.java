package rlhf.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.io.RunCheckpoints;
import rlhf.io.Safetensors;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;

class PipelinePlanTest {

    @TempDir
    Path tmp;
    final Configuration hconf = new Configuration();

    Path userFile(String... lines) throws IOException {
        Path f = tmp.resolve("my.properties");
        Files.write(f, List.of(lines));
        return f;
    }

    JobConfig written(String out, String stage) {
        return JobConfig.defaultsFromPath(out + "/conf/" + stage + ".properties");
    }

    @Test
    void theInputsCheckedBeforeSparkAreTheUsersNotThePipelinesWiring() {
        PipelinePlan.Settings s = PipelinePlan.load("pipeline", null, List.of("sft.data.train=/d/sft.jsonl",
                "reward.data.train=/d/prefs.jsonl", "ppo.data.prompts=/d/prompts.jsonl", "tokenizer.path=/tok"));
        Map<String, Map<String, String>> user = PipelinePlan.userValues(s, "/runs/x", List.of("sft", "reward", "ppo"));
        assertEquals(List.of("sft", "reward", "ppo"), List.copyOf(user.keySet()));
        assertEquals("/d/sft.jsonl", user.get("sft").get("data.train"));
        assertEquals("/tok", user.get("reward").get("tokenizer.path"), "shared keys go to every stage");
        assertEquals("/d/prompts.jsonl", user.get("ppo").get("data.prompts"));
        assertFalse(user.get("reward").containsKey("model.init"), "SFT's model is the pipeline's, made later");
        assertFalse(user.get("ppo").containsKey("output.dir"));
    }

    @Test
    void stageFilesLayerTheWiringTheSharedKeysAndTheStageKeys() throws IOException {
        Path f = userFile("sft.data.train = /data/demos.jsonl", "reward.data.train = /data/prefs.jsonl",
                "data.template = plain", "reward.optim.lr = 2e-5", "spark.executor.memory = 3g");
        PipelinePlan.Settings s = PipelinePlan.load("pipeline", f.toString(), List.of("sft.train.steps=7",
                "data.context_length=128", "model.dropout=0.1"));
        String out = tmp.resolve("run").toString();
        List<PipelinePlan.Step> steps = PipelinePlan.plan(s, out, PipelinePlan.DEFAULT_STAGES, Map.of(), false, hconf);
        assertEquals(List.of("sft", "reward", "ppo"), steps.stream().map(PipelinePlan.Step::stage).toList());
        steps.forEach(p -> assertEquals(PipelinePlan.Action.RUN, p.action()));

        JobConfig sft = written(out, "sft");
        assertEquals(out + "/sft", sft.getString("output.dir"));
        assertEquals("/data/demos.jsonl", sft.getString("data.train"));
        assertEquals("7", sft.getString("train.steps"));
        assertEquals("plain", sft.getString("data.template"));
        assertEquals("128", sft.getString("data.context_length"));
        assertEquals("3g", sft.getString("spark.executor.memory"));
        assertEquals("0.1", sft.getString("model.dropout"), "an undeclared key for every stage");
        assertFalse(sft.isDeclared("data.eval"), "an empty stage key of the chain file is not passed on");

        JobConfig reward = written(out, "reward");
        assertEquals(out + "/sft/final", reward.getString("model.init"), "the reward model starts from SFT");
        assertEquals("2e-5", reward.getString("optim.lr"));
        assertEquals("plain", reward.getString("data.template"));
        assertFalse(reward.isDeclared("train.steps"), "stage keys stay in their stage");

        JobConfig ppo = written(out, "ppo");
        assertFalse(ppo.isDeclared(PipelinePlan.PPO_BEST_OF_N_KEY), "no best-of-n stage, no report");
        assertEquals(out + "/sft/final", ppo.getString(PipelinePlan.PPO_POLICY_KEY));
        assertEquals(out + "/reward/final", ppo.getString(PipelinePlan.PPO_REWARD_KEY));
        assertEquals("3g", s.own().getString("spark.executor.memory"), "spark.* keys are the application's too");
    }

    @Test
    void aStageKeyWinsOverTheWiringAndMovesWhatFollows() throws IOException {
        String elsewhere = tmp.resolve("elsewhere").toString();
        PipelinePlan.Settings s = PipelinePlan.load("pipeline", null, List.of("sft.output.dir=" + elsewhere,
                "ppo." + PipelinePlan.PPO_REWARD_KEY + "=/models/rm"));
        String out = tmp.resolve("run").toString();
        List<PipelinePlan.Step> steps = PipelinePlan.plan(s, out, PipelinePlan.DEFAULT_STAGES, Map.of(), false, hconf);
        assertEquals(elsewhere, steps.get(0).outputDir());
        assertEquals(elsewhere + "/final", written(out, "reward").getString("model.init"));
        assertEquals("/models/rm", written(out, "ppo").getString(PipelinePlan.PPO_REWARD_KEY));
    }

    @Test
    void bestOfNSamplesLikePpoUnlessToldOtherwiseAndItsReportMarksItDone() throws IOException {
        PipelinePlan.Settings s = PipelinePlan.load("pipeline", null, List.of("ppo.data.prompts=/data/prompts.jsonl",
                "ppo.gen.max_new_tokens=24", "ppo.gen.temperature=0.7", "ppo.ppo.rollouts=32", "ppo.reward.missing_eos_penalty=1",
                "best-of-n.gen.n=8", "best-of-n.gen.temperature=1.0", "data.template=plain",
                "stages=sft,best-of-n,reward,ppo"));
        String out = tmp.resolve("run").toString();
        List<PipelinePlan.Step> steps = PipelinePlan.plan(s, out, s.own().getList("stages"), Map.of(), false, hconf);
        assertEquals(List.of("sft", "reward", "best-of-n", "ppo"), steps.stream().map(PipelinePlan.Step::stage).toList(),
                "stages run in their fixed order");
        JobConfig bon = written(out, PipelinePlan.BEST_OF_N);
        assertEquals(out + "/sft/final", bon.getString("model.policy"));
        assertEquals(out + "/reward/final", bon.getString("model.reward"));
        assertEquals(out + "/best-of-n", bon.getString("output.dir"));
        assertEquals("/data/prompts.jsonl", bon.getString("data.prompts"));
        assertEquals("24", bon.getString("gen.max_new_tokens"));
        assertEquals("1", bon.getString("reward.missing_eos_penalty"));
        assertEquals("plain", bon.getString("data.template"));
        assertEquals("8", bon.getString("gen.n"));
        assertEquals("1.0", bon.getString("gen.temperature"), "its own key wins over PPO's");
        assertFalse(bon.isDeclared("ppo.rollouts"));
        assertEquals(out + "/best-of-n/report.json", written(out, "ppo").getString(PipelinePlan.PPO_BEST_OF_N_KEY),
                "PPO is read against the best-of-n frontier of its start");

        Files.createDirectories(Path.of(out, "best-of-n"));
        Files.writeString(Path.of(out, "best-of-n", "report.json"), "{}");
        ConfigException e = assertThrows(ConfigException.class, () -> PipelinePlan.plan(s, out,
                List.of(PipelinePlan.BEST_OF_N), Map.of(), false, hconf));
        assertTrue(e.getMessage().contains("already holds a best-of-n result"), e.getMessage());
        assertEquals(PipelinePlan.Action.SKIP, PipelinePlan.plan(s, out, List.of(PipelinePlan.BEST_OF_N), Map.of(), true,
                hconf).get(0).action());
        assertEquals(List.of(), PipelinePlan.missingInputs(s, out, List.of("ppo"), hconf).stream()
                .filter(w -> w.contains("best-of-n")).toList(), "PPO does not need best-of-n");
    }

    @Test
    void dpoStartsFromSftOnTheRewardStagesPreferencesAndNeedsNoRewardModel() throws IOException {
        PipelinePlan.Settings s = PipelinePlan.load("pipeline", null, List.of("reward.data.train=/data/prefs.jsonl",
                "reward.data.eval=/data/prefs_eval.jsonl", "dpo.dpo.beta=0.2", "data.template=plain",
                "stages=sft,dpo"));
        String out = tmp.resolve("run-dpo").toString();
        List<PipelinePlan.Step> steps = PipelinePlan.plan(s, out, s.own().getList("stages"), Map.of(), false, hconf);
        assertEquals(List.of("sft", "dpo"), steps.stream().map(PipelinePlan.Step::stage).toList());
        JobConfig dpo = written(out, PipelinePlan.DPO);
        assertEquals(out + "/sft/final", dpo.getString("model.init"));
        assertEquals("/data/prefs.jsonl", dpo.getString("data.train"));
        assertEquals("/data/prefs_eval.jsonl", dpo.getString("data.eval"));
        assertEquals("0.2", dpo.getString("dpo.beta"));
        assertEquals("plain", dpo.getString("data.template"));
        assertEquals(out + "/dpo", dpo.getString("output.dir"));
        assertEquals(List.of(), PipelinePlan.missingInputs(s, out, List.of("dpo"), hconf).stream()
                .filter(w -> w.contains("reward")).toList(), "DPO does not need the reward model");
        assertEquals(1, PipelinePlan.missingInputs(s, out, List.of("dpo"), hconf).size(), "but it needs SFT's");

        PipelinePlan.Settings own = PipelinePlan.load("pipeline", null, List.of("reward.data.train=/data/prefs.jsonl",
                "dpo.data.train=/data/other.jsonl", "stages=dpo", "dpo.model.init=/models/sft"));
        PipelinePlan.plan(own, tmp.resolve("run-dpo2").toString(), List.of("dpo"), Map.of(), false, hconf);
        JobConfig mine = written(tmp.resolve("run-dpo2").toString(), PipelinePlan.DPO);
        assertEquals("/data/other.jsonl", mine.getString("data.train"), "dpo's own data wins");
        assertEquals("/models/sft", mine.getString("model.init"));

        PipelinePlan.Settings typo = PipelinePlan.load("pipeline", null, List.of("dpo.dpo.betta=0.2", "stages=dpo"));
        ConfigException e = assertThrows(ConfigException.class, () -> PipelinePlan.plan(typo,
                tmp.resolve("run-dpo3").toString(), List.of("dpo"), Map.of(), false, hconf));
        assertTrue(e.getMessage().contains("stage dpo") && e.getMessage().contains("dpo.betta"), e.getMessage());
    }

    @Test
    void grpoAndRlooStartFromSftAndSampleWhatPpoSamplesUnlessTheirOwnKeysSay() throws IOException {
        PipelinePlan.Settings s = PipelinePlan.load("pipeline", null, List.of("ppo.data.prompts=/data/prompts.jsonl",
                "ppo.gen.max_new_tokens=12", "ppo.reward.kind=rule", "ppo.reward.rule=exact",
                "ppo.data.columns.reference=answer", "ppo.optim.policy_lr=1e-4", "grpo.grpo.samples_per_prompt=8",
                "rloo.reward.kind=model", "stages=sft,reward,grpo,rloo"));
        String out = tmp.resolve("run-grpo").toString();
        List<PipelinePlan.Step> steps = PipelinePlan.plan(s, out, s.own().getList("stages"), Map.of(), false, hconf);
        assertEquals(List.of("sft", "reward", "grpo", "rloo"), steps.stream().map(PipelinePlan.Step::stage).toList());
        JobConfig grpo = written(out, "grpo");
        assertEquals(out + "/sft/final", grpo.getString("model.policy"));
        assertEquals(out + "/reward/final", grpo.getString("model.reward"));
        assertEquals("/data/prompts.jsonl", grpo.getString("data.prompts"));
        assertEquals("12", grpo.getString("gen.max_new_tokens"));
        assertEquals("rule", grpo.getString("reward.kind"));
        assertEquals("answer", grpo.getString("data.columns.reference"));
        assertEquals("8", grpo.getString("grpo.samples_per_prompt"));
        assertFalse(grpo.isDeclared("optim.policy_lr"), "PPO's optimizer keys stay PPO's");
        assertEquals(out + "/grpo", grpo.getString("output.dir"));
        JobConfig rloo = written(out, "rloo");
        assertEquals("model", rloo.getString("reward.kind"), "rloo's own key wins over PPO's");
        assertEquals(out + "/rloo", rloo.getString("output.dir"));
        assertEquals(List.of(), PipelinePlan.missingInputs(s, out, List.of("grpo"), hconf).stream()
                .filter(w -> w.contains("reward")).toList(), "GRPO with a rule needs no reward model");
    }

    @Test
    void unknownKeysAreErrorsNamingFileAndLine() throws IOException {
        Path f = userFile("# mine", "output.dir = x", "sft_steps = 3");
        ConfigException e = assertThrows(ConfigException.class,
                () -> PipelinePlan.load("pipeline", f.toString(), List.of()));
        assertTrue(e.getMessage().contains("'sft_steps'") && e.getMessage().contains("my.properties line 3"),
                e.getMessage());
        e = assertThrows(ConfigException.class, () -> PipelinePlan.load("pipeline", null, List.of("stagez=sft")));
        assertTrue(e.getMessage().contains("'stagez'") && e.getMessage().contains("--set"), e.getMessage());
        PipelinePlan.Settings typo = PipelinePlan.load("pipeline", null, List.of("model.n_layers=2"));
        e = assertThrows(ConfigException.class, () -> PipelinePlan.plan(typo, tmp.toString(), PipelinePlan.DEFAULT_STAGES,
                Map.of(), false, hconf));
        assertTrue(e.getMessage().contains("'model.n_layers'") && e.getMessage().contains("none of the stages"),
                e.getMessage());
        PipelinePlan.Settings s = PipelinePlan.load("pipeline", null, List.of("stages=sft,rm"));
        e = assertThrows(ConfigException.class, () -> PipelinePlan.plan(s, tmp.toString(),
                s.own().getList("stages"), Map.of(), false, hconf));
        assertTrue(e.getMessage().contains("'rm'"), e.getMessage());
    }

    @Test
    void resumeSkipsFinishedStagesResumesStartedOnesAndWithoutItNothingIsOverwritten() throws IOException {
        String out = tmp.resolve("run").toString();
        Checkpoint tiny = tinyCheckpoint();
        tiny.save(out + "/sft/final", hconf);
        new RunCheckpoints(out + "/reward", 5, 0, hconf).save(5, tiny, Safetensors.Dtype.F32);
        // an incomplete final (no marker) does not count as done
        Files.createDirectories(Path.of(out, "ppo", "final"));
        PipelinePlan.Settings s = PipelinePlan.load("pipeline", null, List.of());

        ConfigException e = assertThrows(ConfigException.class,
                () -> PipelinePlan.plan(s, out, PipelinePlan.DEFAULT_STAGES, Map.of(), false, hconf));
        assertTrue(e.getMessage().contains("stage sft") && e.getMessage().contains("--resume"), e.getMessage());

        List<PipelinePlan.Step> steps = PipelinePlan.plan(s, out, PipelinePlan.DEFAULT_STAGES, Map.of(), true, hconf);
        assertEquals(List.of(PipelinePlan.Action.SKIP, PipelinePlan.Action.RESUME, PipelinePlan.Action.RUN),
                steps.stream().map(PipelinePlan.Step::action).toList());
        assertEquals(out + "/conf/reward.properties", steps.get(1).configFile());
    }

    static Checkpoint tinyCheckpoint() {
        GptConfig g = GptConfig.gpt2(260, 8, 1, 1, 4);
        return new Checkpoint(ModelConfigJson.of(g, 256), new float[ParamLayout.of(g).size()], null, null);
    }
}
