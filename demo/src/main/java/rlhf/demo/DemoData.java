package rlhf.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import rlhf.tensor.Rng;

/**
 * Generates the demo's data sets from the task families, the demonstrator {@link MistakeModel}
 * and the {@link Oracle}, deterministically from a seed (same config, same bytes).
 *
 * <p>Files (JSON lines, one object a line, fields in this order):
 * <pre>
 *   sft_train.jsonl, sft_eval.jsonl       {"prompt", "response"}              demonstrations
 *   prefs_train.jsonl, prefs_eval.jsonl   {"prompt", "chosen", "rejected"}    chosen exactly right,
 *                                                                             rejected a demonstrator miss
 *   rankings_train.jsonl                  {"prompt", "responses", "ranking", "scores"}
 *                                         ranking = indices into responses, best first;
 *                                         scores = oracle score per response (strictly ordered)
 *   ppo_prompts.jsonl, heldout_prompts.jsonl  {"prompt", "family", "subfamily", "answer"}
 * </pre>
 * Train files use only train-split prompts, eval/held-out files only held-out ones: a prompt is
 * held out when a seeded hash of its text falls below {@code heldoutFraction}. The split is by
 * prompt text, so a held-out problem can appear in training with another wording; what is held
 * out is the exact prompt (for RANGE its numbers: {@link Family#splitKey}). Prompts are drawn with replacement (files can repeat a prompt), each
 * family equally often and each family's hard sub-family with probability {@code hardFraction}, in
 * both splits alike.
 */
public final class DemoData {

    private DemoData() {}

    /** Sizes, seed and rates of a generation; validated. */
    public record Config(long seed, int sftTrain, int sftEval, int prefsTrain, int prefsEval,
                         int rankingsTrain, int rankK, int ppoPrompts, int heldoutPrompts,
                         double heldoutFraction, double hardFraction, MistakeModel.Rates rates,
                         List<Family> families) {
        public Config {
            families = List.copyOf(families);
            if (families.isEmpty() || families.stream().distinct().count() != families.size()) {
                throw new IllegalArgumentException("families must be distinct and at least one, found " + families);
            }
            int[] sizes = {sftTrain, sftEval, prefsTrain, prefsEval, rankingsTrain, ppoPrompts, heldoutPrompts};
            for (int i = 0; i < sizes.length; i++) {
                if (sizes[i] < 0) throw new IllegalArgumentException(SIZE_KEYS.get(i) + " must be >= 0, found " + sizes[i]);
            }
            if (rankK < 2 || rankK > 4) throw new IllegalArgumentException("rank-k must be in 2..4 (four score levels), found " + rankK);
            if (!(heldoutFraction > 0 && heldoutFraction < 1)) {
                throw new IllegalArgumentException("heldout-fraction must be in (0, 1), found " + heldoutFraction);
            }
            if (!(hardFraction >= 0 && hardFraction <= 1)) {
                throw new IllegalArgumentException("hard-fraction must be in [0, 1], found " + hardFraction);
            }
        }

        /** The demo's six families. */
        public Config(long seed, int sftTrain, int sftEval, int prefsTrain, int prefsEval, int rankingsTrain, int rankK,
                      int ppoPrompts, int heldoutPrompts, double heldoutFraction, double hardFraction,
                      MistakeModel.Rates rates) {
            this(seed, sftTrain, sftEval, prefsTrain, prefsEval, rankingsTrain, rankK, ppoPrompts, heldoutPrompts,
                    heldoutFraction, hardFraction, rates, Family.DEMO);
        }

        public static Config defaults(long seed) {
            return new Config(seed, 8000, 500, 4000, 500, 1000, 4, 2000, 600, 0.2, 0.5, MistakeModel.DEFAULT);
        }
    }

    /**
     * Families named by a list: "demo" (the six), "fresh" (the three the demo was not tuned on),
     * "all", or comma-separated ids ("plural,range").
     */
    public static List<Family> families(String spec) {
        switch (spec.strip()) {
            case "demo": return Family.DEMO;
            case "fresh": return Family.FRESH;
            case "all": return List.of(Family.values());
            default: break;
        }
        List<Family> out = new ArrayList<>();
        for (String id : spec.split(",")) {
            Family f = null;
            for (Family x : Family.values()) if (x.id().equals(id.strip())) f = x;
            if (f == null) {
                throw new IllegalArgumentException("unknown family '" + id.strip() + "' in '" + spec + "': expected demo,"
                        + " fresh, all, or ids from " + java.util.Arrays.stream(Family.values()).map(Family::id).toList());
            }
            out.add(f);
        }
        return out;
    }

