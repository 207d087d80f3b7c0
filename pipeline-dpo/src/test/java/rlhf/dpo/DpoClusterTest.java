package rlhf.dpo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import rlhf.data.PreferenceRows;
import rlhf.io.TinyCheckpoints;
import rlhf.model.GptConfig;
import rlhf.spark.TestSpark;
import rlhf.tokenizer.BpeTokenizer;
import rlhf.tokenizer.ByteTokenizer;

/**
 * The DPO job with real executor JVMs ({@code local-cluster[2,1,1024]}): what it ships to the
 * executors (the loss, the reference weights for one pass, the table of their log-probabilities,
 * the data's lineage) serializes, and the weights and evaluation equal local[2]'s bit for bit
 * with the same two partitions.
 */
class DpoClusterTest {

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 240, unit = TimeUnit.SECONDS)
    void localClusterTrainsTheSameWeightsAsLocalMode() throws Exception {
        String train = PreferenceRows.writeJsonl(tmp.resolve("train.jsonl"), DpoJobTest.mixedRows(24));
        String eval = PreferenceRows.writeJsonl(tmp.resolve("eval.jsonl"), DpoJobTest.mixedRows(9));
        BpeTokenizer tok = ByteTokenizer.of();
        GptConfig cfg = TinyCheckpoints.tinyConfig(tok);
        String init = TinyCheckpoints.save(tmp, "policy", cfg, TinyCheckpoints.init(cfg, 41), tok);
        List<String> common = List.of("data.train=" + train, "data.eval=" + eval, "model.init=" + init,
                "data.template=plain", "data.context_length=16", "train.global_batch=8", "train.micro_batch=3",
                "train.steps=3", "data.partitions=2", "eval.every=0", "checkpoint.every=0", "optim.lr=1e-3");

        SparkSession local = TestSpark.local(2, "dpo-local");
        DpoJob.Result inLocal;
        try {
            inLocal = DpoJob.run(local, DpoJobTest.settings(with(common, "output.dir=" + tmp.resolve("local"))), false);
        } finally {
            local.stop();
        }
        SparkSession cluster = TestSpark.localCluster(2, "dpo-cluster");
        DpoJob.Result inCluster;
        try {
            inCluster = DpoJob.run(cluster, DpoJobTest.settings(with(common, "output.dir=" + tmp.resolve("cluster"))),
                    false);
        } finally {
            TestSpark.stopCluster(cluster);
        }
        assertArrayEquals(inLocal.params(), inCluster.params(), "local-cluster vs local[2], bit for bit");
        assertEquals(inLocal.evals(), inCluster.evals(), "the evaluations, against the same reference sums");
    }

    private static String[] with(List<String> a, String b) {
        List<String> out = new ArrayList<>(a);
        out.add(b);
        return out.toArray(new String[0]);
    }
}
