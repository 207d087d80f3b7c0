package rlhf.demo;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.hadoop.conf.Configuration;

import rlhf.data.PromptTemplate;
import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.model.RewardScorer;
import rlhf.tokenizer.BpeTokenizer;

/**
 * A reward model's pairwise accuracy on held-out preference pairs: the share of pairs whose chosen
 * response it scores above the rejected one (ties count as wrong), and the mean margin. Scoring
 * goes through {@link RewardScorer}, the convention the reward job, the score command and PPO share.
 */
public final class RewardModelEvaluation {

    private RewardModelEvaluation() {}

    /** One preference pair. */
    public record Pair(String prompt, String chosen, String rejected) {}

    /** Pairwise accuracy and the mean of r(chosen) - r(rejected) over n pairs. */
    public record Result(int n, int correct, double meanMargin) {
        public double accuracy() {
            return n == 0 ? 0 : (double) correct / n;
        }
    }

    /** Scores every pair with the reward model in {@code dir}, prompts formatted by {@code template}. */
    public static Result evaluate(String dir, List<Pair> pairs, PromptTemplate template, int batchSize,
                                  Configuration hconf) throws IOException {
        Checkpoint c = Checkpoint.loadPretrained(dir, hconf);
        if (c.tokenizer() == null) {
            throw new IOException("reward model " + dir + " has no tokenizer files");
        }
        BpeTokenizer tok = c.tokenizer().load(dir);
        ModelConfigJson cfg = c.config();
        boolean appendEos = cfg.extraBoolean(RewardScorer.APPENDS_EOS_KEY, false);
        int eos = cfg.eosTokenId();
        int n = pairs.size();
        int[][] prompts = new int[n][];
        int[][][] answers = new int[2][n][];
        int maxT = 1;
        for (int i = 0; i < n; i++) {
            Pair p = pairs.get(i);
            prompts[i] = tok.encode(template.format(p.prompt()));
            answers[0][i] = tok.encode(p.chosen());
            answers[1][i] = tok.encode(p.rejected());
            for (int[][] a : answers) {
                maxT = Math.max(maxT, RewardScorer.length(prompts[i], a[i], appendEos, eos));
            }
        }
        if (maxT > cfg.model().maxSeqLen()) {
            throw new IllegalArgumentException("a preference pair has " + maxT + " tokens; the reward model " + dir
                    + " sees at most " + cfg.model().maxSeqLen());
        }
        int B = Math.max(1, Math.min(batchSize, n));
        RewardScorer scorer = new RewardScorer(cfg.model(), B, maxT);
        float[][] rewards = {new float[n], new float[n]};
        float[] out = new float[B];
        int[][] bp = new int[B][];
        int[][] ba = new int[B][];
        for (int side = 0; side < 2; side++) {
            for (int start = 0; start < n; start += B) {
                int b = Math.min(B, n - start);
                for (int i = 0; i < b; i++) {
                    bp[i] = prompts[start + i];
                    ba[i] = answers[side][start + i];
                }
                scorer.score(c.params(), bp, ba, b, appendEos, eos, out);
                System.arraycopy(out, 0, rewards[side], start, b);
            }
        }
        int correct = 0;
        double margin = 0;
        for (int i = 0; i < n; i++) {
            correct += rewards[0][i] > rewards[1][i] ? 1 : 0;
            margin += rewards[0][i] - rewards[1][i];
        }
        return new Result(n, correct, n == 0 ? 0 : margin / n);
    }

    /** The pairs of a JSON-lines file of {"prompt", "chosen", "rejected"} rows (prefs_eval.jsonl). */
    public static List<Pair> readPairs(String path, Configuration hconf) throws IOException {
        List<Pair> out = new ArrayList<>();
        int line = 0;
        for (JsonNode row : PolicyEvaluation.readJsonLines(path, hconf)) {
            line++;
            if (!row.path("chosen").isTextual() || !row.path("rejected").isTextual()) {
                throw new IllegalArgumentException(path + " row " + line + ": expected string \"chosen\" and"
                        + " \"rejected\"");
            }
            out.add(new Pair(row.get("prompt").asText(), row.get("chosen").asText(), row.get("rejected").asText()));
        }
        return out;
    }
}
