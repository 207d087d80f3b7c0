package rlhf.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.optim.LrSchedule;

class TrainingSettingsTest {

    private static TrainingSettings sft(String... sets) {
        return TrainingSettings.from(JobConfig.load("sft", null, List.of(sets)));
    }

    @Test
    void autoRatesFollowTheWidthAndWhetherTheStageFineTunes() {
        TrainingSettings scratch = sft();
        assertTrue(scratch.autoLr());
        assertFalse(scratch.fineTuning());
        assertEquals(1e-3f, scratch.peakLr(128));
        assertEquals(1e-4f, scratch.endLr(128), 1e-9f);
        TrainingSettings fineTune = sft("model.init=/some/checkpoint");
        assertTrue(fineTune.fineTuning());
        assertEquals(6e-5f, fineTune.peakLr(768), 1e-7f);

        // warmup 10 of 100 steps, cosine from 6e-4 to 6e-5
        LrSchedule s = sft("optim.warmup_steps=10").lrSchedule(100, 768);
        assertEquals(6e-5f, s.lr(0), 1e-9f);
        assertEquals(6e-4f, s.lr(10), 1e-9f);
        assertEquals(6e-5f, s.lr(100), 1e-9f);
    }

    @Test
    void autoWarmupIsThreePercentOfTheStepsAndAGivenOneIsCappedAtAll() {
        assertEquals(68, sft().warmup(2250), "3% of 2250 = 67.5, rounded");
        assertEquals(0, sft().warmup(10));
        LrSchedule s = sft().lrSchedule(2250, 128);
        assertEquals(1e-3f / 68, s.lr(0), 1e-9f);
        assertEquals(1e-3f, s.lr(68), 1e-9f);
        assertEquals(50, sft("optim.warmup_steps=50").warmup(2250));
        assertEquals(10, sft("optim.warmup_steps=50").warmup(10));
    }

    @Test
    void aRateTheUserSetsIsKeptAndAnAutoEndIsATenthOfIt() {
        TrainingSettings t = sft("optim.lr=2e-4");
        assertTrue(t.autoLr());
        assertEquals(2e-4f, t.peakLr(128));
        assertEquals(2e-5f, t.endLr(128), 1e-10f);
        TrainingSettings both = sft("optim.lr=2e-4", "optim.min_lr=0");
        assertFalse(both.autoLr());
        assertEquals(0f, both.endLr(4096));
    }

    @Test
    void anEndAboveTheAutoPeakNamesTheKeyAndTheWidth() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> sft("optim.min_lr=1e-3").lrSchedule(100, 768));
        assertTrue(e.getMessage().contains("optim.min_lr") && e.getMessage().contains("width 768"), e.getMessage());
        ConfigException word = assertThrows(ConfigException.class, () -> sft("optim.lr=fast"));
        assertTrue(word.getMessage().contains("optim.lr"), word.getMessage());
    }
}