    private static final List<String> SIZE_KEYS = List.of("sft-train", "sft-eval", "prefs-train", "prefs-eval",
            "rankings-train", "ppo-prompts", "heldout-prompts");

    public record Sft(String prompt, String response) {}

    public record Pref(String prompt, String chosen, String rejected) {}

    /** K responses, {@code ranking} = their indices best first, {@code scores} = oracle score per response. */
    public record Ranking(String prompt, List<String> responses, int[] ranking, double[] scores) {}

    /** Everything one generation produces, in memory. */
    public record Generated(List<Sft> sftTrain, List<Sft> sftEval, List<Pref> prefsTrain, List<Pref> prefsEval,
                            List<Ranking> rankingsTrain, List<Problem> ppoPrompts, List<Problem> heldoutPrompts) {

        /** Every prompt and response text of every file: the corpus to train the BPE tokenizer on. */
        public List<String> corpus() {
            List<String> out = new ArrayList<>();
            for (List<Sft> l : List.of(sftTrain, sftEval)) for (Sft s : l) { out.add(s.prompt()); out.add(s.response()); }
            for (List<Pref> l : List.of(prefsTrain, prefsEval)) {
                for (Pref p : l) { out.add(p.prompt()); out.add(p.chosen()); out.add(p.rejected()); }
            }
            for (Ranking r : rankingsTrain) { out.add(r.prompt()); out.addAll(r.responses()); }
            for (List<Problem> l : List.of(ppoPrompts, heldoutPrompts)) for (Problem p : l) out.add(p.prompt());
            return out;
        }
    }

    /** Generates all data sets of a config. */
    public static Generated generate(Config c) {
        MistakeModel.Rates r = c.rates();
        Sampler train = new Sampler(c, false), held = new Sampler(c, true);
        SplittableRandom[] rng = new SplittableRandom[7];
        for (int i = 0; i < rng.length; i++) rng[i] = new SplittableRandom(Rng.mix(c.seed() * 31 + i + 1));

        List<Sft> sftTrain = new ArrayList<>(), sftEval = new ArrayList<>();
        for (int i = 0; i < c.sftTrain(); i++) sftTrain.add(demo(train.next(rng[0]), r, rng[0]));
        for (int i = 0; i < c.sftEval(); i++) sftEval.add(demo(held.next(rng[1]), r, rng[1]));

        List<Pref> prefsTrain = new ArrayList<>(), prefsEval = new ArrayList<>();
        for (int i = 0; i < c.prefsTrain(); i++) prefsTrain.add(pref(train.next(rng[2]), r, rng[2]));
        for (int i = 0; i < c.prefsEval(); i++) prefsEval.add(pref(held.next(rng[3]), r, rng[3]));

        List<Ranking> rankings = new ArrayList<>();
        for (int i = 0; i < c.rankingsTrain(); i++) rankings.add(ranking(train.next(rng[4]), c.rankK(), r, rng[4]));

        List<Problem> ppo = new ArrayList<>(), heldout = new ArrayList<>();
        for (int i = 0; i < c.ppoPrompts(); i++) ppo.add(train.next(rng[5]));
        for (int i = 0; i < c.heldoutPrompts(); i++) heldout.add(held.next(rng[6]));
        return new Generated(sftTrain, sftEval, prefsTrain, prefsEval, rankings, ppo, heldout);
    }

    /** Whether a prompt belongs to the held-out split under {@code seed}. */
    public static boolean isHeldout(String prompt, long seed, double heldoutFraction) {
        long h = 0xcbf29ce484222325L; // FNV-1a over the UTF-8 bytes, then a seeded finaliser
        for (byte b : prompt.getBytes(StandardCharsets.UTF_8)) h = (h ^ (b & 0xff)) * 0x100000001b3L;
        return (Rng.mix(h ^ Rng.mix(seed)) >>> 11) * 0x1.0p-53 < heldoutFraction;
    }

