package rlhf.rules;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.io.RewardScale;

/**
 * Where the score of a response comes from, read from a job's {@code reward.*} keys, the same for
 * every job that scores responses (PPO, best-of-n):
 *
 * <ul>
 *   <li>{@code reward.kind = model}: the reward model at {@code model.reward};</li>
 *   <li>{@code reward.kind = rule}: the rule {@code reward.rule}, a built-in ({@code exact},
 *       {@code regex}, {@code number}, {@code length}: {@link BuiltinRules}) or the class name of a
 *       {@link RuleReward};</li>
 *   <li>{@code reward.kind = sum}: Σ weight × term over {@code reward.sum = model:1, exact:0.5, ...},
 *       each term {@code model}, a built-in or a class name.</li>
 * </ul>
 *
 * <p>The caller scores with the reward model and passes its score in, with the model's recorded
 * scale ({@code reward.normalize}); the rules' terms are computed here ({@link Scorer}). The source
 * is small and serializable and travels with the tasks; the rules themselves are made on each
 * executor ({@link #rules}), so a class-named rule need not be serializable.
 */
public final class RewardSource implements Serializable {

    private static final long serialVersionUID = 1L;

    /** {@code reward.kind}. */
    public enum Kind { MODEL, RULE, SUM }

    /** The name of the reward model's term. */
    public static final String MODEL = "model";

    /** The built-in rules by name. */
    public static final List<String> BUILTINS = List.of("exact", "regex", "number", "length");

    /** A response's score as logged (the model's term unscaled) and as trained on (on the model's recorded scale). */
    public record Scored(double raw, double score) {
    }

    /** One term: {@link #MODEL}, a built-in rule's name or a rule class, and its weight. */
    public record Term(String name, double weight) implements Serializable {
    }

    private final List<Term> terms;
    private final String regex;
    private final boolean regexFull;
    private final double numberTolerance;
    private final boolean numberRelative;
    private final int lengthTarget;
    /** A serializable rule given in code instead of the configuration (tests, library callers), or null. */
    private final RuleReward instance;

    private RewardSource(List<Term> terms, String regex, boolean regexFull, double numberTolerance,
            boolean numberRelative, int lengthTarget, RuleReward instance) {
        this.terms = List.copyOf(terms);
        this.regex = regex;
        this.regexFull = regexFull;
        this.numberTolerance = numberTolerance;
        this.numberRelative = numberRelative;
        this.lengthTarget = lengthTarget;
        this.instance = instance;
    }

    /**
     * The {@code reward.*} keys of {@code c}, checked now, on the driver: the reward model's key
     * when a term needs it, a rule class that loads, a regular expression that compiles.
     */
    public static RewardSource read(JobConfig c) {
        Kind kind = c.getEnum("reward.kind", Kind.class);
        List<Term> terms = switch (kind) {
            case MODEL -> List.of(new Term(MODEL, 1));
            case RULE -> {
                String rule = c.getString("reward.rule");
                if (rule.isEmpty()) {
                    throw new ConfigException("config key 'reward.rule' is empty but reward.kind = rule: set it to a "
                            + "built-in rule (" + String.join(", ", BUILTINS) + ") or the class name of your "
                            + "rlhf.rules.RuleReward");
                }
                yield List.of(new Term(rule, 1));
            }
            case SUM -> parseSum(c.getString("reward.sum"));
        };
        RewardSource s = new RewardSource(terms, c.getString("reward.regex"),
                c.getEnum("reward.regex_match", RegexMode.class) == RegexMode.FULL,
                c.requireIn("reward.number_tolerance", 0, 1e300), c.getBoolean("reward.number_relative"),
                (int) c.requireIn("reward.length_target", 1, 1 << 30), null);
        if (s.needsModel() && c.getString("model.reward").isEmpty()) {
            throw new ConfigException("config key 'model.reward' is empty but reward.kind = " + kind.name()
                    .toLowerCase(Locale.ROOT) + (kind == Kind.SUM ? " has a model term" : "") + ": set it to the "
                    + "reward model checkpoint, or use reward.kind = rule with reward.rule = a built-in rule or a "
                    + "RuleReward class");
        }
        for (Term t : terms) {
            if (t.name().equals("regex")) {
                s.pattern(); // compiles now, with the key in the message
            } else if (!t.name().equals(MODEL) && !BUILTINS.contains(t.name())) {
                RuleReward.byName(t.name());
            }
        }
        return s;
    }

    /** How {@code reward.regex} must match: be found in the response, or match all of it. */
    public enum RegexMode { FIND, FULL }

    /** A source of one rule given in code (a serializable instance), weight 1. */
    public static RewardSource ofRule(RuleReward rule) {
        if (!(rule instanceof Serializable)) {
            throw new IllegalArgumentException("a rule given in code travels with the tasks: "
                    + rule.getClass().getName() + " must be Serializable (or name it by class in reward.rule)");
        }
        return new RewardSource(List.of(new Term("given " + rule.getClass().getName(), 1)), "", false, 0, false, 1,
                rule);
    }

