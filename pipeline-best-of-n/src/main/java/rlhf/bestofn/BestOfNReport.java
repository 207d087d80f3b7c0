package rlhf.bestofn;

import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import rlhf.metrics.BestOfNFrontier;

/**
 * The sums behind report.json, prompt by prompt: the frontier (expected score and gold of the best
 * of k samples, k = 1..n, with the KL bound of each), and what a user checks when best-of-n gains
 * little: how often responses end with EOS, how long they are, how many of a prompt's samples
 * differ, and on how many prompts every sample scored the same.
 */
public final class BestOfNReport {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final int n;
    private final boolean gold;
    private final double[] score;  // (n) sum over prompts of the expected score of best-of-(k+1)
    private final double[] goldOf; // (n) likewise for the gold score
    private long prompts;
    private long samplesEndedWithEos;
    private long chosenEndedWithEos;
    private long sampleTokens;
    private long chosenTokens;
    private long distinct;
    private long allTied;

    public BestOfNReport(int n, boolean gold) {
        this.n = n;
        this.gold = gold;
        this.score = new double[n];
        this.goldOf = new double[n];
    }

    public void add(BestOfNWorker.PromptSamples p) {
        if (p.scores().length != n || (p.gold() != null) != gold) {
            throw new IllegalArgumentException("prompt " + p.index() + " has " + p.scores().length + " samples"
                    + (p.gold() != null ? " with" : " without") + " gold scores; the report expects " + n
                    + (gold ? " with" : " without"));
        }
        prompts++;
        int[] order = Frontier.rankOrder(p.scores());
        for (int k = 1; k <= n; k++) {
            score[k - 1] += Frontier.expectedBestOfK(order, p.scores(), k);
            if (gold) {
                goldOf[k - 1] += Frontier.expectedBestOfK(order, p.gold(), k);
            }
        }
        int best = p.best();
        Set<String> seen = new HashSet<>();
        for (int j = 0; j < n; j++) {
            samplesEndedWithEos += p.endedWithEos()[j] ? 1 : 0;
            sampleTokens += p.tokens(j);
            seen.add(p.responses()[j]);
        }
        chosenEndedWithEos += p.endedWithEos()[best] ? 1 : 0;
        chosenTokens += p.tokens(best);
        distinct += seen.size();
        allTied += p.scores()[p.worst()] == p.scores()[best] ? 1 : 0;
    }

    public long prompts() {
        return prompts;
    }

    /** Mean over prompts of the expected score of the best of k samples (k = 1: one sample). */
    public double score(int k) {
        return score[k - 1] / prompts;
    }

    /** Mean over prompts of the expected gold score of the best of k samples by score. */
    public double gold(int k) {
        if (!gold) {
            throw new IllegalStateException("no gold rule");
        }
        return goldOf[k - 1] / prompts;
    }

    /** The report.json object; {@code header} holds the run's settings and is copied first. */
    public ObjectNode toJson(ObjectNode header) {
        ObjectNode o = header.deepCopy();
        o.put("prompts", prompts);
        o.put("n", n);
        o.put("kl_bound", Frontier.klBound(n));
        o.put("score_one_sample", score(1));
        o.put("score_best_of_n", score(n));
        if (gold) {
            o.put("gold_one_sample", gold(1));
            o.put("gold_best_of_n", gold(n));
        }
        ArrayNode frontier = o.putArray(BestOfNFrontier.FRONTIER);
        for (int k = 1; k <= n; k++) {
            ObjectNode f = frontier.addObject();
            f.put(BestOfNFrontier.K, k);
            f.put(BestOfNFrontier.KL_BOUND, Frontier.klBound(k));
            f.put(BestOfNFrontier.SCORE, score(k));
            if (gold) {
                f.put(BestOfNFrontier.GOLD, gold(k));
            }
        }
        o.put("ended_with_eos_samples", (double) samplesEndedWithEos / (prompts * n));
        o.put("ended_with_eos_chosen", (double) chosenEndedWithEos / prompts);
        o.put("mean_tokens_samples", (double) sampleTokens / (prompts * n));
        o.put("mean_tokens_chosen", (double) chosenTokens / prompts);
        o.put("mean_distinct_responses", (double) distinct / prompts);
        o.put("prompts_all_tied", allTied);
        return o;
    }

    /** One line for the console. */
    public String summary() {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT,
                "%d prompts x %d samples: score %.4f (one sample) -> %.4f (best of %d), KL <= %.4f nats", prompts, n,
                score(1), score(n), n, Frontier.klBound(n)));
        if (gold) {
            b.append(String.format(Locale.ROOT, "; gold %.4f -> %.4f", gold(1), gold(n)));
        }
        b.append(String.format(Locale.ROOT, "; %.2f distinct responses per prompt, %d prompts with all scores tied",
                (double) distinct / prompts, allTied));
        return b.toString();
    }

    static String write(ObjectNode o) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
