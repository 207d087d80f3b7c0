package rlhf.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.io.RewardScale;

/** reward.kind, reward.rule and reward.sum as the jobs read them: the terms, the score they add up to, and the errors. */
class RewardSourceTest {

    /** The reward keys as conf/ppo.properties declares them, plus model.reward. */
    static RewardSource read(String... sets) {
        JobConfig c = JobConfig.defaults("best-of-n");
        c.applySets(Arrays.asList(sets));
        return RewardSource.read(c);
    }

    public static final class Shortest implements RuleReward {
        @Override
        public double score(String prompt, String response) {
            return -response.length();
        }
    }

    @Test
    void theModelAloneAndARuleAloneKeepTheirScoreUnchanged() {
        RewardSource model = read("model.reward=/m");
        assertTrue(model.needsModel());
        assertFalse(model.hasRules());
        assertEquals("the reward model", model.describe());
        RewardSource.Scorer m = model.scorer();
        assertEquals(new RewardSource.Scored(0.1 + 0.2, 0.1 + 0.2), m.score(0.1 + 0.2, RewardScale.RAW, 0), "bit for bit");

        RewardSource exact = read("reward.kind=rule", "reward.rule=exact");
        assertFalse(exact.needsModel());
        assertTrue(exact.needsReference());
        RewardSource.Scorer e = exact.scorer();
        assertEquals(new RewardSource.Scored(1, 1), e.score(Double.NaN, RewardScale.RAW, e.rules("q", "yes", "yes")),
                "no model term: its score is not read");
        assertEquals(0, e.rules("q", "no", "yes"));

        RewardSource cls = read("reward.kind=rule", "reward.rule=" + Shortest.class.getName());
        assertEquals(-3, cls.scorer().rules("q", "abc", null));
        assertFalse(cls.needsReference());
    }

    @Test
    void aSumWeighsEachTermAndReadsTheModelOnTheCallersScale() {
        RewardSource sum = read("model.reward=/m", "reward.kind=sum",
                "reward.sum = model:2, exact:0.5, regex:1, length:0.25", "reward.regex=^A", "reward.length_target=4");
        assertTrue(sum.needsModel() && sum.hasRules() && sum.needsReference());
        assertEquals(2, sum.modelWeight());
        assertEquals("2.0 x model + 0.5 x exact + 1.0 x regex + 0.25 x length", sum.describe());
        RewardSource.Scorer s = sum.scorer();
        // "A 12345678" vs reference "A 12345678": exact 1, regex 1, 10 chars at target 4: length -1.5
        double rules = s.rules("q", "A 12345678", "A 12345678");
        assertEquals(0.5 + 1 - 0.25 * 1.5, rules, 1e-15);
        RewardSource.Scored sc = s.score(0.7, RewardScale.RAW, rules);
        assertEquals(2 * 0.7 + rules, sc.raw(), 1e-15);
        assertEquals(sc.raw(), sc.score(), 0, "a raw scale changes nothing");
    }

    @Test
    void mistakesAreNamedBeforeAnythingRuns() {
        ConfigException e = assertThrows(ConfigException.class, () -> read("reward.kind=model"));
        assertTrue(e.getMessage().contains("'model.reward' is empty"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> read("reward.kind=sum", "reward.sum=model:1, exact:1"));
        assertTrue(e.getMessage().contains("'model.reward' is empty") && e.getMessage().contains("model term"),
                e.getMessage());
        e = assertThrows(ConfigException.class, () -> read("reward.kind=rule"));
        assertTrue(e.getMessage().contains("'reward.rule' is empty") && e.getMessage().contains("exact"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> read("reward.kind=sum"));
        assertTrue(e.getMessage().contains("'reward.sum' is empty"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> read("reward.kind=sum", "reward.sum=exact:x"));
        assertTrue(e.getMessage().contains("term 'exact:x'"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> read("reward.kind=sum", "reward.sum=exact:1, exact:2"));
        assertTrue(e.getMessage().contains("'exact' twice"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> read("reward.kind=sum", "reward.sum=exact:NaN"));
        assertTrue(e.getMessage().contains("finite weight"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> read("reward.kind=rule", "reward.rule=regex"));
        assertTrue(e.getMessage().contains("'reward.regex' is empty"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> read("reward.kind=rule", "reward.rule=regex", "reward.regex=(a"));
        assertTrue(e.getMessage().contains("'reward.regex' = \"(a\" is not a regular expression"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> read("reward.kind=rule", "reward.rule=com.example.Nope"));
        assertTrue(e.getMessage().contains("com.example.Nope"), e.getMessage());
    }

    /** A rule given in code (tests, library callers). */
    record Given(double v) implements RuleReward, Serializable {
        @Override
        public double score(String prompt, String response) {
            return v;
        }
    }

    @Test
    void theSourceTravelsToExecutorsAndMakesItsRulesThere() throws Exception {
        RewardSource sum = read("model.reward=/m", "reward.kind=sum", "reward.sum=model:1, number:3",
                "reward.number_tolerance=0.5");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(sum);
        }
        RewardSource back;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            back = (RewardSource) in.readObject();
        }
        assertEquals(3, back.scorer().rules("q", "it is 10.4", "10"), "number within 0.5, weight 3");
        assertEquals(0.25, RewardSource.ofRule(new Given(0.25)).scorer().rules("q", "x", null));
        assertThrows(IllegalArgumentException.class, () -> RewardSource.ofRule((p, r) -> 1));
    }
}
