package rlhf.data;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import scala.Tuple2;

import rlhf.config.JobConfig;
import rlhf.model.RewardScorer;
import rlhf.spark.IndexRanges;
import rlhf.spark.IndexedData;
import rlhf.spark.StageLoop;
import rlhf.tensor.Rng;
import rlhf.tokenizer.BpeTokenizer;

/**
 * Spark glue from a preference dataset to cached prompt groups, for every job trained on
 * preferences (the reward model, DPO): read pairs or rankings
 * ({@link DatasetSource}: formats, column mapping, file and row of every example), format the
 * prompt with the SFT template, check each row ({@link Rankings#check}), tokenize on the
 * executors, drop or fail on bad and over-long rows, spread over partitions by index range, cache.
 *
 * <p>A ranking is read as the answer indices best first (as {@code rlhf.demo.DemoData} writes
 * it): {@code ranking = [2, 0, 1]} says answer 2 is best. Rows that {@link DatasetSource} already
 * rejects (null or empty fields, chosen equal to rejected, a ranking that is not a permutation,
 * malformed JSON) are counted and named by it; the rest pass {@link Rankings#check}, whose
 * failures (e.g. two equal answers inside a ranking) are counted per {@link Rankings.Reason}.
 */
public final class PreferenceGroups {

    private static final Logger LOG = LoggerFactory.getLogger(PreferenceGroups.class);

    /** A prompt group with an answer longer than the context. */
    public enum Overlong { DROP, FAIL }

    /**
     * What reading and preparing take from a job's settings.
     *
     * @param config        the job's configuration (data.format, data.columns.*, data.max_bad_fraction)
     * @param contextLength every answer (prompt + response + end-of-text) must fit in this many tokens
     * @param partitions    partitions of the cached groups (0: Spark's default parallelism)
     */
    public record Options(JobConfig config, int contextLength, Overlong overlong, DatasetSource.OnBadRow onBadRow,
            int partitions) implements Serializable {
    }

    /** Bad or over-long rows named in messages. */
    static final int FIRST_NAMED = 5;

    /** Random stream of the off-prompt pairing, apart from the streams of init, shuffles and dropout. */
    private static final long OFF_PROMPT_STREAM = -7;

    private PreferenceGroups() {
    }

    /**
     * A preference row as text: the formatted prompt, K responses, their order best first, and the
     * pair margin; {@code offPrompt} is another row's best response to rank below this row's best
     * (train.off_prompt_pairs), or null.
     */
    public record TextGroup(String prompt, List<String> responses, int[] order, double margin, String where,
            String offPrompt) implements Serializable {

        public TextGroup(String prompt, List<String> responses, int[] order, double margin, String where) {
            this(prompt, responses, order, margin, where, null);
        }

        /** The response ranked first. */
        public String best() {
            return responses.get(order[0]);
        }

        /**
         * This row with {@code other}'s best response as its off-prompt answer, unless that is no
         * negative here: the same prompt, or one of this row's own responses.
         */
        TextGroup withOffPrompt(TextGroup other) {
            if (other == null || other.prompt.equals(prompt) || responses.contains(other.best())) {
                return this;
            }
            return new TextGroup(prompt, responses, order, margin, where, other.best());
        }
    }

    /**
     * What reading and tokenizing found.
     *
     * @param badRows      rows dropped by the reader (null, empty or malformed fields...), first few in firstBad
     * @param readerBadByKind those rows per kind of problem ("'chosen' is null" -> 3)
     * @param badByReason  rows dropped by {@link Rankings#check}, per reason
     * @param overlong     groups dropped because an answer exceeds the context
     * @param groups       prompt groups kept
     * @param pairs        their pairs and answers, the dataset's own
     * @param offPromptPairs groups with an off-prompt answer (train.off_prompt_pairs)
     * @param maxK         the most answers of a group, an off-prompt one included
     */
    public record Report(String what, long rows, long badRows, Map<String, Long> readerBadByKind,
            Map<Rankings.Reason, Long> badByReason,
            List<String> firstBad, long overlong, List<String> firstOverlong, long groups, long pairs, long answers,
            long offPromptPairs, int maxK, int maxLength) implements Serializable {

        /** The rows, and the reader's kinds of bad rows and the preference checks' reasons with their counts. */
        public StageLoop.DataCounts counts() {
            Map<String, Long> all = new java.util.TreeMap<>(readerBadByKind);
            badByReason.forEach((reason, n) -> all.merge(reason.name().toLowerCase(java.util.Locale.ROOT), n, Long::sum));
            return new StageLoop.DataCounts(rows, all);
        }

        public String summary() {
            return what + ": " + rows + " rows, " + badRows + " bad rows dropped by the reader, "
                    + badByReason.values().stream().mapToLong(Long::longValue).sum() + " failing the preference checks "
                    + badByReason + ", " + overlong + " over-long dropped; " + groups + " prompt groups kept ("
                    + pairs + " pairs, " + answers + " answers, K <= " + maxK + ", longest " + maxLength + " tokens"
                    + (offPromptPairs > 0 ? "; " + offPromptPairs + " with an off-prompt answer" : "") + ")";
        }
    }

