package rlhf.bestofn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.data.DatasetSource;
import rlhf.data.Demonstration;
import rlhf.data.PromptTemplate;
import rlhf.io.ModelConfigJson;
import rlhf.io.RewardScale;
import rlhf.io.TinyCheckpoints;
import rlhf.model.GptConfig;
import rlhf.model.RewardScorer;
import rlhf.rules.RuleReward;
import rlhf.spark.TestSpark;
import rlhf.tokenizer.BpeTokenizer;

/** Best-of-n end to end on tiny models: what is chosen, what is recorded, what does not change it. */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class BestOfNJobTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final List<String> PROMPTS = List.of("a", "bb", "ccc", "dddd", "e", "ff", "ggg", "h", "ii", "jjj");

    static SparkSession spark;
    static BpeTokenizer tok;

    /** The first character's code modulo 5 (ties on purpose); 0 for an empty response. */
    public static final class FirstCharMod5 implements RuleReward {
        @Override
        public double score(String prompt, String response) {
            return response.isEmpty() ? 0 : response.codePointAt(0) % 5;
        }
    }

    /** 1 when the response is longer than the prompt, else 0: a "gold" rule unrelated to the reward. */
    public static final class LongerThanPrompt implements RuleReward {
        @Override
        public double score(String prompt, String response) {
            return response.length() > prompt.length() ? 1 : 0;
        }
    }

    @BeforeAll
    static void start() {
        spark = TestSpark.local(2, "best-of-n-test");
        tok = TinyCheckpoints.bytesTokenizer(spark);
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** A rule-reward run of a random tiny policy on the ten prompts. */
    static JobConfig config(BpeTokenizer tok, Path dir, String run, Map<String, String> overrides) throws Exception {
        GptConfig cfg = TinyCheckpoints.tinyConfig(tok);
        String policy = Files.isDirectory(dir.resolve("sft")) ? dir.resolve("sft").toString()
                : TinyCheckpoints.save(dir, "sft", cfg, TinyCheckpoints.init(cfg, 3), tok);
        Map<String, String> keys = new HashMap<>(Map.of(
                "data.prompts", TinyCheckpoints.writePrompts(dir, "prompts.jsonl", PROMPTS),
                "data.template", "plain", "data.max_prompt_tokens", "6", "data.partitions", "2",
                "model.policy", policy, "reward.kind", "rule", "reward.rule", FirstCharMod5.class.getName(),
                "gen.max_new_tokens", "5", "gen.batch", "3", "output.dir", dir.resolve(run).toString()));
        keys.putAll(overrides);
        JobConfig c = JobConfig.defaults("best-of-n");
        keys.forEach((k, v) -> c.set(k, v, "test"));
        return c;
    }

    static List<JsonNode> lines(Path file) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String l : Files.readAllLines(file)) {
            out.add(JSON.readTree(l));
        }
        return out;
    }

    @Test
    void chosenIsTheFirstHighestScoringSampleAndTheReportAddsUp(@TempDir Path dir) throws Exception {
        BestOfNJob.run(spark, config(tok, dir, "run", Map.of("eval.gold_rule", LongerThanPrompt.class.getName())));
        Path out = dir.resolve("run");
        List<JsonNode> samples = lines(out.resolve(BestOfNJob.SAMPLES));
        List<JsonNode> chosen = lines(out.resolve(BestOfNJob.CHOSEN));
        assertEquals(40, samples.size());
        assertEquals(10, chosen.size());
        RuleReward rule = new FirstCharMod5();
        RuleReward gold = new LongerThanPrompt();
        double meanScore = 0, meanChosen = 0, meanGold = 0, meanChosenGold = 0;
        int pairs = 0;
        for (int i = 0; i < 10; i++) {
            int best = -1;
            double bestScore = Double.NEGATIVE_INFINITY, worstScore = Double.POSITIVE_INFINITY;
            for (int j = 0; j < 4; j++) {
                JsonNode s = samples.get(i * 4 + j);
                assertEquals(i, s.get("prompt_index").asInt());
                assertEquals(PROMPTS.get(i), s.get("prompt").asText());
                double expect = rule.score(PROMPTS.get(i), s.get("response").asText());
                assertEquals(expect, s.get("reward").asDouble(), 0);
                assertEquals(expect, s.get("score").asDouble(), 0); // a rule: no scale, no EOS penalty by default
                assertEquals(gold.score(PROMPTS.get(i), s.get("response").asText()), s.get("gold").asDouble(), 0);
                if (expect > bestScore) {
                    bestScore = expect;
                    best = j;
                }
                worstScore = Math.min(worstScore, expect);
                meanScore += expect / 40;
                meanGold += s.get("gold").asDouble() / 40;
            }
            JsonNode c = chosen.get(i);
            assertEquals(best, c.get("sample").asInt(), "prompt " + i);
            assertTrue(samples.get(i * 4 + best).get("chosen").asBoolean());
            assertEquals(samples.get(i * 4 + best).get("response").asText(), c.get("response").asText());
            assertEquals(0.6362944, c.get("kl_bound").asDouble(), 1e-7);
            meanChosen += bestScore / 10;
            meanChosenGold += c.get("gold").asDouble() / 10;
            pairs += worstScore < bestScore ? 1 : 0;
        }
        JsonNode report = JSON.readTree(out.resolve(BestOfNJob.REPORT).toFile());
        assertEquals(10, report.get("prompts").asInt());
        assertEquals(4, report.get("n").asInt());
        assertEquals(0.6362944, report.get("kl_bound").asDouble(), 1e-7);
        assertEquals(meanScore, report.get("score_one_sample").asDouble(), 1e-12);
        assertEquals(meanChosen, report.get("score_best_of_n").asDouble(), 1e-12);
        assertEquals(meanGold, report.get("gold_one_sample").asDouble(), 1e-12);
        assertEquals(meanChosenGold, report.get("gold_best_of_n").asDouble(), 1e-12);
        JsonNode frontier = report.get("frontier");
        assertEquals(4, frontier.size());
        for (int k = 1; k < 4; k++) {
            assertTrue(frontier.get(k).get("score").asDouble() >= frontier.get(k - 1).get("score").asDouble());
        }
        assertTrue(meanChosen > meanScore, "the best of 4 must beat one sample on this rule");
        List<JsonNode> pairRows = lines(out.resolve(BestOfNJob.PAIRS));
        assertTrue(pairRows.size() <= pairs && pairRows.size() > 0);
        for (JsonNode p : pairRows) {
            assertTrue(rule.score(p.get("prompt").asText(), p.get("chosen").asText())
                    > rule.score(p.get("prompt").asText(), p.get("rejected").asText()));
        }
    }

    @Test
    void samplesDependOnNeitherThePartitioningNorN(@TempDir Path dir) throws Exception {
        BestOfNJob.run(spark, config(tok, dir, "p1", Map.of("data.partitions", "1")));
        BestOfNJob.run(spark, config(tok, dir, "p3", Map.of("data.partitions", "3", "gen.batch", "5")));
        BestOfNJob.run(spark, config(tok, dir, "n2", Map.of("gen.n", "2")));
        assertEquals(Files.readString(dir.resolve("p1").resolve(BestOfNJob.SAMPLES)),
                Files.readString(dir.resolve("p3").resolve(BestOfNJob.SAMPLES)));
        List<JsonNode> four = lines(dir.resolve("p1").resolve(BestOfNJob.SAMPLES));
        List<JsonNode> two = lines(dir.resolve("n2").resolve(BestOfNJob.SAMPLES));
        for (int i = 0; i < 10; i++) {
            for (int j = 0; j < 2; j++) {
                assertEquals(four.get(i * 4 + j).get("response"), two.get(i * 2 + j).get("response"));
            }
        }
        Set<String> distinct = new java.util.HashSet<>();
        four.forEach(s -> distinct.add(s.get("response").asText()));
        assertTrue(distinct.size() > 30, "samples of a prompt must differ: " + distinct.size() + " distinct of 40");
    }

    /** A tiny reward model over the byte tokenizer. */
    static final GptConfig REWARD_MODEL = GptConfig.gpt2(257, 32, 1, 2, 16).withScoreHead(true);

    /** Saves a reward model that records mean 0.25 and std 2 and appends EOS; returns its directory. */
    static String saveRewardModel(Path dir, float[] params) throws Exception {
        String rm = dir.resolve("rm").toString();
        new rlhf.io.Checkpoint(ModelConfigJson.of(REWARD_MODEL, tok.eosId()).withExtra(RewardScorer.APPENDS_EOS_KEY,
                true).withExtra(RewardScale.MEAN_KEY, 0.25).withExtra(RewardScale.STD_KEY, 2.0), params,
                TinyCheckpoints.files(tok), null).save(rm, new org.apache.hadoop.conf.Configuration());
        return rm;
    }

    @Test
    void aRewardModelScoresPromptPlusResponsePlusEosOnItsRecordedScale(@TempDir Path dir) throws Exception {
        GptConfig rc = REWARD_MODEL;
        float[] rp = TinyCheckpoints.init(rc, 11);
        String rm = saveRewardModel(dir, rp);
        BestOfNJob.run(spark, config(tok, dir, "rm-run", Map.of("reward.kind", "model", "model.reward", rm,
                "reward.missing_eos_penalty", "1.5")));
        RewardScorer scorer = new RewardScorer(rc, 1, 32);
        float[] r = new float[1];
        for (JsonNode s : lines(dir.resolve("rm-run").resolve(BestOfNJob.SAMPLES))) {
            int[] prompt = tok.encode(s.get("prompt").asText());
            JsonNode ids = s.get("response_ids");
            boolean eos = s.get("ended_with_eos").asBoolean();
            int[] response = new int[ids.size() + (eos ? 1 : 0)]; // as sampled: EOS when it ended on one
            for (int t = 0; t < ids.size(); t++) {
                response[t] = ids.get(t).asInt();
            }
            if (eos) {
                response[ids.size()] = tok.eosId();
            }
            assertEquals(tok.decode(java.util.Arrays.copyOf(response, ids.size())), s.get("response").asText());
            scorer.score(rp, new int[][] {prompt}, new int[][] {response}, 1, true, tok.eosId(), r);
            assertEquals(r[0], s.get("reward").asDouble(), 1e-6);
            assertEquals((r[0] - 0.25) / 2.0 - (eos ? 0 : 1.5), s.get("score").asDouble(), 1e-6);
        }
    }

    /** The length of the prompt row's reference answer (-1 without one): proves the reference reaches the rules. */
    public static final class ReferenceLength implements RuleReward {
        @Override
        public double score(String prompt, String response) {
            return -1;
        }

        @Override
        public double score(String prompt, String response, String reference) {
            return reference == null ? -1 : reference.length();
        }
    }

    @Test
    void aWeightedSumAddsTheModelOnItsScaleAndRulesThatReadTheReferenceColumn(@TempDir Path dir) throws Exception {
        GptConfig rc = REWARD_MODEL;
        float[] rp = TinyCheckpoints.init(rc, 12);
        String rm = saveRewardModel(dir, rp);
        StringBuilder rows = new StringBuilder();
        for (int i = 0; i < PROMPTS.size(); i++) {
            rows.append("{\"prompt\": \"").append(PROMPTS.get(i)).append("\", \"answer\": \"ref-").append(i)
                    .append("\"}\n");
        }
        Path prompts = dir.resolve("with-answers.jsonl");
        Files.writeString(prompts, rows.toString());
        BestOfNJob.run(spark, config(tok, dir, "sum-run", Map.of("data.prompts", prompts.toString(),
                "data.columns.reference", "answer", "reward.kind", "sum", "model.reward", rm,
                "reward.sum", "model:2, exact:1, length:0.5", "reward.length_target", "2",
                "eval.gold_rule", ReferenceLength.class.getName())));
        RewardScorer scorer = new RewardScorer(rc, 1, 32);
        float[] r = new float[1];
        int checked = 0;
        for (JsonNode s : lines(dir.resolve("sum-run").resolve(BestOfNJob.SAMPLES))) {
            String prompt = s.get("prompt").asText();
            String reference = "ref-" + PROMPTS.indexOf(prompt);
            assertEquals(reference.length(), s.get("gold").asDouble(), 0, "the gold rule saw the row's reference");
            JsonNode ids = s.get("response_ids");
            boolean eos = s.get("ended_with_eos").asBoolean();
            int[] response = new int[ids.size() + (eos ? 1 : 0)];
            for (int t = 0; t < ids.size(); t++) {
                response[t] = ids.get(t).asInt();
            }
            if (eos) {
                response[ids.size()] = tok.eosId();
            }
            scorer.score(rp, new int[][] {tok.encode(prompt)}, new int[][] {response}, 1, true, tok.eosId(), r);
            String text = s.get("response").asText();
            double exact = text.strip().equals(reference) ? 1 : 0;
            double length = -Math.max(0, text.length() - 2) / 2.0;
            assertEquals(2 * r[0] + exact + 0.5 * length, s.get("reward").asDouble(), 1e-5, "raw: the model unscaled");
            assertEquals(2 * (r[0] - 0.25) / 2.0 + exact + 0.5 * length, s.get("score").asDouble(), 1e-5,
                    "score: the model on its recorded scale");
            checked++;
        }
        assertEquals(PROMPTS.size() * 4, checked);
        JsonNode report = JSON.readTree(dir.resolve("sum-run").resolve(BestOfNJob.REPORT).toFile());
        assertEquals("2.0 x model + 1.0 x exact + 0.5 x length (model " + rm + ")", report.get("reward").asText());

        // a reference rule on prompts without references is refused, naming the column
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BestOfNJob.run(spark,
                config(tok, dir, "no-refs", Map.of("reward.rule", "exact"))));
        assertTrue(e.getMessage().contains("no prompt has one") && e.getMessage().contains("data.columns.reference"),
                e.getMessage());
    }

    @Test
    void chosenRowsReadBackAsSftDemonstrationsWithThePlainTemplate(@TempDir Path dir) throws Exception {
        BestOfNJob.run(spark, config(tok, dir, "run", Map.of()));
        List<JsonNode> chosen = lines(dir.resolve("run").resolve(BestOfNJob.CHOSEN));
        List<Demonstration> demos = new DatasetSource(dir.resolve("run").resolve(BestOfNJob.CHOSEN).toString(),
                DatasetSource.Format.AUTO, Map.of(), DatasetSource.OnBadRow.FAIL)
                .demonstrations(spark, PromptTemplate.of("plain")).rdd().collect();
        assertEquals(chosen.size(), demos.size());
        for (int i = 0; i < demos.size(); i++) {
            assertEquals(chosen.get(i).get("prompt").asText(), demos.get(i).prompt());
            assertEquals(chosen.get(i).get("response").asText(), demos.get(i).response());
        }
    }

    @Test
    void theDefaultPromptLengthIsWhatThePolicysPositionsLeaveAfterTheResponse(@TempDir Path dir) throws Exception {
        JobConfig c = config(tok, dir, "run", Map.of("data.max_prompt_tokens", "0", "gen.n", "1"));
        BestOfNJob.run(spark, c);
        assertEquals(16 - 5, c.getInt("data.max_prompt_tokens"), "n_positions 16 - gen.max_new_tokens 5");
        assertTrue(c.source("data.max_prompt_tokens").startsWith("auto"), c.source("data.max_prompt_tokens"));
        ConfigException e = assertThrows(ConfigException.class, () -> BestOfNJob.run(spark, config(tok, dir, "long",
                Map.of("data.max_prompt_tokens", "0", "gen.max_new_tokens", "16"))));
        assertTrue(e.getMessage().contains("gen.max_new_tokens") && e.getMessage().contains("n_positions 16"),
                e.getMessage());
    }

    @Test
    void aCompleteResultIsNeverOverwrittenAndAWrongModelIsNamed(@TempDir Path dir) throws Exception {
        BestOfNJob.run(spark, config(tok, dir, "run", Map.of("gen.n", "1")));
        String before = Files.readString(dir.resolve("run").resolve(BestOfNJob.CHOSEN));
        ConfigException again = assertThrows(ConfigException.class, () -> BestOfNJob.run(spark, config(tok, dir, "run", Map.of())));
        assertTrue(again.getMessage().contains("already holds a best-of-n result"), again.getMessage());
        assertEquals(before, Files.readString(dir.resolve("run").resolve(BestOfNJob.CHOSEN)));

        GptConfig rc = TinyCheckpoints.tinyConfig(tok).withScoreHead(true);
        String rm = TinyCheckpoints.save(dir, "rm", rc, TinyCheckpoints.init(rc, 5), tok);
        IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class,
                () -> BestOfNJob.run(spark, config(tok, dir, "other", Map.of("model.policy", rm))));
        assertTrue(wrong.getMessage().contains("model.policy " + rm + " has a score head"), wrong.getMessage());
        assertFalse(Files.exists(dir.resolve("other").resolve(BestOfNJob.REPORT)));
    }
}
