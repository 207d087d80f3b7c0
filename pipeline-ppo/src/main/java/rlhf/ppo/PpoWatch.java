package rlhf.ppo;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import rlhf.metrics.BestOfNFrontier;

/**
 * Warnings a user can act on, read from the iterations' metrics over a window of the last N
 * (eval.watch_iterations), its older half against its newer half:
 *
 * <ul>
 *   <li><b>not moving</b>: score_mean rose by less than {@value #FLAT_SCORE} of the rollouts'
 *       score std and the KL by less than {@value #FLAT_KL} nats, while KL budget is left unspent:
 *       less KL than the start policy's best-of-n spends and a lower score (with a frontier), or
 *       less than {@value #SMALL_KL} nats, what best-of-4 spends (without one); and at the pace of
 *       the run so far (KL spent per iteration) the last iteration would still have spent less than
 *       half of that budget. A converged run on a plateau above those is not flagged, nor one that
 *       spent more KL for less score (inefficient: score_vs_bon shows it), nor a run that climbs in
 *       steps with pauses longer than half a window (128 rollouts of a noisy reward model do) and is
 *       on its way to the budget.</li>
 *   <li><b>gaming the reward</b> (with eval.gold_rule): score_mean rose by more than
 *       {@value #RISING_SCORE} std while gold_mean fell by more than {@value #FALLING_GOLD}, both
 *       also by more than two standard errors of the half-window means (iteration-to-iteration
 *       noise is not a trend); or, with a best-of-n report that has gold scores, gold_vs_bon
 *       (gold_mean minus the gold best-of-n's choices have at the same reward-model score) is below
 *       -{@value #BEHIND_BON_GOLD} and two standard errors over the window: PPO's score gains are
 *       less real than choosing among the start policy's samples.</li>
 * </ul>
 *
 * Each warning is given when its condition starts to hold, and again only after it stopped and at
 * least a window after the last one: a condition that flickers on noisy iterations warns once a
 * window, not every other iteration.
 */
final class PpoWatch {

    static final double FLAT_SCORE = 0.05;
    static final double FLAT_KL = 0.02;
    static final double SMALL_KL = 0.64;
    static final double RISING_SCORE = 0.1;
    static final double FALLING_GOLD = 0.02;
    static final double BEHIND_BON_GOLD = 0.1;

    static final String NOT_MOVING = "warn_not_moving";
    static final String GAMING = "warn_gaming";

    private final int window;
    private final int iterations;
    private final BestOfNFrontier frontier;
    private final Deque<Map<String, Double>> last = new ArrayDeque<>();
    private final Algorithm method;
    private boolean notMoving;
    private boolean gaming;
    private int lastNotMoving = Integer.MIN_VALUE / 2;
    private int lastGaming = Integer.MIN_VALUE / 2;

    /**
     * @param method     the run's method: its name and keys in the warnings
     * @param iterations the run's number of iterations (ppo.iterations)
     * @param frontier   the start policy's best-of-n frontier, or null
     */
    PpoWatch(Algorithm method, int window, int iterations, BestOfNFrontier frontier) {
        this.method = method;
        this.window = window;
        this.iterations = iterations;
        this.frontier = frontier;
    }