    /**
     * The cached groups and what it took to make them. The tokenizer broadcast lives as long as the
     * data: a task on the groups carries their lineage, which uses it (and a lost partition is
     * recomputed from it).
     */
    public record Prepared(IndexedData<PromptGroup> data, Report report, Broadcast<BpeTokenizer> tokenizer) {
        /** Unpersists the data and destroys the broadcast. */
        public void release() {
            data.unpersist();
            tokenizer.destroy(false);
        }
    }

    /**
     * Preference rows of a dataset (pairs, rankings or both, each row by its columns), prompts
     * formatted by the template.
     */
    public static Examples<TextGroup> read(SparkSession spark, String path, Options s, PromptTemplate template) {
        Examples<Preference> ex = DatasetSource.fromConfig(path, s.config()).preferences(spark);
        return ex.with(ex.rdd().map(p -> group(p, template)));
    }

    /** A pair is a group of two, chosen first, with its margin; a ranking, its K answers in order. */
    private static TextGroup group(Preference p, PromptTemplate template) {
        if (p instanceof PreferencePair pair) {
            return new TextGroup(template.format(pair.prompt()), Arrays.asList(pair.chosen(), pair.rejected()),
                    new int[] {0, 1}, pair.margin(), pair.where());
        }
        Ranking r = (Ranking) p;
        return new TextGroup(template.format(r.prompt()), Arrays.asList(r.responses()), r.ranking(), 0, r.where());
    }

    /**
     * Gives every row the best response of another row, drawn by {@code seed}, as its off-prompt
     * answer (train.off_prompt_pairs). Row i borrows from row (i + 1 + u mod (n-1)) mod n, u from
     * (seed, i), so the pairing depends on the rows' order in the dataset only, not on partitions
     * or executors; the rows keep their order. Two shuffles of the text rows.
     */
    public static Examples<TextGroup> withOffPromptAnswers(Examples<TextGroup> ex, long seed) {
        long n = ex.count();
        if (n < 2) {
            return ex;
        }
        int parts = ex.rdd().getNumPartitions();
        JavaPairRDD<Long, TextGroup> byIndex = ex.rdd().zipWithIndex().mapToPair(t -> new Tuple2<>(t._2(), t._1()));
        JavaPairRDD<Long, Long> lenderOf = byIndex.mapToPair(t -> new Tuple2<>(lender(t._1(), n, seed), t._1()));
        JavaPairRDD<Long, TextGroup> lent = lenderOf.join(byIndex, parts)
                .mapToPair(t -> new Tuple2<>(t._2()._1(), t._2()._2()));
        JavaRDD<TextGroup> rows = byIndex.leftOuterJoin(lent, parts).sortByKey(true, parts)
                .map(t -> t._2()._1().withOffPrompt(t._2()._2().orNull()));
        return ex.with(rows);
    }

    /** The row whose best response row {@code i} of {@code n >= 2} borrows: never i itself. */
    static long lender(long i, long n, long seed) {
        return (i + 1 + Math.floorMod(Rng.bits(seed, OFF_PROMPT_STREAM, i), n - 1)) % n;
    }

    /** Formatted prompts and all responses: the corpus a tokenizer is trained on. */
    public static JavaRDD<String> corpus(Examples<TextGroup> ex) {
        return ex.rdd().flatMap(g -> {
            List<String> out = new ArrayList<>(g.responses());
            out.add(g.prompt());
            return out.iterator();
        });
    }

