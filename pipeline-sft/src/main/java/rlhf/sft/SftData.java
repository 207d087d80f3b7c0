package rlhf.sft;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import rlhf.data.DatasetSource;
import rlhf.data.Demonstration;
import rlhf.data.Examples;
import rlhf.spark.IndexRanges;
import rlhf.spark.IndexedData;
import rlhf.spark.StageLoop;
import rlhf.tokenizer.BpeTokenizer;


/**
 * Spark glue from a dataset to cached training sequences: read (rlhf.data), tokenize on the
 * executors, count, pack, spread over partitions by index range, cache ({@link IndexedData}).
 */
public final class SftData {

    private static final Logger LOG = LoggerFactory.getLogger(SftData.class);

    /** Over-long rows named in messages. */
    static final int FIRST_NAMED = 5;

    private SftData() {
    }

    /** What reading and tokenizing found; every count is of examples unless it says tokens. */
    public record Report(String what, long rows, long badRows, Map<String, Long> badByKind, List<String> firstBadRows,
            long kept, long truncated,
            long droppedOverlong, long droppedNoResponse, List<String> firstOverlong, long sequences, long tokens,
            long lossTokens) implements Serializable {

        /** The rows and the reader's bad rows per kind, for metrics.jsonl. */
        public StageLoop.DataCounts counts() {
            return new StageLoop.DataCounts(rows, badByKind);
        }

        /** One line for the log: "sft train data x.jsonl: 1000 rows, 2 bad rows dropped, ...". */
        public String summary() {
            return what + ": " + rows + " rows, " + badRows + " bad rows dropped, " + kept + " examples kept ("
                    + truncated + " truncated, " + droppedOverlong + " dropped as over-long, " + droppedNoResponse
                    + " dropped with no response token left), " + sequences + " sequences, " + tokens + " tokens, "
                    + lossTokens + " with loss";
        }
    }

    /**
     * The cached sequences and what it took to make them. The tokenizer broadcast stays alive with
     * the data: a lost partition is recomputed from its lineage, which uses it.
     */
    public record Prepared(IndexedData<Sequence> data, Report report, Broadcast<BpeTokenizer> tokenizer) {
        /** Unpersists the data and destroys the broadcast. */
        public void release() {
            data.unpersist();
            tokenizer.destroy(false);
        }
    }

    /** Demonstrations of a dataset, formatted by the template (and the few-shot prefix). */
    public static Examples<Demonstration> read(SparkSession spark, String path, SftSettings s) {
        return DatasetSource.fromConfig(path, s.config()).demonstrations(spark,
                DatasetSource.template(s.config(), spark));
    }

    /** Formatted prompts and responses of the demonstrations: the corpus a tokenizer is trained on. */
    public static JavaRDD<String> corpus(Examples<Demonstration> ex) {
        return ex.rdd().flatMap(d -> List.of(d.prompt(), d.response()).iterator());
    }

