package rlhf.tokenizer;

import java.util.Map;

/**
 * A byte-level tokenizer (the 256 bytes and EOS, no merges) made without Spark, for tests that
 * write checkpoints in-process before any job runs.
 */
public final class ByteTokenizer {

    private ByteTokenizer() {
    }

    public static BpeTokenizer of() {
        return BpeTrainer.trainOnCounts(Map.of(), 257, BpeTrainer.DEFAULT_MIN_PAIR_COUNT);
    }
}
