package rlhf.spark;

import java.io.IOException;
import java.util.Optional;
import java.util.function.Supplier;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaRDD;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.tokenizer.BpeTokenizer;
import rlhf.tokenizer.BpeTrainer;

/**
 * Where a training job's model and tokenizer come from when it is not resuming: the checkpoint
 * {@code model.init} (ours or a Hugging Face GPT-2 directory), or a random GPT-2-shaped model with
 * a tokenizer from {@code tokenizer.path} or a BPE trained on the job's own data. Shared by the
 * SFT and reward jobs, whose keys (model.init, tokenizer.path, tokenizer.vocab_size, model.n_*,
 * model.dropout, seed) mean the same in both.
 */
public final class ModelStart {

    private static final Logger LOG = LoggerFactory.getLogger(ModelStart.class);

    private ModelStart() {
    }

    /** The settings that decide the start; empty Optionals mean "not set". */
    public record Spec(String job, Optional<String> modelInit, Optional<String> tokenizerPath, int tokenizerVocabSize,
            Optional<Float> dropout, int positions, int nLayer, int nHead, int nEmbd, long seed) {
    }

    /** A model's config, flat parameters and tokenizer. */
    public record Model(ModelConfigJson config, float[] params, BpeTokenizer tokenizer) {
    }

    /**
     * The starting model of {@code spec}; {@code corpus} is asked for only when a tokenizer must
     * be trained. A dropout that is set overrides a checkpoint's.
     */
    public static Model load(Spec spec, Supplier<JavaRDD<String>> corpus, Configuration hconf) throws IOException {
        BpeTokenizer tok = null;
        if (spec.tokenizerPath().isPresent()) {
            String dir = spec.tokenizerPath().get();
            tok = Checkpoint.Tokenizer.fromDir(dir, hconf).load(dir);
        }
        ModelConfigJson config;
        float[] params;
        if (spec.modelInit().isPresent()) {
            String dir = spec.modelInit().get();
            Checkpoint c = Checkpoint.loadPretrained(dir, hconf);
            if (tok == null) {
                if (c.tokenizer() == null) {
                    throw new IllegalArgumentException("model.init " + dir + " has no vocab.json/merges.txt; set "
                            + "tokenizer.path to the tokenizer of that model");
                }
                tok = c.tokenizer().load(dir);
            }
            config = c.config();
            params = c.params();
            if (spec.dropout().isPresent()) {
                float d = spec.dropout().get();
                config = config.withModel(config.model().withDropout(d, d, d));
            }
        } else {
            if (tok == null) {
                LOG.info("{}: training a {}-token BPE tokenizer on the training data", spec.job(),
                        spec.tokenizerVocabSize());
                tok = BpeTrainer.train(corpus.get(), spec.tokenizerVocabSize());
            }
            float d = spec.dropout().orElse(0f);
            GptConfig g = GptConfig.gpt2(tok.vocabSize(), spec.positions(), spec.nLayer(), spec.nHead(), spec.nEmbd())
                    .withDropout(d, d, d);
            config = ModelConfigJson.of(g, tok.eosId());
            params = new float[ParamLayout.of(g).size()];
            Gpt.init(g, params, spec.seed());
        }
        return new Model(config, params, tok);
    }
}
