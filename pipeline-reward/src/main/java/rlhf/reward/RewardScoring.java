package rlhf.reward;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.io.RewardScale;
import rlhf.model.GptConfig;
import rlhf.model.RewardScorer;
import rlhf.spark.ExecutorStates;
import rlhf.tokenizer.BpeTokenizer;

/**
 * Scoring a DataFrame with a reward model, for Spark users:
 *
 * <pre>
 * Dataset&lt;Row&gt; scored = RewardScoring.score(df, "runs/reward/final", "prompt", "response");
 * scored.select("prompt", "reward").show();
 * </pre>
 *
 * <p>Every row gains a {@code reward} column (float): the score head at the last token of
 * prompt ++ response, with EOS appended when config.json records
 * {@value RewardScorer#APPENDS_EOS_KEY} = true (the reward job does), exactly as the model was
 * trained ({@link RewardScorer}, shared with {@code bin/rlhf score} and PPO). Prompts are scored
 * as given: format them with the template the model was trained with (config.json records it as
 * {@value RewardJob#TEMPLATE_KEY}). A null prompt or response gives a null reward. The reward is
 * the raw score; normalise with config.json's {@value RewardScale#MEAN_KEY} and
 * {@value RewardScale#STD_KEY} if wanted.
 *
 * <p>The checkpoint is read once on the driver and broadcast; each executor scores its
 * partitions in batches of {@code batchSize} rows with per-JVM workspaces sized by the longest
 * row of a batch (rounded up to a power of two).
 */
public final class RewardScoring {

    /** Rows per forward pass by default. */
    public static final int DEFAULT_BATCH = 8;

    private RewardScoring() {
    }

    /** {@link #score(Dataset, String, String, String, int)} with batches of {@value #DEFAULT_BATCH}. */
    public static Dataset<Row> score(Dataset<Row> df, String checkpointDir, String promptCol, String responseCol) {
        return score(df, checkpointDir, promptCol, responseCol, DEFAULT_BATCH);
    }

    /**
     * {@code df} with a {@code reward} column added (a new column, so {@code df} must not already
     * have one). Lazy: scoring runs when the result is used.
     *
     * @throws IllegalArgumentException a column missing or not a string, a checkpoint without score
     *                                  head or tokenizer; while running: a row longer than the model's context
     */
    public static Dataset<Row> score(Dataset<Row> df, String checkpointDir, String promptCol, String responseCol,
            int batchSize) {
        StructType schema = df.schema();
        for (String c : List.of(promptCol, responseCol)) {
            if (!Arrays.asList(schema.fieldNames()).contains(c)) {
                throw new IllegalArgumentException("no column '" + c + "' to score; columns present: "
                        + Arrays.toString(schema.fieldNames()));
            }
            if (!schema.apply(c).dataType().equals(DataTypes.StringType)) {
                throw new IllegalArgumentException("column '" + c + "' has type " + schema.apply(c).dataType().simpleString()
                        + ", expected string");
            }
        }
        if (Arrays.asList(schema.fieldNames()).contains("reward")) {
            throw new IllegalArgumentException("the DataFrame already has a column 'reward'; drop or rename it first");
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, found " + batchSize);
        }
        SparkSession spark = df.sparkSession();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Model model = Model.load(checkpointDir, sc);
        Broadcast<Model> bc = sc.broadcast(model);
        int pi = schema.fieldIndex(promptCol);
        int ri = schema.fieldIndex(responseCol);
        JavaRDD<Row> rows = df.javaRDD().mapPartitions(it -> new Scored(bc.value(), it, pi, ri, batchSize));
        return spark.createDataFrame(rows, schema.add("reward", DataTypes.FloatType, true));
    }

    /** What the executors need of the checkpoint. */
    static final class Model implements Serializable {
        private static final long serialVersionUID = 1L;
        final String dir;
        final float[] params;
        final BpeTokenizer tokenizer;
        final GptConfig gpt;
        final boolean appendEos;
        final int eos;

        private Model(String dir, ModelConfigJson config, float[] params, BpeTokenizer tokenizer) {
            this.dir = dir;
            this.params = params;
            this.tokenizer = tokenizer;
            this.gpt = config.model();
            this.appendEos = config.extraBoolean(RewardScorer.APPENDS_EOS_KEY, false);
            this.eos = config.eosTokenId();
        }

