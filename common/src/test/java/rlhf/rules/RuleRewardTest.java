package rlhf.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import rlhf.config.ConfigException;

class RuleRewardTest {

    /** A rule as a user writes one: public, no-argument constructor. */
    public static final class Shortest implements RuleReward {
        @Override
        public double score(String prompt, String response) {
            return -response.length();
        }
    }

    public static final class NeedsArgument implements RuleReward {
        public NeedsArgument(int x) {
        }

        @Override
        public double score(String prompt, String response) {
            return 0;
        }
    }

    @Test
    void aRuleIsMadeFromItsClassName() {
        RuleReward r = RuleReward.byName(Shortest.class.getName());
        assertEquals(-3.0, r.score("p", "abc"));
    }

    @Test
    void aMissingClassAClassThatIsNoRuleAndOneWithoutNoArgumentConstructorAreNamed() {
        ConfigException e = assertThrows(ConfigException.class, () -> RuleReward.byName("com.example.Nope"));
        assertTrue(e.getMessage().contains("'com.example.Nope'") && e.getMessage().contains("--jars"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> RuleReward.byName(String.class.getName()));
        assertTrue(e.getMessage().contains("does not implement rlhf.rules.RuleReward"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> RuleReward.byName(NeedsArgument.class.getName()));
        assertTrue(e.getMessage().contains("no-argument constructor"), e.getMessage());
    }
}