    /** What became of one row: a group, or why not. */
    public record Outcome(PromptGroup group, Rankings.Reason bad, boolean overlong, String message) implements Serializable {
    }

    /**
     * The group of one row, or why it cannot be used: a failed {@link Rankings#check}, or an answer
     * longer than {@code contextLength} tokens (prompt + response + EOS). Pure; runs on executors.
     */
    public static Outcome convert(BpeTokenizer tok, TextGroup g, int contextLength) {
        Rankings.Problem p = Rankings.check(g.responses(), g.order());
        if (p != null) {
            return new Outcome(null, p.reason(), false, g.where() + ": " + p.reason() + ": " + p.message());
        }
        int K = g.responses().size();
        int[] prompt = tok.encode(g.prompt());
        int[][] seqs = new int[K][];
        for (int k = 0; k < K; k++) {
            seqs[k] = answer(tok, prompt, g.responses().get(k));
            if (seqs[k].length > contextLength) {
                return new Outcome(null, null, true, g.where() + " (answer " + k + ": " + seqs[k].length + " tokens)");
            }
        }
        int P = Rankings.pairCount(K);
        int[] offPrompt = g.offPrompt() == null ? null : answer(tok, prompt, g.offPrompt());
        boolean withOffPrompt = offPrompt != null && offPrompt.length <= contextLength; // else: the row's own pairs only
        int answers = withOffPrompt ? K + 1 : K;
        int pairs = withOffPrompt ? P + 1 : P;
        int[] better = new int[pairs];
        int[] worse = new int[pairs];
        Rankings.pairs(g.order(), better, worse, 0);
        double[] margin = null;
        if (g.margin() != 0) {
            margin = new double[pairs];
            Arrays.fill(margin, 0, P, g.margin());
        }
        if (withOffPrompt) {
            seqs = Arrays.copyOf(seqs, answers);
            seqs[K] = offPrompt;
            better[P] = g.order()[0];
            worse[P] = K;
        }
        return new Outcome(new PromptGroup(seqs, prompt.length, better, worse, margin, g.where(), withOffPrompt), null, false, null);
    }

    /** prompt ++ response ++ EOS (when the response does not end with it), as the reward model reads an answer. */
    private static int[] answer(BpeTokenizer tok, int[] prompt, String response) {
        int[] resp = tok.encode(response);
        boolean eos = RewardScorer.appendsEos(resp, true, tok.eosId());
        int n = prompt.length + resp.length + (eos ? 1 : 0);
        int[] s = Arrays.copyOf(prompt, n);
        System.arraycopy(resp, 0, s, prompt.length, resp.length);
        if (eos) {
            s[n - 1] = tok.eosId();
        }
        return s;
    }

