package rlhf.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.List;
import java.util.Map;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** The settings logic; DatasetSourceTest creates a real session through {@link SparkSessions#create}. */
class SparkSessionsTest {

    @Test
    void localStarWhenNoMasterGivenOrSubmitted() {
        Map<String, String> s = SparkSessions.settings(null, JobConfig.defaults("testjob"), new SparkConf(false));
        assertEquals("local[*]", s.get("spark.master"));
        assertEquals("0", s.get("spark.driver.maxResultSize"));
        assertEquals("false", s.get("spark.broadcast.compress"));
        assertEquals("true", s.get("spark.ui.enabled"));
    }

    @Test
    void submittedSettingsWinOverDefaultsButNotOverUserSettings() {
        SparkConf submitted = new SparkConf(false).set("spark.master", "yarn").set("spark.ui.enabled", "false")
                .set("spark.broadcast.compress", "true").set("spark.executor.memory", "2g");
        JobConfig cfg = JobConfig.load("testjob", null, List.of("spark.executor.memory=6g"));
        Map<String, String> s = SparkSessions.settings(null, cfg, submitted);
        assertFalse(s.containsKey("spark.master"), "spark-submit's master is kept");
        assertFalse(s.containsKey("spark.ui.enabled"), "spark-submit's value beats the defaults file");
        assertFalse(s.containsKey("spark.broadcast.compress"), "spark-submit's value beats our defaults");
        assertEquals("6g", s.get("spark.executor.memory"), "--set beats spark-submit");
        assertEquals("local[3]", SparkSessions.settings("local[3]", cfg, submitted).get("spark.master"));
    }
}