    /** Draws problems of one split: family uniform, hard with hardFraction, rejecting the other split. */
    private record Sampler(Config c, boolean heldout) {
        Problem next(SplittableRandom r) {
            // Family and side first, then the instance, so both splits keep the same mix.
            Family f = c.families().get(r.nextInt(c.families().size()));
            boolean hard = r.nextDouble() < c.hardFraction();
            for (int tries = 0; tries < 10_000; tries++) {
                Problem p = f.sample(r, hard);
                if (isHeldout(f.splitKey(p), c.seed(), c.heldoutFraction()) == heldout) return p;
            }
            throw new IllegalStateException("no " + (heldout ? "held-out" : "train") + " prompt of " + f.id() + "."
                    + (hard ? f.hardName() : f.easyName()) + " found in 10000 draws (heldout-fraction "
                    + c.heldoutFraction() + ", seed " + c.seed() + ")");
        }
    }

    private static Sft demo(Problem p, MistakeModel.Rates r, SplittableRandom rng) {
        return new Sft(p.prompt(), MistakeModel.sample(p, r, rng));
    }

    private static Pref pref(Problem p, MistakeModel.Rates r, SplittableRandom rng) {
        return new Pref(p.prompt(), p.answer(), MistakeModel.sampleWrong(p, r, rng));
    }

    /**
     * K responses with K distinct oracle scores, one from each of K of the four levels: exact,
     * right but sloppy, wrong but well-formed, wrong and sloppy. Wrong contents are drawn from the
     * demonstrators' mistakes (so the systematic mistake dominates on hard prompts).
     */
    private static Ranking ranking(Problem p, int k, MistakeModel.Rates r, SplittableRandom rng) {
        List<MistakeModel.Weighted> wrong = new ArrayList<>(MistakeModel.contentDistribution(p, r));
        wrong.removeIf(w -> w.response().equals(p.answer()));
        String[] levels = {
            p.answer(),
            sloppy(p.answer(), rng),
            MistakeModel.draw(wrong, rng),
            sloppy(MistakeModel.draw(wrong, rng), rng),
        };
        int[] pick = {0, 1, 2, 3};
        shuffle(pick, rng);
        int[] chosen = Arrays.copyOf(pick, k);
        Arrays.sort(chosen); // levels in score order, best first
        int[] position = new int[k];
        for (int i = 0; i < k; i++) position[i] = i;
        shuffle(position, rng); // position[i] = where level chosen[i] goes in the response list
        String[] responses = new String[k];
        double[] scores = new double[k];
        int[] ranking = new int[k];
        for (int i = 0; i < k; i++) {
            responses[position[i]] = levels[chosen[i]];
            scores[position[i]] = Oracle.grade(p, levels[chosen[i]]);
            ranking[i] = position[i];
        }
        return new Ranking(p.prompt(), List.of(responses), ranking, scores);
    }

    private static String sloppy(String answer, SplittableRandom rng) {
        List<String> fs = Oracle.SLOPPY_FORMATS;
        return String.format(fs.get(rng.nextInt(fs.size())), answer);
    }

