package rlhf.demo;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.SplittableRandom;

/**
 * How the simulated human demonstrators answer: the exact distribution over responses for a
 * problem, from which the SFT demonstrations, the rejected preference answers and the ranked
 * candidates are all drawn.
 *
 * <p>Two independent choices per response:
 * <ol>
 *   <li>content: on an easy instance the right answer with {@code easyCorrect}, otherwise one of
 *       the family's plausible mistakes (uniformly); on a hard instance the right answer with
 *       {@code hardCorrect}, the family's systematic mistake with {@code hardMainMistake}
 *       (carry dropped, ascending instead of descending, ...), the rest spread over the others;</li>
 *   <li>format: bare with {@code 1 - sloppyFormat}, else wrapped in one of
 *       {@link Oracle#SLOPPY_FORMATS} (equally likely).</li>
 * </ol>
 * With the defaults a policy that imitates the demonstrations exactly is right (score 1) on
 * 0.8 x (0.5 x 0.85 + 0.5 x 0.3) = 46% of prompts, and every prompt's right answer has
 * probability at least 0.8 x 0.3 = 24%, so a policy that only moves mass among responses it
 * already produces can reach 100%.
 */
public final class MistakeModel {

    private MistakeModel() {}

    /** Demonstrator error rates; validated. */
    public record Rates(double sloppyFormat, double easyCorrect, double hardCorrect, double hardMainMistake) {
        public Rates {
            check("sloppyFormat", sloppyFormat);
            check("easyCorrect", easyCorrect);
            check("hardCorrect", hardCorrect);
            check("hardMainMistake", hardMainMistake);
            if (hardCorrect + hardMainMistake > 1.0 + 1e-12) {
                throw new IllegalArgumentException("hardCorrect + hardMainMistake must be <= 1, found "
                        + hardCorrect + " + " + hardMainMistake);
            }
        }

        private static void check(String name, double v) {
            if (!(v >= 0 && v <= 1)) throw new IllegalArgumentException(name + " must be in [0, 1], found " + v);
        }
    }

    /** Defaults of the demo: SFT imitation about 46% exact, 30% right on the hard sub-families. */
    public static final Rates DEFAULT = new Rates(0.2, 0.85, 0.3, 0.6);

    /** One response and its probability. */
    public record Weighted(String response, double p) {}

    /** The full response distribution for a problem; probabilities sum to 1, responses distinct. */
    public static List<Weighted> distribution(Problem p, Rates r) {
        List<Weighted> content = contentDistribution(p, r);
        List<Weighted> out = new ArrayList<>();
        int nf = Oracle.SLOPPY_FORMATS.size();
        for (Weighted c : content) {
            out.add(new Weighted(c.response(), c.p() * (1 - r.sloppyFormat())));
            for (String f : Oracle.SLOPPY_FORMATS) {
                out.add(new Weighted(String.format(f, c.response()), c.p() * r.sloppyFormat() / nf));
            }
        }
        out.removeIf(w -> w.p() == 0);
        return out;
    }

    /** The bare answers (before formatting) and their probabilities. */
    static List<Weighted> contentDistribution(Problem p, Rates r) {
        List<String> ms = p.mistakes();
        List<Weighted> out = new ArrayList<>();
        if (p.hard()) {
            out.add(new Weighted(p.answer(), r.hardCorrect()));
            double rest = 1 - r.hardCorrect() - r.hardMainMistake();
            if (ms.size() == 1) {
                out.add(new Weighted(ms.get(0), r.hardMainMistake() + rest));
            } else {
                out.add(new Weighted(ms.get(0), r.hardMainMistake()));
                for (int i = 1; i < ms.size(); i++) out.add(new Weighted(ms.get(i), rest / (ms.size() - 1)));
            }
        } else {
            out.add(new Weighted(p.answer(), r.easyCorrect()));
            for (String m : ms) out.add(new Weighted(m, (1 - r.easyCorrect()) / ms.size()));
        }
        return out;
    }

    /** One demonstrator response. */
    public static String sample(Problem p, Rates r, SplittableRandom rng) {
        return draw(distribution(p, r), rng);
    }

    /** One response from the distribution conditioned on a score below 1 (a demonstrator's miss). */
    public static String sampleWrong(Problem p, Rates r, SplittableRandom rng) {
        List<Weighted> wrong = new ArrayList<>();
        for (Weighted w : distribution(p, r)) if (Oracle.grade(p, w.response()) < Oracle.EXACT) wrong.add(w);
        return draw(wrong, rng);
    }

    static String draw(List<Weighted> ws, SplittableRandom rng) {
        double total = 0;
        for (Weighted w : ws) total += w.p();
        double u = rng.nextDouble() * total;
        for (Weighted w : ws) {
            u -= w.p();
            if (u < 0) return w.response();
        }
        return ws.get(ws.size() - 1).response();
    }

    /** Expected exact accuracy of a policy that samples exactly the demonstration distribution. */
    public static double imitationAccuracy(Collection<Problem> problems, Rates r) {
        double sum = 0;
        for (Problem p : problems) {
            for (Weighted w : distribution(p, r)) if (Oracle.grade(p, w.response()) == Oracle.EXACT) sum += w.p();
        }
        return sum / problems.size();
    }

    /** Accuracy of the greedy imitator: the single most likely demonstration response per prompt. */
    public static double imitationGreedyAccuracy(Collection<Problem> problems, Rates r) {
        int right = 0;
        for (Problem p : problems) {
            Weighted best = null;
            for (Weighted w : distribution(p, r)) if (best == null || w.p() > best.p()) best = w;
            if (Oracle.grade(p, best.response()) == Oracle.EXACT) right++;
        }
        return (double) right / problems.size();
    }

    /** Exact accuracy and mean KL(policy || demonstrations) in nats per response of a policy. */
    public record Tilted(double beta, double accuracy, double meanReward, double kl) {}

    /**
     * The optimum of the KL-regularised objective PPO approximates, {@code E[gold] - beta KL(pi || pi_demo)},
     * taken over the responses the demonstrations contain: {@code pi(y|x) ~ pi_demo(y|x) exp(gold(x,y) / beta)}.
     * It says how much accuracy a given KL budget buys when the reward is the oracle's.
     */
    public static Tilted tilted(Collection<Problem> problems, Rates r, double beta) {
        double acc = 0, reward = 0, kl = 0;
        for (Problem p : problems) {
            List<Weighted> d = distribution(p, r);
            double[] g = new double[d.size()];
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < g.length; i++) { g[i] = Oracle.grade(p, d.get(i).response()); max = Math.max(max, g[i]); }
            double z = 0;
            for (int i = 0; i < g.length; i++) z += d.get(i).p() * Math.exp((g[i] - max) / beta);
            for (int i = 0; i < g.length; i++) {
                double q = d.get(i).p() * Math.exp((g[i] - max) / beta) / z;
                if (q == 0) continue;
                if (g[i] == Oracle.EXACT) acc += q;
                reward += q * g[i];
                kl += q * Math.log(q / d.get(i).p());
            }
        }
        int n = problems.size();
        return new Tilted(beta, acc / n, reward / n, kl / n);
    }

    /**
     * Best accuracy reachable by only re-weighting responses the demonstrations contain: the
     * share of problems whose distribution contains an exactly right response at all.
     */
    public static double bestReachableAccuracy(Collection<Problem> problems, Rates r) {
        int right = 0;
        for (Problem p : problems) {
            for (Weighted w : distribution(p, r)) {
                if (Oracle.grade(p, w.response()) == Oracle.EXACT) { right++; break; }
            }
        }
        return (double) right / problems.size();
    }
}
