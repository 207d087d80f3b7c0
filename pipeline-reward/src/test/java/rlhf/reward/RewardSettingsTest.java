package rlhf.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.data.PreferenceGroups;

class RewardSettingsTest {

    @Test
    void everyKeyOfTheDefaultsFileIsReadAndDocumented() {
        RewardSettings s = RewardFixtures.settings("data.train=prefs.jsonl");
        assertEquals("prefs.jsonl", s.trainPath());
        assertEquals("runs/reward/metrics.jsonl", s.training().metricsPath());
        assertTrue(s.scoreInitStd().isEmpty(), "empty: 1/sqrt(n_embd + 1)");
        assertEquals(PreferenceGroups.Overlong.DROP, s.overlong());
        for (JobConfig.Key k : JobConfig.defaults("reward").keys().values()) {
            assertTrue(!k.doc().isEmpty(), "key " + k.name() + " has a comment saying what it means");
        }
    }

    @Test
    void mistakesNameTheKey() {
        ConfigException e = assertThrows(ConfigException.class, () -> RewardFixtures.settings());
        assertTrue(e.getMessage().contains("data.train"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> RewardFixtures.settings("data.train=x", "train.centre_coef=1"));
        assertTrue(e.getMessage().contains("did you mean 'train.center_coef'"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> RewardFixtures.settings("data.train=x", "data.few_shot.n=2"));
        assertTrue(e.getMessage().contains("data.few_shot.path"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> RewardFixtures.settings("data.train=x", "data.overlong=truncate"));
        assertTrue(e.getMessage().contains("drop|fail"), e.getMessage());
    }

    @Test
    void helpListsTheKeys() throws Exception {
        PrintStream out = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            RewardJob.main(new String[] {"--help"});
        } finally {
            System.setOut(out);
        }
        String help = buf.toString(StandardCharsets.UTF_8);
        assertTrue(help.startsWith("usage: reward"), help);
        assertTrue(help.contains("train.center_coef = 0.0") && help.contains("model.score_init_std = (empty)"), help);
    }
}