    private static void shuffle(int[] a, SplittableRandom rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i]; a[i] = a[j]; a[j] = t;
        }
    }

    // ---- files -------------------------------------------------------------------------------

    /** File name -> JSON-lines content, in a fixed order. */
    public static Map<String, byte[]> toJsonLines(Generated g) {
        ObjectMapper json = new ObjectMapper();
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("sft_train.jsonl", lines(json, g.sftTrain().stream().map(DemoData::row).toList()));
        files.put("sft_eval.jsonl", lines(json, g.sftEval().stream().map(DemoData::row).toList()));
        files.put("prefs_train.jsonl", lines(json, g.prefsTrain().stream().map(DemoData::row).toList()));
        files.put("prefs_eval.jsonl", lines(json, g.prefsEval().stream().map(DemoData::row).toList()));
        files.put("rankings_train.jsonl", lines(json, g.rankingsTrain().stream().map(DemoData::row).toList()));
        files.put("ppo_prompts.jsonl", lines(json, g.ppoPrompts().stream().map(DemoData::row).toList()));
        files.put("heldout_prompts.jsonl", lines(json, g.heldoutPrompts().stream().map(DemoData::row).toList()));
        return files;
    }

    /** Writes every file into {@code dir} (any Hadoop file system URI, or a local path), replacing old ones. */
    public static void write(Generated g, String dir) throws IOException {
        Path base = new Path(dir);
        Configuration conf = new Configuration();
        // A private instance: switching checksums off on the JVM-wide cached FileSystem would
        // change every other writer in the process.
        try (FileSystem fs = FileSystem.newInstance(base.toUri(), conf)) {
            fs.setWriteChecksum(false);
            fs.mkdirs(base);
            for (Map.Entry<String, byte[]> e : toJsonLines(g).entrySet()) {
                try (OutputStream out = fs.create(new Path(base, e.getKey()), true)) {
                    out.write(e.getValue());
                }
            }
        }
    }

    private static Map<String, Object> row(Sft s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("prompt", s.prompt());
        m.put("response", s.response());
        return m;
    }

    private static Map<String, Object> row(Pref p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("prompt", p.prompt());
        m.put("chosen", p.chosen());
        m.put("rejected", p.rejected());
        return m;
    }

    private static Map<String, Object> row(Ranking r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("prompt", r.prompt());
        m.put("responses", r.responses());
        m.put("ranking", r.ranking());
        m.put("scores", r.scores());
        return m;
    }

    private static Map<String, Object> row(Problem p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("prompt", p.prompt());
        m.put("family", p.family().id());
        m.put("subfamily", p.subfamily());
        m.put("answer", p.answer());
        return m;
    }

    private static byte[] lines(ObjectMapper json, List<Map<String, Object>> rows) {
        StringBuilder b = new StringBuilder();
        try {
            for (Map<String, Object> row : rows) b.append(json.writeValueAsString(row)).append('\n');
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise a demo row", e);
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * {@code DemoData --out DIR [--seed N] [--sft-train N] [--sft-eval N] [--prefs-train N]
     * [--prefs-eval N] [--rankings-train N] [--ppo-prompts N] [--heldout-prompts N] [--rank-k K]}:
     * writes the demo data sets and prints the imitation accuracy the demonstrations imply.
     */
    public static void main(String[] args) throws IOException {
        if (args.length == 1 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.println("usage: DemoData --out DIR [--seed N] [--sft-train N] [--sft-eval N] [--prefs-train N]"
                    + " [--prefs-eval N] [--rankings-train N] [--rank-k 2..4] [--ppo-prompts N] [--heldout-prompts N]"
                    + " [--families demo|fresh|all|ID,ID...]\n"
                    + "writes sft_train/sft_eval/prefs_train/prefs_eval/rankings_train/ppo_prompts/heldout_prompts.jsonl"
                    + " into DIR (any Hadoop file system URI); defaults: " + Config.defaults(1234));
            return;
        }
        Map<String, String> opts = new LinkedHashMap<>();
        List<String> known = new ArrayList<>(SIZE_KEYS);
        known.addAll(List.of("out", "seed", "rank-k", "families"));
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--") || i + 1 >= args.length || !known.contains(a.substring(2))) {
                throw new IllegalArgumentException("argument " + (i + 1) + " '" + a
                        + "': expected --KEY VALUE with KEY one of " + known);
            }
            opts.put(a.substring(2), args[++i]);
        }
        if (!opts.containsKey("out")) throw new IllegalArgumentException("missing --out DIR");
        Config d = Config.defaults(Long.parseLong(opts.getOrDefault("seed", "1234")));
        Config c = new Config(d.seed(),
                intOpt(opts, "sft-train", d.sftTrain()), intOpt(opts, "sft-eval", d.sftEval()),
                intOpt(opts, "prefs-train", d.prefsTrain()), intOpt(opts, "prefs-eval", d.prefsEval()),
                intOpt(opts, "rankings-train", d.rankingsTrain()), intOpt(opts, "rank-k", d.rankK()),
                intOpt(opts, "ppo-prompts", d.ppoPrompts()), intOpt(opts, "heldout-prompts", d.heldoutPrompts()),
                d.heldoutFraction(), d.hardFraction(), d.rates(), families(opts.getOrDefault("families", "demo")));
        Generated g = generate(c);
        write(g, opts.get("out"));
        System.out.printf("wrote demo data to %s; demonstrations imply held-out accuracy %.3f sampled, %.3f greedy"
                        + " (reachable %.3f)%n", opts.get("out"),
                MistakeModel.imitationAccuracy(g.heldoutPrompts(), c.rates()),
                MistakeModel.imitationGreedyAccuracy(g.heldoutPrompts(), c.rates()),
                MistakeModel.bestReachableAccuracy(g.heldoutPrompts(), c.rates()));
    }

    private static int intOpt(Map<String, String> opts, String key, int dflt) {
        String v = opts.get(key);
        if (v == null) return dflt;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + key + ": expected an integer, found '" + v + "'");
        }
    }
}
