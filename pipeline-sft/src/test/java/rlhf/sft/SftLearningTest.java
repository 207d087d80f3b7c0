package rlhf.sft;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import rlhf.io.Checkpoint;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.spark.TestSpark;
import rlhf.tokenizer.BpeTokenizer;

/**
 * Fine-tuning teaches a random model (with a BPE tokenizer trained on the data) to answer
 * held-out prompts: "say apple" -> " apple". Held-out prompts pair a word with an instruction
 * verb it never appears with in training. Eval loss must fall and greedy exact-match on the
 * held-out prompts must beat the starting model's.
 */
class SftLearningTest {

    static final String[] WORDS = {"apple", "river", "stone", "cloud", "green", "tiger", "piano", "lemon", "candle",
            "window", "garden", "rocket", "silver", "forest", "castle", "yellow", "pencil", "orange"};
    static final String[] VERBS = {"say", "repeat", "echo"};

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void fineTuningLowersHeldOutLossAndAnswersHeldOutPrompts() throws Exception {
        List<String[]> train = new ArrayList<>();
        List<String[]> heldOut = new ArrayList<>();
        for (int w = 0; w < WORDS.length; w++) {
            for (int v = 0; v < VERBS.length; v++) {
                String[] ex = {VERBS[v] + " " + WORDS[w], " " + WORDS[w]};
                (v == w % VERBS.length ? heldOut : train).add(ex);
            }
        }
        String trainFile = SftFixtures.writePairs(tmp.resolve("train.jsonl"), train);
        String evalFile = SftFixtures.writePairs(tmp.resolve("eval.jsonl"), heldOut);
        SparkSession spark = TestSpark.local(2, "sft-learning-test");
        SftJob.Result r;
        try {
            r = SftJob.run(spark, SftFixtures.settings("data.train=" + trainFile, "data.eval=" + evalFile,
                    "data.template=plain", "tokenizer.vocab_size=300", "data.context_length=16", "model.n_layer=2",
                    "model.n_head=4", "model.n_embd=64", "train.global_batch=12", "train.micro_batch=6",
                    "train.steps=90", "optim.lr=3e-3", "optim.warmup_steps=5", "optim.min_lr=3e-4",
                    "eval.every=30", "checkpoint.every=0", "output.dir=" + tmp.resolve("run")), false);
        } finally {
            spark.stop();
        }
        double before = r.evals().get(0).loss();
        double after = r.evals().get(r.evals().size() - 1).loss();

        Checkpoint fin = Checkpoint.load(r.finalDir(), false, new Configuration());
        BpeTokenizer tok = BpeTokenizer.load(new ByteArrayInputStream(fin.tokenizer().vocabJson()),
                new ByteArrayInputStream(fin.tokenizer().mergesTxt()), "vocab.json", "merges.txt");
        GptConfig cfg = fin.config().model();
        float[] start = new float[ParamLayout.of(cfg).size()];
        Gpt.init(cfg, start, 1234);
        int hitsBefore = 0;
        int hitsAfter = 0;
        StringBuilder samples = new StringBuilder();
        for (String[] ex : heldOut) {
            String a = SftFixtures.greedy(cfg, start, tok, ex[0], 4);
            String b = SftFixtures.greedy(cfg, fin.params(), tok, ex[0], 4);
            hitsBefore += a.equals(ex[1]) ? 1 : 0;
            hitsAfter += b.equals(ex[1]) ? 1 : 0;
            if (samples.length() < 300) {
                samples.append(" [").append(ex[0]).append(" ->").append(b).append("]");
            }
        }
        String report = "eval loss " + before + " -> " + after + ", held-out exact match " + hitsBefore + " -> "
                + hitsAfter + " of " + heldOut.size() + ", samples" + samples;
        System.out.println("SftLearningTest: " + report);
        assertTrue(after < 0.5 * before, "eval loss at least halves: " + report);
        assertTrue(hitsAfter >= heldOut.size() / 2 && hitsAfter > hitsBefore,
                "fine-tuned model answers at least half the held-out prompts, and more than the start: " + report);
    }
}
