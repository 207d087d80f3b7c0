package rlhf.bestofn;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;

import org.apache.spark.broadcast.Broadcast;

import rlhf.io.ModelConfigJson;
import rlhf.io.RewardScale;
import rlhf.io.ShippedConfig;
import rlhf.model.BatchSampler;
import rlhf.model.Generation;
import rlhf.model.GenerationConfig;
import rlhf.model.GptConfig;
import rlhf.model.RewardScorer;
import rlhf.rules.RewardSource;
import rlhf.rules.RuleReward;
import rlhf.spark.ExecutorStates;
import rlhf.spark.IndexedData;
import rlhf.spark.Partitions;
import rlhf.spark.PromptSet;
import rlhf.tokenizer.BpeTokenizer;

/**
 * What a task does: the n samples of each prompt of its shard, generated in batches of gen.batch
 * rows and scored by the reward model (or the rule), the gold rule too when one is set.
 *
 * <p>Sample j of prompt i is drawn with the sampling key (i << 16) | j: it depends on the seed,
 * the prompt's index and j only, so the partitioning, the batch and the cluster change nothing,
 * and raising gen.n keeps the first samples and adds to them.
 */
public final class BestOfNWorker {

    /** Most samples per prompt: j takes the low 16 bits of the sampling key. */
    static final int MAX_N = 1 << 16;

    private BestOfNWorker() {
    }

    /** The sampling key of sample j (below {@link #MAX_N}) of prompt {@code prompt}. */
    static long sampleKey(long prompt, int j) {
        return prompt << 16 | j;
    }

    /**
     * One prompt's n samples.
     *
     * @param rewards the reward model's (or rule's) raw score of each response
     * @param scores  the ranking score: rewards on the reported scale, minus the missing-EOS penalty
     * @param ids     each response's tokens, without the EOS that ended it
     * @param gold    the gold rule's score of each response, or null without eval.gold_rule
     */
    public record PromptSamples(long index, String prompt, String[] responses, int[][] ids, boolean[] endedWithEos,
            double[] rewards, double[] scores, double[] gold) implements Serializable {

        /** Tokens sampled for response j, the EOS that ended it included. */
        public int tokens(int j) {
            return ids[j].length + (endedWithEos[j] ? 1 : 0);
        }

        /** The chosen sample ({@link Frontier#best} of the scores). */
        public int best() {
            return Frontier.best(scores);
        }

        /** The lowest-scoring sample (the last among ties: never the best unless all tie). */
        public int worst() {
            int w = scores.length - 1;
            for (int j = scores.length - 2; j >= 0; j--) {
                if (scores[j] < scores[w]) {
                    w = j;
                }
            }
            return w;
        }
    }

    /** What the executors need besides parameters: the models' configs, the settings and the tokenizer (broadcast once). */
    public static final class Spec implements Serializable {
        private static final long serialVersionUID = 1L;
        final BestOfNSettings s;
        final ShippedConfig policy;
        final ShippedConfig reward;
        final int eosId;
        final boolean rewardAppendsEos;
        final RewardScale scale;
        final Broadcast<BpeTokenizer> tokenizer;

        /** @param reward null for a rule reward */
        public Spec(BestOfNSettings s, ModelConfigJson policy, ModelConfigJson reward, Broadcast<BpeTokenizer> tokenizer) {
            this.s = s;
            this.policy = new ShippedConfig(policy, "policy");
            this.reward = ShippedConfig.of(reward, "reward model");
            this.eosId = policy.eosTokenId();
            this.rewardAppendsEos = reward != null && reward.extraBoolean(RewardScorer.APPENDS_EOS_KEY, false);
            this.scale = RewardScale.of(reward, s.rewardNormalize());
            this.tokenizer = tokenizer;
        }

        GptConfig policy() {
            return policy.model();
        }

        /** Null with a rule reward. */
        GptConfig reward() {
            return reward == null ? null : reward.model();
        }
    }

    /** One sample to generate: sample j of the shard's prompt p. */
    private record Row(int prompt, int sample) {
    }