    /**
     * Checks and tokenizes the rows on the executors and caches the groups in
     * {@code s.partitions()} partitions (0: Spark's default parallelism). With
     * {@code data.on_bad_row=fail} a row failing the checks is an error naming the first few; with
     * {@code data.overlong=fail} so is an over-long one.
     *
     * @param what names the data in messages ("reward train data data/prefs.jsonl")
     */
    public static Prepared prepare(JavaSparkContext sc, Examples<TextGroup> ex, BpeTokenizer tokenizer,
            Options s, String what) {
        Broadcast<BpeTokenizer> tok = sc.broadcast(tokenizer);
        int T = s.contextLength();
        JavaRDD<Outcome> outcomes = ex.rdd().map(g -> convert(tok.value(), g, T));
        outcomes.setName("tokenized " + what).persist(StorageLevel.MEMORY_AND_DISK());
        sc.setJobDescription("check, tokenize and cache " + what);
        long t0 = System.nanoTime();
        boolean ok = false;
        try {
            Counts c = new Counts();
            for (Counts part : outcomes.mapPartitions(PreferenceGroups::count).collect()) { // partition order
                c = c.plus(part);
            }
            long bad = c.bad.values().stream().mapToLong(Long::longValue).sum();
            if (bad > 0 && s.onBadRow() == DatasetSource.OnBadRow.FAIL) {
                throw new IllegalArgumentException(what + ": " + bad + " bad row(s) " + c.bad
                        + " (data.on_bad_row=fail; set drop to skip them); first: " + String.join("; ", c.firstBad));
            }
            if (c.overlong > 0 && s.overlong() == Overlong.FAIL) {
                throw new IllegalArgumentException(what + ": " + c.overlong + " prompt group(s) have an answer longer "
                        + "than data.context_length=" + T + " tokens (prompt + response + end-of-text), e.g. "
                        + String.join(", ", c.firstOverlong) + "; set data.overlong=drop or raise data.context_length");
            }
            if (c.groups == 0) {
                throw new IllegalArgumentException(what + ": no prompt group left (" + ex.count() + " rows read: "
                        + bad + " failing the checks " + c.bad + ", " + c.overlong + " longer than data.context_length="
                        + T + ")");
            }
            if (bad > 0) {
                LOG.warn("{}: dropped {} bad row(s) {}; first: {}", what, bad, c.bad, String.join("; ", c.firstBad));
            }
            if (c.overlong > 0) {
                LOG.warn("{}: dropped {} prompt group(s) longer than {} tokens: {}", what, c.overlong, T,
                        String.join(", ", c.firstOverlong));
            }
            JavaRDD<PromptGroup> groups = outcomes.filter(o -> o.group() != null).map(Outcome::group);
            int parts = s.partitions() > 0 ? s.partitions() : sc.defaultParallelism();
            IndexedData<PromptGroup> data = IndexedData.cache(IndexRanges.respread(groups, c.groups, parts),
                    StorageLevel.MEMORY_AND_DISK(), what);
            List<String> firstBad = new ArrayList<>(ex.firstDropped());
            for (String b : c.firstBad) {
                if (firstBad.size() < FIRST_NAMED) {
                    firstBad.add(b);
                }
            }
            Report r = new Report(what, ex.count() + ex.dropped(), ex.dropped(), ex.droppedByKind(), c.bad, firstBad, c.overlong,
                    c.firstOverlong, c.groups, c.pairs, c.answers, c.offPrompt, c.maxK, c.maxLength);
            LOG.info(r.summary() + IndexedData.preparedIn(r.rows(), t0));
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

    /** Per-partition counts, added on the driver in partition order. */
    static final class Counts implements Serializable {
        private static final long serialVersionUID = 1L;
        final EnumMap<Rankings.Reason, Long> bad = new EnumMap<>(Rankings.Reason.class);
        final List<String> firstBad = new ArrayList<>();
        long overlong;
        final List<String> firstOverlong = new ArrayList<>();
        long groups;
        long pairs;
        long answers;
        long offPrompt;
        int maxK;
        int maxLength;

        Counts plus(Counts o) {
            Counts c = new Counts();
            for (Counts x : List.of(this, o)) {
                x.bad.forEach((k, v) -> c.bad.merge(k, v, Long::sum));
                addFirst(c.firstBad, x.firstBad);
                addFirst(c.firstOverlong, x.firstOverlong);
                c.overlong += x.overlong;
                c.groups += x.groups;
                c.pairs += x.pairs;
                c.answers += x.answers;
                c.offPrompt += x.offPrompt;
                c.maxK = Math.max(c.maxK, x.maxK);
                c.maxLength = Math.max(c.maxLength, x.maxLength);
            }
            return c;
        }

        private static void addFirst(List<String> to, List<String> from) {
            for (String w : from) {
                if (to.size() < FIRST_NAMED) {
                    to.add(w);
                }
            }
        }
    }

    static Iterator<Counts> count(Iterator<Outcome> it) {
        Counts c = new Counts();
        while (it.hasNext()) {
            Outcome o = it.next();
            if (o.bad() != null) {
                c.bad.merge(o.bad(), 1L, Long::sum);
                if (c.firstBad.size() < FIRST_NAMED) {
                    c.firstBad.add(o.message());
                }
            } else if (o.overlong()) {
                c.overlong++;
                if (c.firstOverlong.size() < FIRST_NAMED) {
                    c.firstOverlong.add(o.message());
                }
            } else {
                PromptGroup g = o.group();
                c.groups++;
                c.pairs += g.ownPairs();
                c.answers += g.ownAnswers();
                c.offPrompt += g.offPrompt() ? 1 : 0;
                c.maxK = Math.max(c.maxK, g.answers());
                c.maxLength = Math.max(c.maxLength, g.maxLength());
            }
        }
        return List.of(c).iterator();
    }
}