    /**
     * Tokenizes the demonstrations on the executors and caches the sequences in {@code partitions}
     * partitions (0: Spark's default parallelism). With {@link SftExamples.Overlong#FAIL} any
     * over-long example is an error naming the first few.
     *
     * @param what names the data in messages ("sft train data data/train.jsonl")
     */
    public static Prepared prepare(JavaSparkContext sc, Examples<Demonstration> ex, BpeTokenizer tokenizer,
            SftSettings s, String what) {
        Broadcast<BpeTokenizer> tok = sc.broadcast(tokenizer);
        int T = s.contextLength();
        SftExamples.Overlong policy = s.overlong();
        SftExamples.LossOn lossOn = s.lossOn();
        JavaRDD<Outcome> outcomes = ex.rdd().map(d -> {
            SftExamples.Outcome o = SftExamples.tokenize(tok.value(), d, T, policy, lossOn);
            return new Outcome(o.sequence(), o.kind(), o.fullLength(), d.where());
        });
        outcomes.setName("tokenized " + what).persist(StorageLevel.MEMORY_AND_DISK());
        sc.setJobDescription("tokenize and cache " + what);
        long t0 = System.nanoTime();
        boolean ok = false;
        try {
            Counts c = new Counts();
            for (Counts part : outcomes.mapPartitions(SftData::count).collect()) { // partition order
                c = c.plus(part);
            }
            if (policy == SftExamples.Overlong.FAIL && c.droppedOverlong > 0) {
                throw new IllegalArgumentException(what + ": " + c.droppedOverlong + " examples are longer than "
                        + "data.context_length=" + T + " tokens (prompt + response + end-of-text), e.g. "
                        + String.join(", ", c.firstOverlong) + "; set data.overlong=truncate or drop, or raise "
                        + "data.context_length");
            }
            if (c.kept == 0) {
                throw new IllegalArgumentException(what + ": no example left after tokenization (" + ex.count()
                        + " rows: " + c.droppedOverlong + " over-long dropped, " + c.droppedNoResponse
                        + " without a response token within data.context_length=" + T + ")");
            }
            JavaRDD<Sequence> seqs = outcomes.filter(o -> o.sequence != null).map(o -> o.sequence);
            if (s.packing()) {
                seqs = seqs.mapPartitions(it -> SftExamples.pack(it, T), true);
            }
            long sequences = s.packing() ? seqs.count() : c.kept;
            int parts = s.partitions() > 0 ? s.partitions() : sc.defaultParallelism();
            IndexedData<Sequence> data = IndexedData.cache(IndexRanges.respread(seqs, sequences, parts),
                    StorageLevel.MEMORY_AND_DISK(), what);
            Report r = new Report(what, ex.count() + ex.dropped(), ex.dropped(), ex.droppedByKind(), ex.firstDropped(), c.kept,
                    c.truncated, c.droppedOverlong, c.droppedNoResponse, c.firstOverlong, sequences, c.tokens,
                    c.lossTokens);
            LOG.info(r.summary() + IndexedData.preparedIn(r.rows(), t0));
            if (c.droppedOverlong > 0 || c.truncated > 0) {
                LOG.warn("{}: over-long examples (longer than {} tokens), policy {}: {}", what, T,
                        policy.name().toLowerCase(java.util.Locale.ROOT), String.join(", ", c.firstOverlong));
            }
            ok = true;
            return new Prepared(data, r, tok);
        } finally {
            sc.setJobDescription(null);
            outcomes.unpersist(false);
            if (!ok) {
                tok.destroy(false);
            }
        }
    }

    /** One tokenized demonstration and where it came from. */
    record Outcome(Sequence sequence, SftExamples.Kind kind, int fullLength, String where) implements Serializable {
    }

    /** Per-partition counts, added on the driver. */
    static final class Counts implements Serializable {
        private static final long serialVersionUID = 1L;
        long kept;
        long truncated;
        long droppedOverlong;
        long droppedNoResponse;
        long tokens;
        long lossTokens;
        final List<String> firstOverlong = new ArrayList<>();

        Counts plus(Counts o) {
            Counts c = new Counts();
            c.kept = kept + o.kept;
            c.truncated = truncated + o.truncated;
            c.droppedOverlong = droppedOverlong + o.droppedOverlong;
            c.droppedNoResponse = droppedNoResponse + o.droppedNoResponse;
            c.tokens = tokens + o.tokens;
            c.lossTokens = lossTokens + o.lossTokens;
            for (List<String> l : List.of(firstOverlong, o.firstOverlong)) {
                for (String w : l) {
                    if (c.firstOverlong.size() < FIRST_NAMED) {
                        c.firstOverlong.add(w);
                    }
                }
            }
            return c;
        }
    }

    static Iterator<Counts> count(Iterator<Outcome> it) {
        Counts c = new Counts();
        while (it.hasNext()) {
            Outcome o = it.next();
            switch (o.kind) {
                case KEPT -> c.kept++;
                case TRUNCATED -> c.truncated++;
                case DROPPED_OVERLONG -> c.droppedOverlong++;
                case DROPPED_NO_RESPONSE -> c.droppedNoResponse++;
            }
            if (o.kind == SftExamples.Kind.TRUNCATED) {
                c.kept++;
            }
            if ((o.kind != SftExamples.Kind.KEPT) && c.firstOverlong.size() < FIRST_NAMED) {
                c.firstOverlong.add(o.where + " (" + o.fullLength + " tokens)");
            }
            if (o.sequence != null) {
                c.tokens += o.sequence.length() + 1;
                c.lossTokens += o.sequence.lossTokens();
            }
        }
        return List.of(c).iterator();
    }
}
