package rlhf.metrics;

import java.io.IOException;
import java.io.InputStream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

/**
 * A policy's best-of-n frontier: for k = 1..n, the KL bound of keeping the best of k samples and
 * its expected score, as the best-of-n job records it in report.json (array {@value #FRONTIER}).
 * A PPO run of the same policy and reward is read against it: at the KL PPO has spent, the
 * frontier says what choosing among samples would have scored ({@link #scoreAt}).
 *
 * @param kl    (n) KL bound of best-of-k, nats, increasing from 0 at k = 1
 * @param score (n) expected score of best-of-k, on the scale PPO's score_mean uses (non-decreasing in k)
 * @param gold  (n) expected gold score of best-of-k (the report's gold rule), or null without one
 */
public record BestOfNFrontier(double[] kl, double[] score, double[] gold) {

    /** report.json keys (written by the best-of-n job, read here). */
    public static final String FRONTIER = "frontier";
    public static final String K = "k";
    public static final String KL_BOUND = "kl_bound";
    public static final String SCORE = "score";
    public static final String GOLD = "gold";

    public BestOfNFrontier {
        if (kl.length == 0 || kl.length != score.length || gold != null && gold.length != kl.length) {
            throw new IllegalArgumentException(kl.length + " KL values for " + score.length + " scores"
                    + (gold == null ? "" : " and " + gold.length + " gold scores"));
        }
        for (int i = 1; i < kl.length; i++) {
            if (!(kl[i] > kl[i - 1])) {
                throw new IllegalArgumentException("KL bounds must increase with k: " + kl[i - 1] + ", " + kl[i]);
            }
        }
    }

    /** The frontier of a best-of-n report.json (any Hadoop path); errors name the file and key. */
    public static BestOfNFrontier read(String path, Configuration hconf) throws IOException {
        Path p = new Path(path);
        JsonNode root;
        try (InputStream in = p.getFileSystem(hconf).open(p)) {
            root = new ObjectMapper().readTree(in);
        }
        JsonNode f = root == null ? null : root.get(FRONTIER);
        if (f == null || !f.isArray() || f.isEmpty()) {
            throw new IllegalArgumentException(path + ": no '" + FRONTIER + "' array: expected the report.json of a "
                    + "best-of-n run");
        }
        double[] kl = new double[f.size()];
        double[] score = new double[f.size()];
        double[] gold = f.get(0).has(GOLD) ? new double[f.size()] : null;
        for (int i = 0; i < f.size(); i++) {
            JsonNode e = f.get(i);
            if (!e.path(K).isInt() || e.get(K).asInt() != i + 1 || !e.path(KL_BOUND).isNumber()
                    || !e.path(SCORE).isNumber()) {
                throw new IllegalArgumentException(path + ": " + FRONTIER + "[" + i + "] must be {\"" + K + "\": " + (i + 1)
                        + ", \"" + KL_BOUND + "\": number, \"" + SCORE + "\": number}, found " + e);
            }
            kl[i] = e.get(KL_BOUND).asDouble();
            score[i] = e.get(SCORE).asDouble();
            if (gold != null) {
                if (!e.path(GOLD).isNumber()) {
                    throw new IllegalArgumentException(path + ": " + FRONTIER + "[" + i + "] has no '" + GOLD
                            + "' number but " + FRONTIER + "[0] has one");
                }
                gold[i] = e.get(GOLD).asDouble();
            }
        }
        try {
            return new BestOfNFrontier(kl, score, gold);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(path + ": " + e.getMessage(), e);
        }
    }

    public int n() {
        return kl.length;
    }

    /**
     * The gold score best-of-k has where its expected score equals {@code s}: linear between the
     * points, the end values beyond them. Requires a report with a gold rule.
     */
    public double goldAtScore(double s) {
        if (gold == null) {
            throw new IllegalStateException("the best-of-n report has no gold scores (run it with eval.gold_rule)");
        }
        if (s <= score[0]) {
            return gold[0];
        }
        for (int i = 1; i < score.length; i++) {
            if (s <= score[i]) {
                double span = score[i] - score[i - 1];
                double t = span > 0 ? (s - score[i - 1]) / span : 1;
                return gold[i - 1] + t * (gold[i] - gold[i - 1]);
            }
        }
        return gold[gold.length - 1];
    }

    /**
     * The frontier's score at KL {@code nats}: linear between its points, the best-of-1 score at or
     * below 0, and the best-of-n score beyond the last point (more KL than n samples spend).
     */
    public double scoreAt(double nats) {
        if (nats <= kl[0]) {
            return score[0];
        }
        for (int i = 1; i < kl.length; i++) {
            if (nats <= kl[i]) {
                double t = (nats - kl[i - 1]) / (kl[i] - kl[i - 1]);
                return score[i - 1] + t * (score[i] - score[i - 1]);
            }
        }
        return score[kl.length - 1];
    }
}
