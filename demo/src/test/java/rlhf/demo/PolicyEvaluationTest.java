package rlhf.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import rlhf.data.PromptTemplate;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.tokenizer.BpeTokenizer;

class PolicyEvaluationTest {

    static final int EOS = 256;
    static final GptConfig TINY = GptConfig.gpt2(257, 48, 1, 2, 16);
    static final BpeTokenizer BYTES = byteTokenizer();
    static final PromptTemplate TEMPLATE = PromptTemplate.of(PolicyEvaluation.DEMO_TEMPLATE);
    static final List<String> PROMPTS = DemoData.generate(
            new DemoData.Config(5, 0, 0, 0, 0, 0, 2, 0, 40, 0.2, 0.5, MistakeModel.DEFAULT))
            .heldoutPrompts().stream().map(Problem::prompt).toList();
    final Oracle oracle = new Oracle();

    /** Byte-level: token id = byte value (GPT-2's byte-to-unicode names), no merges, EOS = 256. */
    static BpeTokenizer byteTokenizer() {
        ObjectNode vocab = new ObjectMapper().createObjectNode();
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            vocab.put(String.valueOf((char) (printable ? b : 256 + n++)), b);
        }
        vocab.put(BpeTokenizer.EOS, EOS);
        try {
            return BpeTokenizer.load(new ByteArrayInputStream(vocab.toString().getBytes(StandardCharsets.UTF_8)),
                    new ByteArrayInputStream("#version: 0.2\n".getBytes(StandardCharsets.UTF_8)), "vocab", "merges");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static PolicyEvaluation.Policy random(long seed) {
        float[] p = new float[ParamLayout.of(TINY).size()];
        Gpt.init(TINY, p, seed);
        return new PolicyEvaluation.Policy("random", TINY, p, BYTES, EOS);
    }

    /**
     * A model that emits {@code token} at every position whatever the input: ln_f's weight is 0,
     * so the final hidden state is its bias u everywhere, and the tied head's logits are wte · u
     * with u = 20 e0 and e0 the embedding row of {@code token} alone (every other row is 0).
     */
    static PolicyEvaluation.Policy constant(int token) {
        ParamLayout l = ParamLayout.of(TINY);
        float[] p = new float[l.size()];
        Gpt.init(TINY, p, 1);
        int C = TINY.nEmbd();
        Arrays.fill(p, l.offset("ln_f.weight"), l.offset("ln_f.weight") + C, 0f);
        int wte = l.offset("wte.weight");
        Arrays.fill(p, wte, wte + TINY.vocabSize() * C, 0f);
        p[wte + token * C] = 1f;
        Arrays.fill(p, l.offset("ln_f.bias"), l.offset("ln_f.bias") + C, 0f);
        p[l.offset("ln_f.bias")] = 20f;
        return new PolicyEvaluation.Policy("constant " + token, TINY, p, BYTES, EOS);
    }

    static PolicyEvaluation.Settings settings(float temperature, int samples, int maxNew, int batch, long seed) {
        return new PolicyEvaluation.Settings(TEMPLATE, temperature, samples, maxNew, batch, seed);
    }

    @Test
    void aModelThatAlwaysSaysSevenIsRightExactlyOnTheProblemsWhoseAnswerIsSeven() {
        List<String> prompts = new ArrayList<>(PROMPTS);
        prompts.addAll(List.of("add 3 and 4", "add 2 and 5"));
        PolicyEvaluation.Result r = PolicyEvaluation.evaluate(constant('7'), prompts, settings(0, 1, 1, 16, 0), oracle);
        int sevens = 0;
        double reward = 0;
        for (String prompt : prompts) {
            Problem p = oracle.problem(prompt);
            sevens += p.answer().equals("7") ? 1 : 0;
            reward += Oracle.grade(p, "7");
        }
        assertTrue(sevens >= 2 && sevens < prompts.size());
        assertEquals(prompts.size(), r.completions().size());
        for (PolicyEvaluation.Completion c : r.completions()) {
            assertEquals("7", c.completion(), c.prompt());
        }
        assertEquals(sevens, r.scores().overall().correct());
        assertEquals(reward / prompts.size(), r.scores().overall().meanReward(), 1e-12);

        // two tokens: "77", right nowhere
        PolicyEvaluation.Result two = PolicyEvaluation.evaluate(constant('7'), prompts, settings(0, 1, 2, 16, 0), oracle);
        assertEquals("77", two.completions().get(0).completion());
        assertEquals(0, two.scores().overall().correct());
    }

    @Test
    void endOfTextEndsACompletionAndIsNotPartOfIt() {
        PolicyEvaluation.Result r = PolicyEvaluation.evaluate(constant(EOS), PROMPTS, settings(0, 1, 8, 16, 0), oracle);
        for (PolicyEvaluation.Completion c : r.completions()) {
            assertEquals("", c.completion());
            assertTrue(c.stopped());
            assertEquals(0.0, c.score());
        }
        assertEquals(0, r.scores().overall().correct());
    }

    @Test
    void completionsDoNotDependOnTheBatchSizeAndSamplesDependOnTheSeed() {
        PolicyEvaluation.Policy p = random(3);
        for (float t : new float[] {0f, 1f}) {
            PolicyEvaluation.Result big = PolicyEvaluation.evaluate(p, PROMPTS, settings(t, 3, 6, 64, 11), oracle);
            PolicyEvaluation.Result small = PolicyEvaluation.evaluate(p, PROMPTS, settings(t, 3, 6, 5, 11), oracle);
            assertEquals(texts(big), texts(small), "temperature " + t);
            assertEquals(PROMPTS.size() * (t == 0 ? 1 : 3), big.completions().size());
        }
        PolicyEvaluation.Result a = PolicyEvaluation.evaluate(p, PROMPTS, settings(1f, 2, 6, 64, 11), oracle);
        PolicyEvaluation.Result b = PolicyEvaluation.evaluate(p, PROMPTS, settings(1f, 2, 6, 64, 12), oracle);
        assertNotEquals(texts(a), texts(b));
        // the two samples of a prompt are drawn with their own keys
        List<String> ta = texts(a);
        int differ = 0;
        for (int i = 0; i < PROMPTS.size(); i++) {
            assertEquals(PROMPTS.get(i), a.completions().get(2 * i).prompt());
            differ += ta.get(2 * i).equals(ta.get(2 * i + 1)) ? 0 : 1;
        }
        assertTrue(differ > PROMPTS.size() / 2, "samples of one prompt differ on " + differ + " prompts");
    }

    @Test
    void scoresAreTheOraclesGradesOfTheCompletions() {
        PolicyEvaluation.Result r = PolicyEvaluation.evaluate(random(4), PROMPTS, settings(1f, 2, 6, 64, 1), oracle);
        List<String> prompts = new ArrayList<>();
        for (PolicyEvaluation.Completion c : r.completions()) {
            assertEquals(oracle.score(c.prompt(), c.completion()), c.score());
            prompts.add(c.prompt());
        }
        assertEquals(Evaluation.evaluate(prompts, texts(r), oracle).metrics(), r.scores().metrics());
    }

    @Test
    void errorsNameThePromptAndTheLimit() {
        Exception e = assertThrows(IllegalArgumentException.class, () ->
                PolicyEvaluation.evaluate(random(1), List.of("what is the meaning of life"), settings(0, 1, 4, 8, 0),
                        oracle));
        assertTrue(e.getMessage().contains("what is the meaning of life"), e.getMessage());
        GptConfig short12 = GptConfig.gpt2(257, 20, 1, 2, 16);
        float[] w = new float[ParamLayout.of(short12).size()];
        Gpt.init(short12, w, 1);
        PolicyEvaluation.Policy p = new PolicyEvaluation.Policy("short", short12, w, BYTES, EOS);
        e = assertThrows(IllegalArgumentException.class, () -> PolicyEvaluation.evaluate(p, List.of("add 1 and 2",
                "sort 5 2 9 in descending order"), settings(0, 1, 4, 8, 0), oracle));
        assertTrue(e.getMessage().contains("prompt 2 has 30 tokens") && e.getMessage().contains("at most 20"),
                e.getMessage());
    }

    private static List<String> texts(PolicyEvaluation.Result r) {
        return r.completions().stream().map(PolicyEvaluation.Completion::completion).toList();
    }
}
