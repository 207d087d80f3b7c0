package rlhf.sft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import rlhf.spark.TestSpark;

/**
 * The SFT job with real executor JVMs ({@code local-cluster[2,1,1024]}): everything it ships to
 * the executors (loss, tokenizer, data lineage) serializes, and the weights equal local[2]'s bit
 * for bit with the same two partitions.

 */
class SftClusterTest {

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void localClusterTrainsTheSameWeightsAsLocalMode() throws Exception {
        String data = SftFixtures.writePairs(tmp.resolve("train.jsonl"), SftTrainingTest.sums(24, 3));
        String eval = SftFixtures.writePairs(tmp.resolve("eval.jsonl"), SftTrainingTest.sums(6, 4));
        String tok = SftFixtures.writeByteTokenizer(tmp.resolve("tok"));
        String[] common = {"data.train=" + data, "data.eval=" + eval, "tokenizer.path=" + tok,
                "data.template=plain", "data.context_length=16", "model.n_layer=1", "model.n_head=2",
                "model.n_embd=16", "train.global_batch=8", "train.micro_batch=4", "train.steps=3",
                "data.partitions=2", "eval.every=0", "checkpoint.every=0"};

        SparkSession local = TestSpark.local(2, "sft-local");
        SftJob.Result inLocal;
        try {
            inLocal = SftJob.run(local, SftFixtures.settings(with(common, "output.dir=" + tmp.resolve("local"))), false);
        } finally {
            local.stop();
        }
        SparkSession cluster = TestSpark.localCluster(2, "sft-cluster");
        SftJob.Result inCluster;
        try {
            inCluster = SftJob.run(cluster, SftFixtures.settings(with(common, "output.dir=" + tmp.resolve("cluster"))),
                    false);
        } finally {
            TestSpark.stopCluster(cluster);
        }
        assertArrayEquals(inLocal.params(), inCluster.params(), "local-cluster vs local[2], bit for bit: "
                + SftFixtures.firstDifferences(inLocal.params(), inCluster.params()));
    }

    private static String[] with(String[] a, String b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + 1);
        out[a.length] = b;
        return out;
    }
}
