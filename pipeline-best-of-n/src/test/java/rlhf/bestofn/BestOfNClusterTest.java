package rlhf.bestofn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import rlhf.io.TinyCheckpoints;
import rlhf.spark.TestSpark;
import rlhf.tokenizer.BpeTokenizer;

/**
 * Best-of-n on executors in their own JVMs (local-cluster: the policy is broadcast, the rule is
 * made on each executor by class name) writes byte for byte what local mode writes.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class BestOfNClusterTest {

    @Test
    void executorJvmsWriteWhatLocalModeWrites(@TempDir Path dir) throws Exception {
        SparkSession local = TestSpark.local(2, "best-of-n-local");
        BpeTokenizer tok;
        try {
            tok = TinyCheckpoints.bytesTokenizer(local);
            BestOfNJob.run(local, BestOfNJobTest.config(tok, dir, "local", Map.of("data.partitions", "1",
                    "eval.gold_rule", BestOfNJobTest.LongerThanPrompt.class.getName())));
        } finally {
            local.stop();
        }
        SparkSession cluster = TestSpark.localCluster(2, "best-of-n-cluster");
        try {
            BestOfNJob.run(cluster, BestOfNJobTest.config(tok, dir, "cluster", Map.of("data.partitions", "3",
                    "eval.gold_rule", BestOfNJobTest.LongerThanPrompt.class.getName())));
        } finally {
            TestSpark.stopCluster(cluster);
        }
        for (String f : new String[] {BestOfNJob.SAMPLES, BestOfNJob.CHOSEN, BestOfNJob.PAIRS}) {
            assertEquals(Files.readString(dir.resolve("local").resolve(f)), Files.readString(dir.resolve("cluster").resolve(f)), f);
        }
    }
}
