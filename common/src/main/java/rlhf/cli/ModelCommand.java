package rlhf.cli;

import java.io.Serializable;
import java.util.List;
import java.util.function.Consumer;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.LongAccumulator;

import rlhf.config.Args;
import rlhf.config.JobConfig;
import rlhf.model.GptConfig;

/**
 * The shape shared by logprobs, generate and score: load a checkpoint on the driver, broadcast
 * it, run a batch function over each partition's rows, write the rows back out.
 */
final class ModelCommand {

    /** Output lines of one batch, given the broadcast model (see {@link Batches.BatchFn}). */
    @FunctionalInterface
    interface ModelBatchFn extends Serializable {
        List<String> apply(LoadedModel model, List<InputRow> rows) throws Exception;
    }

    private ModelCommand() {
    }

    /**
     * The key of a task's workspace in {@link rlhf.spark.ExecutorStates}: what its size depends on
     * (its kind, the model shape, rows, tokens, and one more size or 0). Lengths are bucketed
     * ({@link #bucket}) so that a few workspaces per shape serve every batch.
     */
    record WorkspaceKey(String kind, GptConfig cfg, int maxB, int maxT, int extra) {
    }

    /** The workspace length for sequences of up to n tokens: the next power of two >= max(n, 16), at most max. */
    static int bucket(int n, int max) {
        int b = 16;
        while (b < n) {
            b <<= 1;
        }
        return Math.min(b, max);
    }

    /** The options of a command that reads rows and a model and writes rows. */
    static Args.Spec spec(String name, String description) {
        return Args.command(name, description)
                .required("model", "checkpoint directory (ours or a Hugging Face GPT-2 one; any Hadoop path)")
                .required("input", "JSON lines: a file, a directory of files, or a glob (any Hadoop path)")
                .required("output", "directory of JSON-lines part files to write")
                .optional("tokenizer", "directory with vocab.json and merges.txt; default: the checkpoint's")
                .flag("overwrite", "replace the output if it exists");
    }

    /** A batch size key: an integer >= 1. */
    static int batchSize(JobConfig cfg, String key) {
        cfg.requireIn(key, 1, 1 << 16);
        return cfg.getInt(key);
    }

    /**
     * Runs fn over the input in batches of {@code batchSize} rows per partition and writes the
     * result; {@code check} validates the model on the driver before any task starts.
     */
    static void run(String name, Args args, JavaSparkContext sc, int batchSize,
                    Consumer<LoadedModel> check, ModelBatchFn fn) throws Exception {
        JsonLines.prepareOutput(args.get("output"), args.flag("overwrite"), sc.hadoopConfiguration());
        LoadedModel model = LoadedModel.load(args.get("model"), args.get("tokenizer"), sc.hadoopConfiguration());
        check.accept(model);
        Broadcast<LoadedModel> bm = sc.broadcast(model);
        LongAccumulator rows = sc.sc().longAccumulator("rows");
        JavaRDD<String> out = JsonLines.read(sc, args.get("input")).mapPartitions(it ->
                new Batches(it, batchSize, batch -> {
                    List<String> lines = fn.apply(bm.value(), batch);
                    rows.add(batch.size());
                    return lines;
                }));
        JsonLines.write(out, args.get("output"), name + " with " + model.path + ": " + args.get("input") + " -> "
                + args.get("output"));
        bm.destroy();
        System.err.println(name + ": " + rows.value() + " rows -> " + args.get("output"));
    }

    /** Fails unless the checkpoint's model is causal (what needs it: a phrase after "bidirectional:"). */
    static void requireCausal(LoadedModel m, String needs) {
        if (!m.gpt().causal()) {
            throw new IllegalArgumentException("checkpoint " + m.path + " is bidirectional (rlhf_causal=false): "
                    + needs);
        }
    }

    /** An error naming the row when a sequence does not fit the model's context. */
    static void checkContext(InputRow row, String what, int tokens, int nPositions) {
        if (tokens > nPositions) {
            throw new RowException(row, what + " has " + tokens + " tokens, more than the model's context of n_positions="
                    + nPositions);
        }
    }
}