        static Model load(String dir, JavaSparkContext sc) {
            try {
                Checkpoint c = Checkpoint.loadPretrained(dir, sc.hadoopConfiguration());
                if (!c.config().model().scoreHead()) {
                    throw new IllegalArgumentException("checkpoint " + dir + " is not a reward model: config.json has no "
                            + "score head (architectures GPT2ForSequenceClassification)");
                }
                if (c.tokenizer() == null) {
                    throw new IllegalArgumentException("checkpoint " + dir + " has no tokenizer files ("
                            + Checkpoint.VOCAB + ", " + Checkpoint.MERGES + ")");
                }
                BpeTokenizer tok = c.tokenizer().load(dir);
                return new Model(dir, c.config(), c.params(), tok);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read reward model " + dir + ": " + e.getMessage(), e);
            }
        }

    }

    /** Workspace length for sequences of up to n tokens: the next power of two >= max(n, 16), at most max. */
    static int bucket(int n, int max) {
        int b = 16;
        while (b < n) {
            b <<= 1;
        }
        return Math.min(b, max);
    }

    /** A partition's rows with their rewards, scored batch by batch as they are pulled. */
    private static final class Scored implements Iterator<Row> {
        private final Model m;
        private final Iterator<Row> in;
        private final int pi;
        private final int ri;
        private final int batchSize;
        private final List<Row> batch = new ArrayList<>();
        private final List<Row> out = new ArrayList<>();
        private int next;
        private long seen;

        Scored(Model m, Iterator<Row> in, int pi, int ri, int batchSize) {
            this.m = m;
            this.in = in;
            this.pi = pi;
            this.ri = ri;
            this.batchSize = batchSize;
        }

        @Override
        public boolean hasNext() {
            if (next < out.size()) {
                return true;
            }
            out.clear();
            next = 0;
            batch.clear();
            while (batch.size() < batchSize && in.hasNext()) {
                batch.add(in.next());
            }
            if (batch.isEmpty()) {
                return false;
            }
            scoreBatch();
            return true;
        }

        @Override
        public Row next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            return out.get(next++);
        }

        private void scoreBatch() {
            GptConfig g = m.gpt;
            int n = batch.size();
            int[][] prompts = new int[n][];
            int[][] responses = new int[n][];
            int[] idx = new int[n];
            int k = 0;
            int maxLen = 1;
            for (int i = 0; i < n; i++) {
                Row r = batch.get(i);
                seen++;
                if (r.isNullAt(pi) || r.isNullAt(ri)) {
                    continue;
                }
                int[] p = m.tokenizer.encode(r.getString(pi));
                int[] q = m.tokenizer.encode(r.getString(ri));
                int len = RewardScorer.length(p, q, m.appendEos, m.eos);
                if (len < 1 || len > g.maxSeqLen()) {
                    throw new IllegalArgumentException("row " + seen + " of its partition has " + len + " tokens (prompt "
                            + p.length + " + response " + q.length + (m.appendEos ? " + EOS" : "") + "), expected 1.."
                            + g.maxSeqLen() + " (the reward model's n_positions); prompt starts \""
                            + abbreviate(r.getString(pi)) + "\"");
                }
                prompts[k] = p;
                responses[k] = q;
                idx[k++] = i;
                maxLen = Math.max(maxLen, len);
            }
            float[] rewards = new float[n];
            if (k > 0) {
                String key = "reward-scoring:" + g + ":" + batchSize + "x" + bucket(maxLen, g.maxSeqLen());
                int T = bucket(maxLen, g.maxSeqLen());
                RewardScorer scorer = ExecutorStates.borrow(key, () -> new RewardScorer(g, batchSize, T));
                try {
                    scorer.score(m.params, prompts, responses, k, m.appendEos, m.eos, rewards);
                } finally {
                    ExecutorStates.release(key, scorer);
                }
            }
            Float[] byRow = new Float[n];
            for (int j = 0; j < k; j++) {
                byRow[idx[j]] = rewards[j];
            }
            for (int i = 0; i < n; i++) {
                Row r = batch.get(i);
                Object[] v = new Object[r.length() + 1];
                for (int c = 0; c < r.length(); c++) {
                    v[c] = r.get(c);
                }
                v[r.length()] = byRow[i];
                out.add(RowFactory.create(v));
            }
        }

        private static String abbreviate(String s) {
            return s.length() > 40 ? s.substring(0, 40) + "..." : s;
        }
    }
}