    /**
     * Adds iteration {@code done}'s metrics; once the window is full, puts the two flags (0/1) into
     * {@code m} and returns the warnings that start at this iteration.
     */
    List<String> observe(int done, Map<String, Double> m) {
        List<String> warnings = new ArrayList<>();
        if (window < 2) {
            return warnings;
        }
        last.addLast(m);
        if (last.size() > window) {
            last.removeFirst();
        }
        if (last.size() < window) {
            return warnings;
        }
        List<Map<String, Double>> w = new ArrayList<>(last);
        int half = window / 2;
        List<Map<String, Double>> older = w.subList(0, half);
        List<Map<String, Double>> newer = w.subList(window - half, window);
        double std = Math.max(mean(w, "score_std"), 1e-12);
        double dScore = mean(newer, "score_mean") - mean(older, "score_mean");
        double dKl = mean(newer, "kl") - mean(older, "kl");
        double score = mean(newer, "score_mean");
        double kl = mean(newer, "kl");
        String span = String.format(Locale.ROOT, "%s: warning: iterations %d-%d: ", method.job(), done - window + 1,
                done);

        // unspent budget: less KL than best-of-n spends (or best-of-4 without a report), and with a
        // report a score below best-of-n's; a run that spent more KL and sits lower is inefficient,
        // which score_vs_bon shows, not stuck
        double budget = frontier != null ? frontier.kl()[frontier.n() - 1] : SMALL_KL;
        boolean headroom = kl < budget && (frontier == null || score < frontier.score()[frontier.n() - 1]);
        // the KL so far per iteration, carried to the last one: a pause in a run on its way is not stuck
        double paceKl = Math.max(kl, 0) * Math.max(iterations, done) / done;
        boolean flat = dScore < FLAT_SCORE * std && Math.abs(dKl) < FLAT_KL && headroom && paceKl < budget / 2;
        if (flat && !notMoving && done - lastNotMoving >= window) {
            lastNotMoving = done;
            warnings.add(span + String.format(Locale.ROOT, "not moving: score_mean changed by %+.4f (%.3f of its std) "
                    + "and the KL by %+.4f nats (now %.4f; at this pace about %.2f by iteration %d)%s. Try a higher "
                    + "optim.policy_lr, a lower " + method.key("kl_coef") + ", more " + method.key("epochs")
                    + ", or check the reward's scale "
                    + "(reward.normalize)", dScore, dScore / std, dKl, kl, paceKl, Math.max(iterations, done),
                    frontier == null ? "" : String.format(Locale.ROOT, "; best-of-%d of the start policy scores %.4f "
                            + "for at most %.4f nats", frontier.n(), frontier.score()[frontier.n() - 1],
                            frontier.kl()[frontier.n() - 1])));
        }
        notMoving = flat;
        m.put(NOT_MOVING, flat ? 1.0 : 0.0);

        if (m.containsKey("gold_mean")) {
            double dGold = mean(newer, "gold_mean") - mean(older, "gold_mean");
            // both changes beyond two standard errors of the half-window means as well: a few dozen
            // rollouts an iteration make gold_mean noisy, and noise must not read as a trend
            boolean falling = dScore > Math.max(RISING_SCORE * std, 2 * standardError(older, newer, "score_mean"))
                    && dGold < -Math.max(FALLING_GOLD, 2 * standardError(older, newer, "gold_mean"));
            // at the same reward-model score, less gold than best-of-n's choices have
            boolean belowBon = false;
            double behind = 0;
            if (m.containsKey(PpoJob.GOLD_VS_BON)) {
                behind = mean(w, PpoJob.GOLD_VS_BON);
                belowBon = behind < -Math.max(BEHIND_BON_GOLD, 2 * Math.sqrt(variance(w, PpoJob.GOLD_VS_BON) / w.size()));
            }
            boolean g = falling || belowBon;
            if (g && !gaming && done - lastGaming >= window) {
                lastGaming = done;
                warnings.add(span + (falling
                        ? String.format(Locale.ROOT, "score_mean rose by %+.4f (%.3f of its std) while gold_mean fell "
                                + "by %+.4f", dScore, dScore / std, dGold)
                        : String.format(Locale.ROOT, "gold_mean is %.4f below the gold best-of-n's choices have at the "
                                + "same reward-model score (gold_vs_bon)", -behind))
                        + ": the policy may be gaming the reward model. Keep an earlier checkpoint, raise "
                        + method.key("kl_coef") + ", "
                        + "or improve the reward model");
            }
            gaming = g;
            m.put(GAMING, g ? 1.0 : 0.0);
        }
        return warnings;
    }

    /** Standard error of mean(b) - mean(a) from the iteration-to-iteration spread within each half. */
    private static double standardError(List<Map<String, Double>> a, List<Map<String, Double>> b, String key) {
        return Math.sqrt(variance(a, key) / a.size() + variance(b, key) / b.size());
    }

    private static double variance(List<Map<String, Double>> ms, String key) {
        double mu = mean(ms, key);
        double s = 0;
        for (Map<String, Double> m : ms) {
            double d = m.getOrDefault(key, 0.0) - mu;
            s += d * d;
        }
        return ms.size() > 1 ? s / (ms.size() - 1) : 0;
    }

    private static double mean(List<Map<String, Double>> ms, String key) {
        double s = 0;
        for (Map<String, Double> m : ms) {
            s += m.getOrDefault(key, 0.0);
        }
        return s / ms.size();
    }
}
