package rlhf.cli;

import java.io.IOException;
import java.io.Serializable;

import org.apache.hadoop.conf.Configuration;

import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.model.GptConfig;
import rlhf.tokenizer.BpeTokenizer;

/**
 * A checkpoint as the commands use it: config, flat parameters and tokenizer. Loaded once on the
 * driver and broadcast, so each executor JVM receives it once whatever the number of tasks, and
 * executors need no access to the checkpoint's file system. config.json travels as its bytes
 * (the parsed form is not serializable) and is parsed once per JVM.
 */
final class LoadedModel implements Serializable {

    private static final long serialVersionUID = 1L;

    final String path;
    final float[] params;
    final BpeTokenizer tokenizer;
    private final byte[] configJson;
    private transient ModelConfigJson config;

    private LoadedModel(String path, ModelConfigJson config, float[] params, BpeTokenizer tokenizer) {
        this.path = path;
        this.configJson = config.toBytes();
        this.config = config;
        this.params = params;
        this.tokenizer = tokenizer;
    }

    /**
     * Loads a checkpoint directory (ours or Hugging Face's GPT-2 layout) with the tokenizer of
     * {@code tokenizerDir}, or its own when that is null.
     */
    static LoadedModel load(String dir, String tokenizerDir, Configuration conf) throws IOException {
        Checkpoint c = Checkpoint.loadPretrained(dir, conf);
        BpeTokenizer tok;
        if (tokenizerDir != null) {
            tok = loadTokenizer(tokenizerDir, conf);
        } else if (c.tokenizer() != null) {
            tok = c.tokenizer().load(dir);
        } else {
            throw new IOException("checkpoint " + dir + " has no tokenizer files (" + Checkpoint.VOCAB + ", "
                    + Checkpoint.MERGES + "); pass --tokenizer DIR");
        }
        GptConfig g = c.config().model();
        if (tok.vocabSize() > g.vocabSize()) {
            throw new IOException("tokenizer has " + tok.vocabSize() + " tokens but the model in " + dir
                    + " only vocab_size=" + g.vocabSize());
        }
        return new LoadedModel(dir, c.config(), c.params(), tok);
    }

    /** vocab.json + merges.txt from a directory on any Hadoop file system. */
    static BpeTokenizer loadTokenizer(String dir, Configuration conf) throws IOException {
        Checkpoint.Tokenizer t = Checkpoint.Tokenizer.fromDir(dir, conf);
        return t.load(dir);
    }

    synchronized ModelConfigJson config() {
        if (config == null) {
            try {
                config = ModelConfigJson.parse(configJson, path + "/" + ModelConfigJson.FILE);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
        return config;
    }

    GptConfig gpt() {
        return config().model();
    }

    /** The id that ends sequences (and pads them): config.json's eos_token_id. */
    int eosId() {
        return config().eosTokenId();
    }
}
