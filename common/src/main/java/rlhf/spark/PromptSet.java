package rlhf.spark;

import java.io.Serializable;
import java.util.List;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import rlhf.data.Examples;
import rlhf.data.Prompt;
import rlhf.rules.RewardSource;
import rlhf.tokenizer.BpeTokenizer;

/**
 * The prompts a policy samples from (PPO's rollouts, best-of-n), tokenized on the executors and
 * cached there with stable indices ({@link IndexedData}): prompt i keeps index i whatever the
 * partitioning, so the seeds of its samples never change.
 */
public final class PromptSet {

    private static final Logger LOG = LoggerFactory.getLogger(PromptSet.class);

    /** Dropped prompts named in the log. */
    private static final int FIRST_UNFIT = 5;

    private PromptSet() {
    }

    /**
     * When a term of {@code reward} compares with a reference answer (exact, number): refuses
     * prompts none of which has one, and warns how many have none (their responses score 0 by it).
     */
    public static void requireReferences(IndexedData<Tokenized> prompts, RewardSource reward, String what) {
        if (!reward.needsReference()) {
            return;
        }
        long missing = prompts.shards().map(sh -> sh.examples.stream().filter(t -> t.reference() == null).count())
                .fold(0L, Long::sum);
        if (missing == prompts.count()) {
            throw new IllegalArgumentException(what + ": the reward " + reward.describe() + " compares each response "
                    + "with its prompt's reference answer, but no prompt has one: add a 'reference' column (or map "
                    + "yours with data.columns.reference)");
        }
        if (missing > 0) {
            LOG.warn("{}: {} of {} prompts have no reference answer; the reward {} "
                    + "scores their responses 0 on its reference terms", what, missing, prompts.count(), reward.describe());
        }
    }

    /** A prompt (template applied), its tokens, and its row's reference answer (null without one). */
    public record Tokenized(String text, int[] ids, String reference) implements Serializable {
    }

    /**
     * Tokenizes {@code rows} and caches those of 1..{@code maxTokens} tokens.
     *
     * @param partitions spread over this many partitions by index ranges (0: as read)
     * @param what       names the data in messages ("data.prompts s3a://.../prompts.jsonl")
     * @throws IllegalArgumentException naming {@code what} when no prompt is left
     */
    public static IndexedData<Tokenized> load(JavaSparkContext sc, Examples<Prompt> rows, BpeTokenizer tok,
            int maxTokens, int partitions, String what) {
        Broadcast<BpeTokenizer> bt = sc.broadcast(tok);
        JavaRDD<Tokenized> t = rows.rdd()
                .map(p -> new Tokenized(p.prompt(), bt.value().encode(p.prompt()), p.reference()))
                .filter(p -> p.ids().length >= 1 && p.ids().length <= maxTokens);
        if (partitions > 0) {
            // index ranges, not repartition(): a recomputed partition gets back the same prompts
            // in the same order, so prompt indices (and with them seeds and resume) never change
            t = IndexRanges.respread(t, t.count(), partitions);
        }
        IndexedData<Tokenized> data;
        try {
            data = IndexedData.cache(t, StorageLevel.MEMORY_AND_DISK(), "prompts " + what);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + ": all " + rows.count() + " prompts are empty or longer than "
                    + "data.max_prompt_tokens = " + maxTokens + " tokens; first: " + firstUnfit(rows, bt, maxTokens), e);
        }
        long unfit = rows.count() - data.count();
        LOG.info("prompts {}: {} cached in {} partitions; {} bad rows dropped{}, {} empty or longer than "
                + "data.max_prompt_tokens={} dropped{}", what, data.count(), data.partitions(), rows.dropped(),
                rows.firstDropped().isEmpty() ? "" : " (first: " + rows.firstDropped() + ")", unfit, maxTokens,
                unfit == 0 ? "" : " (first: " + firstUnfit(rows, bt, maxTokens) + ")");
        bt.unpersist();
        return data;
    }

    /**
     * The first few prompts that are empty or longer than {@code maxTokens}, by file and row with
     * their length: a user looking for the 1 MB prompt finds it. A second pass that stops at the
     * partitions holding them; only run when some were dropped.
     */
    private static List<String> firstUnfit(Examples<Prompt> rows, Broadcast<BpeTokenizer> bt, int maxTokens) {
        return rows.rdd()
                .map(p -> {
                    int n = bt.value().encode(p.prompt()).length;
                    return n >= 1 && n <= maxTokens ? "" : p.where() + ": " + n + " tokens";
                })
                .filter(w -> !w.isEmpty())
                .take(FIRST_UNFIT);
    }
}