    /** "model:1, exact:0.5" -> terms; each a name and a finite weight. */
    static List<Term> parseSum(String spec) {
        List<Term> out = new ArrayList<>();
        for (String part : spec.split(",")) {
            String p = part.strip();
            if (p.isEmpty()) {
                continue;
            }
            int colon = p.lastIndexOf(':');
            String name = colon < 0 ? p : p.substring(0, colon).strip();
            double w;
            try {
                w = colon < 0 ? 1 : Double.parseDouble(p.substring(colon + 1).strip());
            } catch (NumberFormatException e) {
                throw new ConfigException("config key 'reward.sum': term '" + p + "' has no number after ':' (expected "
                        + "NAME:WEIGHT, e.g. model:1.0, exact:0.5)");
            }
            if (name.isEmpty() || !Double.isFinite(w)) {
                throw new ConfigException("config key 'reward.sum': term '" + p + "' needs a name and a finite weight");
            }
            if (out.stream().anyMatch(t -> t.name().equals(name))) {
                throw new ConfigException("config key 'reward.sum' names '" + name + "' twice");
            }
            out.add(new Term(name, w));
        }
        if (out.isEmpty()) {
            throw new ConfigException("config key 'reward.sum' is empty but reward.kind = sum: list the terms as "
                    + "NAME:WEIGHT, e.g. reward.sum = model:1.0, exact:0.5 (names: model, "
                    + String.join(", ", BUILTINS) + " or a RuleReward class)");
        }
        return out;
    }

    public List<Term> terms() {
        return terms;
    }

    /** Whether a reward model scores (a model term). */
    public boolean needsModel() {
        return terms.stream().anyMatch(t -> t.name().equals(MODEL));
    }

    /** The model term's weight (0 without one). */
    public double modelWeight() {
        return terms.stream().filter(t -> t.name().equals(MODEL)).mapToDouble(Term::weight).sum();
    }

    /** Whether a rule scores (a term other than the model's). */
    public boolean hasRules() {
        return terms.stream().anyMatch(t -> !t.name().equals(MODEL));
    }

    /** Whether a term compares with the prompt row's reference (exact, number). */
    public boolean needsReference() {
        return terms.stream().anyMatch(t -> t.name().equals("exact") || t.name().equals("number"));
    }

    /** "the reward model", "rule exact", "1.0 x model + 0.5 x exact", for logs and reports. */
    public String describe() {
        if (terms.size() == 1 && terms.get(0).weight() == 1) {
            return terms.get(0).name().equals(MODEL) ? "the reward model" : "rule " + terms.get(0).name();
        }
        List<String> parts = new ArrayList<>();
        for (Term t : terms) {
            parts.add(t.weight() + " x " + t.name());
        }
        return String.join(" + ", parts);
    }

    private Pattern pattern() {
        if (regex.isEmpty()) {
            throw new ConfigException("config key 'reward.regex' is empty but the rule 'regex' is used: set it to the "
                    + "regular expression a response must contain (reward.regex_match = find) or be (full)");
        }
        try {
            return Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw new ConfigException("config key 'reward.regex' = \"" + regex + "\" is not a regular expression: "
                    + e.getDescription() + " near index " + e.getIndex());
        }
    }

    /** The scorer of a task: the rules' terms made where they score (an executor), class-named ones by {@link RuleReward#byName}. */
    public Scorer scorer() {
        List<RuleReward> rules = new ArrayList<>();
        List<Double> weights = new ArrayList<>();
        for (Term t : terms) {
            if (t.name().equals(MODEL)) {
                continue;
            }
            RuleReward r = instance != null ? instance : switch (t.name()) {
                case "exact" -> new BuiltinRules.ExactMatch();
                case "regex" -> new BuiltinRules.RegexMatch(pattern(), regexFull);
                case "number" -> new BuiltinRules.NumberMatch(numberTolerance, numberRelative);
                case "length" -> new BuiltinRules.LengthPenalty(lengthTarget);
                default -> RuleReward.byName(t.name());
            };
            rules.add(r);
            weights.add(t.weight());
        }
        return new Scorer(needsModel(), modelWeight(), rules.toArray(new RuleReward[0]),
                weights.stream().mapToDouble(Double::doubleValue).toArray());
    }

    /**
     * A response's score from its terms: {@link #rules} computes the rules' part, {@link #score}
     * adds the reward model's term. One per task: the rules need not be thread-safe across tasks.
     */
    public static final class Scorer {
        private final boolean model;
        private final double modelWeight;
        private final RuleReward[] rules;
        private final double[] weights;

        Scorer(boolean model, double modelWeight, RuleReward[] rules, double[] weights) {
            this.model = model;
            this.modelWeight = modelWeight;
            this.rules = rules;
            this.weights = weights;
        }

        /** Whether rules score (else {@link #rules} is 0 and the response text is not needed). */
        public boolean hasRules() {
            return rules.length > 0;
        }

        /** Σ weight × rule score of {@code response} (0 without rules); a single rule of weight 1 is its own score. */
        public double rules(String prompt, String response, String reference) {
            if (rules.length == 1 && weights[0] == 1) {
                return rules[0].score(prompt, response, reference);
            }
            double s = 0;
            for (int i = 0; i < rules.length; i++) {
                s += weights[i] * rules[i].score(prompt, response, reference);
            }
            return s;
        }

        /**
         * A response's score, as logged ({@code raw}: the model's term as the model gave it) and as
         * trained on ({@code score}: the model's term on its recorded {@code scale}), each the
         * model's term times its weight plus the rules' part; with the model alone or the rules
         * alone, that term unchanged.
         *
         * @param modelRaw the reward model's score (unread without a model term)
         * @param rules    {@link #rules} of the response (0 without rules)
         */
        public Scored score(double modelRaw, RewardScale scale, double rules) {
            if (!model) {
                return new Scored(rules, rules);
            }
            double raw = modelWeight * modelRaw;
            double scaled = modelWeight * scale.apply(modelRaw);
            return this.rules.length > 0 ? new Scored(raw + rules, scaled + rules) : new Scored(raw, scaled);
        }
    }
}
