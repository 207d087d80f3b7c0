package rlhf.demo;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Scores model completions with the {@link Oracle}: exact accuracy, answer accuracy (right
 * answer in any format, score >= 0.5) and mean gold reward, overall, per family and per
 * sub-family (where "add.carry" vs "add.nocarry" shows whether a systematic mistake was unlearned).
 */
public final class Evaluation {

    private Evaluation() {}

    /** Totals over a group of completions. */
    public record Stats(int n, int correct, int answerCorrect, double rewardSum) {
        public double accuracy() { return n == 0 ? 0 : (double) correct / n; }
        public double answerAccuracy() { return n == 0 ? 0 : (double) answerCorrect / n; }
        public double meanReward() { return n == 0 ? 0 : rewardSum / n; }

        Stats plus(double score) {
            return new Stats(n + 1, correct + (score == Oracle.EXACT ? 1 : 0),
                    answerCorrect + (score >= Oracle.SLOPPY_RIGHT ? 1 : 0), rewardSum + score);
        }
    }

    /** Overall, per-family and per-sub-family statistics; maps are sorted by name. */
    public record Result(Stats overall, Map<String, Stats> byFamily, Map<String, Stats> bySubfamily) {

        /**
         * Flat metrics for a metrics log: "accuracy", "answer_accuracy", "reward", and the same
         * suffixed with "/family" and "/family.subfamily".
         */
        public Map<String, Double> metrics() {
            Map<String, Double> m = new LinkedHashMap<>();
            put(m, "", overall);
            byFamily.forEach((k, s) -> put(m, "/" + k, s));
            bySubfamily.forEach((k, s) -> put(m, "/" + k, s));
            return m;
        }

        private static void put(Map<String, Double> m, String suffix, Stats s) {
            m.put("accuracy" + suffix, s.accuracy());
            m.put("answer_accuracy" + suffix, s.answerAccuracy());
            m.put("reward" + suffix, s.meanReward());
        }

        /** A small table: one line per group with n, accuracy, answer accuracy, mean reward. */
        @Override
        public String toString() {
            StringBuilder b = new StringBuilder(String.format("%-16s %6s %8s %8s %8s%n", "group", "n", "acc", "ans_acc", "reward"));
            line(b, "all", overall);
            byFamily.forEach((k, s) -> line(b, k, s));
            bySubfamily.forEach((k, s) -> line(b, "  " + k, s));
            return b.toString();
        }

        private static void line(StringBuilder b, String name, Stats s) {
            b.append(String.format("%-16s %6d %8.3f %8.3f %8.3f%n", name, s.n(), s.accuracy(), s.answerAccuracy(), s.meanReward()));
        }
    }

    /** Scores {@code completions.get(i)} as the answer to {@code prompts.get(i)}. */
    public static Result evaluate(List<String> prompts, List<String> completions, Oracle oracle) {
        if (prompts.size() != completions.size()) {
            throw new IllegalArgumentException("expected one completion per prompt, found " + prompts.size()
                    + " prompts and " + completions.size() + " completions");
        }
        Stats overall = new Stats(0, 0, 0, 0);
        Map<String, Stats> byFamily = new TreeMap<>(), bySub = new TreeMap<>();
        Stats empty = overall;
        for (int i = 0; i < prompts.size(); i++) {
            Problem p = oracle.problem(prompts.get(i));
            double s = Oracle.grade(p, completions.get(i));
            overall = overall.plus(s);
            byFamily.put(p.family().id(), byFamily.getOrDefault(p.family().id(), empty).plus(s));
            bySub.put(p.subfamily(), bySub.getOrDefault(p.subfamily(), empty).plus(s));
        }
        return new Result(overall, byFamily, bySub);
    }
}
