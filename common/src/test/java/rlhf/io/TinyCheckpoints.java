package rlhf.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.tokenizer.BpeTokenizer;
import rlhf.tokenizer.BpeTrainer;

/**
 * Tiny models in the real checkpoint layout, a byte-level tokenizer and prompt files, for the job
 * modules' tests (through common's test-jar): a policy and a reward model a job loads exactly as it
 * loads a real one.
 */
public final class TinyCheckpoints {

    private TinyCheckpoints() {
    }

    /** A byte-level tokenizer (256 bytes + EOS, no merges). */
    public static BpeTokenizer bytesTokenizer(SparkSession spark) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        return BpeTrainer.train(sc.parallelize(List.of("abc")), 257);
    }

    public static Checkpoint.Tokenizer files(BpeTokenizer tok) throws IOException {
        ByteArrayOutputStream v = new ByteArrayOutputStream();
        ByteArrayOutputStream m = new ByteArrayOutputStream();
        tok.save(v, m);
        return new Checkpoint.Tokenizer(v.toByteArray(), m.toByteArray());
    }

    /** A 1-layer GPT of width 16 and 16 positions over the tokenizer's vocabulary. */
    public static GptConfig tinyConfig(BpeTokenizer tok) {
        return GptConfig.gpt2(tok.vocabSize(), 16, 1, 2, 16);
    }

    /** GPT-2 initialisation of {@code cfg} from {@code seed}. */
    public static float[] init(GptConfig cfg, long seed) {
        float[] p = new float[ParamLayout.of(cfg).size()];
        Gpt.init(cfg, p, seed);
        return p;
    }

    /** Saves a model (a language model, or a reward model when cfg has a score head) with the tokenizer; returns its directory. */
    public static String save(Path dir, String name, GptConfig cfg, float[] params, BpeTokenizer tok) throws IOException {
        String d = dir.resolve(name).toString();
        new Checkpoint(ModelConfigJson.of(cfg, tok.eosId()), params, files(tok), null).save(d, new Configuration());
        return d;
    }

    /** Writes {"prompt": p} lines (p must need no JSON escaping); returns the file. */
    public static String writePrompts(Path dir, String name, List<String> prompts) throws IOException {
        Path f = dir.resolve(name);
        StringBuilder sb = new StringBuilder();
        for (String p : prompts) {
            sb.append("{\"prompt\": \"").append(p).append("\"}\n");
        }
        Files.writeString(f, sb.toString(), StandardCharsets.UTF_8);
        return f.toString();
    }
}