    /**
     * The samples of every prompt of these shards, in prompt index order.
     *
     * @param rewardParams null with a rule reward
     */
    public static List<PromptSamples> sample(Spec spec, float[] policy, float[] rewardParams,
            Iterator<IndexedData.Shard<PromptSet.Tokenized>> shards) {
        Partitions.useTaskCpus();
        BestOfNSettings s = spec.s;
        RewardSource.Scorer scorer = s.rewardSource().scorer();
        boolean model = s.rewardSource().needsModel();
        RuleReward gold = s.gold().map(RuleReward::byName).orElse(null);
        BpeTokenizer tok = spec.tokenizer.value();
        String scorerName = s.rewardSource().describe();
        String goldScorer = "eval.gold_rule " + s.goldRule();
        List<PromptSamples> out = new ArrayList<>();
        while (shards.hasNext()) {
            IndexedData.Shard<PromptSet.Tokenized> shard = shards.next();
            int P = shard.size();
            int n = s.n();
            int[][] responses = new int[P * n][];
            boolean[] eos = new boolean[P * n];
            generate(spec, policy, shard, responses, eos);
            float[] rewards = new float[P * n];
            if (model) {
                scoreWithModel(spec, rewardParams, shard, responses, rewards);
            }
            for (int p = 0; p < P; p++) {
                PromptSet.Tokenized prompt = shard.examples.get(p);
                String[] texts = new String[n];
                int[][] ids = new int[n][];
                boolean[] ended = new boolean[n];
                double[] raw = new double[n];
                double[] scores = new double[n];
                double[] g = gold == null ? null : new double[n];
                for (int j = 0; j < n; j++) {
                    int r = p * n + j;
                    ids[j] = eos[r] ? Arrays.copyOf(responses[r], responses[r].length - 1) : responses[r];
                    texts[j] = tok.decode(ids[j]);
                    ended[j] = eos[r];
                    double rules = scorer.hasRules() ? scorer.rules(prompt.text(), texts[j], prompt.reference()) : 0;
                    RewardSource.Scored sc = scorer.score(model ? rewards[r] : 0, spec.scale, rules);
                    raw[j] = sc.raw();
                    scores[j] = sc.score() - (eos[r] ? 0 : s.missingEosPenalty());
                    requireFinite(raw[j], scorerName, shard, p);
                    if (g != null) {
                        g[j] = gold.score(prompt.text(), texts[j], prompt.reference());
                        requireFinite(g[j], goldScorer, shard, p);
                    }
                }
                out.add(new PromptSamples(shard.index[p], prompt.text(), texts, ids, ended, raw, scores, g));
            }
        }
        return out;
    }

    private static void requireFinite(double score, String what, IndexedData.Shard<PromptSet.Tokenized> shard, int p) {
        if (!Double.isFinite(score)) {
            throw new IllegalStateException(what + " gave the score " + score + " to a response of prompt "
                    + shard.index[p] + " (\"" + shard.examples.get(p).text() + "\"): scores must be finite");
        }
    }

    /** responses[p*n + j], eos[p*n + j]: sample j of the shard's prompt p (EOS kept at the end when sampled). */
    private static void generate(Spec spec, float[] policy, IndexedData.Shard<PromptSet.Tokenized> shard,
            int[][] responses, boolean[] eos) {
        BestOfNSettings s = spec.s;
        int n = s.n();
        int B = s.genBatch();
        String key = "best-of-n-gen:" + spec.policy() + ":" + B + "x" + s.maxPromptTokens() + "+" + s.maxNewTokens();
        BatchSampler sampler = ExecutorStates.borrow(key, () -> new BatchSampler(spec.policy(), B, s.maxPromptTokens(),
                s.maxNewTokens()));
        try {
            GenerationConfig gc = s.generation(spec.eosId);
            int[][] prompts = new int[B][];
            long[] keys = new long[B];
            int rows = shard.size() * n;
            for (int from = 0; from < rows; from += B) {
                int m = Math.min(B, rows - from);
                for (int b = 0; b < m; b++) {
                    int p = (from + b) / n;
                    prompts[b] = shard.examples.get(p).ids();
                    keys[b] = sampleKey(shard.index[p], (from + b) % n);
                }
                Generation g = sampler.sample(policy, prompts, keys, m, spec.eosId, gc);
                for (int b = 0; b < m; b++) {
                    responses[from + b] = g.completion(b);
                    eos[from + b] = g.endedWithEos(b);
                }
            }
        } finally {
            ExecutorStates.release(key, sampler);
        }
    }

    /** rewards[r] = the reward model's raw score of response r after its prompt, in batches of gen.batch. */
    private static void scoreWithModel(Spec spec, float[] rewardParams, IndexedData.Shard<PromptSet.Tokenized> shard,
            int[][] responses, float[] rewards) {
        BestOfNSettings s = spec.s;
        int n = s.n();
        int B = s.genBatch();
        int T = s.maxPromptTokens() + s.maxNewTokens() + 1;
        String key = "best-of-n-score:" + spec.reward() + ":" + B + "x" + T;
        RewardScorer scorer = ExecutorStates.borrow(key, () -> new RewardScorer(spec.reward(), B, T));
        try {
            int[][] prompts = new int[B][];
            int[][] batch = new int[B][];
            float[] out = new float[B];
            for (int from = 0; from < responses.length; from += B) {
                int m = Math.min(B, responses.length - from);
                for (int b = 0; b < m; b++) {
                    prompts[b] = shard.examples.get((from + b) / n).ids();
                    batch[b] = responses[from + b];
                }
                scorer.score(rewardParams, prompts, batch, m, spec.rewardAppendsEos, spec.eosId, out);
                System.arraycopy(out, 0, rewards, from, m);
            }
        } finally {
            ExecutorStates.release(key, scorer);
        }
    }
}
