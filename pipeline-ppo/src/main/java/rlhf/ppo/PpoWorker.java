package rlhf.ppo;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;

import rlhf.io.ModelConfigJson;
import rlhf.io.RewardScale;
import rlhf.io.ShippedConfig;
import rlhf.model.BatchSampler;
import rlhf.model.Generation;
import rlhf.model.GenerationConfig;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.Losses;
import rlhf.model.RewardScorer;
import rlhf.rules.RewardSource;
import rlhf.rules.RuleReward;
import rlhf.spark.EpochPermutation;
import rlhf.spark.Exchange;
import rlhf.spark.ExecutorStates;
import rlhf.spark.LossStats;
import rlhf.spark.IndexedData;
import rlhf.spark.Partitions;
import rlhf.spark.PromptSet;
import rlhf.spark.Seeds;
import rlhf.tokenizer.BpeTokenizer;

/**
 * The executor side of a PPO iteration: plain functions of (settings, parameters, rows), the same
 * whether Spark calls them on a partition or a test calls them on all rows in one process.
 *
 * <pre>
 * generate  prompts of the iteration -> rollouts (tokens, logp under the sampling policy)
 * score     rollouts -> logp_ref, values, score, per-token rewards, GAE advantages and returns
 * stats     scored rollouts -> small sums (advantage moments, score, KL, lengths) and samples
 * update    the rollouts of one minibatch -> policy and critic gradient SUMS over response tokens
 * ptx       demonstrations of one update -> SFT gradient sum (PPO-ptx)
 * </pre>
 *
 * Heavy workspaces (models' activations, KV cache) are per-JVM states reused across tasks
 * ({@link ExecutorStates}); nothing here keeps state between calls otherwise.
 */
public final class PpoWorker {

    private PpoWorker() {
    }

    /** A PPO-ptx demonstration: prompt ++ response ++ EOS, loss on the response and EOS. */
    public record PtxExample(int[] tokens, int promptLength) implements Serializable {
    }

    /**
     * What the executors need besides parameters: the models' config.json (GptConfig is not
     * serializable; parsed once per deserialized copy) and the settings.
     */
    public static final class Spec implements Serializable {
        private static final long serialVersionUID = 1L;
        final PpoSettings s;
        final ShippedConfig policy;
        final ShippedConfig critic;
        final ShippedConfig reward;
        final int eosId;
        final boolean rewardAppendsEos;
        final RewardScale rewardScale;

        /**
         * @param critic null for a method without one (GRPO, RLOO)
         * @param reward null for a rule reward; its mean/std extras normalise scores when
         *               {@code s.rewardNormalize()} and both are recorded
         */
        public Spec(PpoSettings s, ModelConfigJson policy, ModelConfigJson critic, ModelConfigJson reward) {
            this.s = s;
            this.policy = new ShippedConfig(policy, "policy");
            this.critic = ShippedConfig.of(critic, "critic");
            this.reward = ShippedConfig.of(reward, "reward model");
            this.eosId = policy.eosTokenId();
            this.rewardAppendsEos = reward != null && reward.extraBoolean(RewardScorer.APPENDS_EOS_KEY, false);
            this.rewardScale = RewardScale.of(reward, s.rewardNormalize());
        }

        public PpoSettings settings() {
            return s;
        }

        GptConfig policy() {
            return policy.model();
        }

        /** Null without a critic. */
        GptConfig critic() {
            return critic == null ? null : critic.model();
        }

        /** One array per model in the exchange's order (parameters, gradient sums): {policy, critic}, or {policy} without a critic. */
        float[][] perModel(float[] policyGrad, float[] criticGrad) {
            return critic == null ? new float[][] {policyGrad} : new float[][] {policyGrad, criticGrad};
        }

        /** Null with a rule reward. */
        GptConfig reward() {
            return reward == null ? null : reward.model();
        }

        /** Longest forward over prompt + response: inputs P + n - 1, within the policy's positions. */
        int maxInputs() {
            return Math.min(policy().maxSeqLen(), s.maxPromptTokens() + s.maxNewTokens() - 1);
        }

        GenerationConfig generation(int iteration) {
            return new GenerationConfig(s.maxNewTokens(), s.temperature(), s.topK(), s.topP(), eosId,
                    Seeds.forExample(s.seed(), iteration, -1));
        }
    }

    // ---------------------------------------------------------------- generation

    /** A prompt chosen for rollout {@code id} of the iteration. */
    private record Selected(long id, long promptIndex, PromptSet.Tokenized prompt) {
    }

    /** Seed of the prompt choice, apart from the minibatch shuffles of the same run seed. */
    static long promptSeed(long seed) {
        return Seeds.mix(seed ^ 0x50524f4d50545321L);
    }

    /**
     * The rollouts of iteration {@code iteration} whose prompts lie in these shards. Rollout k is
     * sample k mod G of group k / G (G = ppo.samples_per_prompt), whose prompt is the one at
     * position (k / G) mod N of the iteration's permutation of the N prompts: with G = 1, prompt i
     * at position p makes rollouts p, p+N, p+2N, ... below R. A group's samples differ by their
     * rollout ids (the sampling keys) and are all made by the task holding the prompt. Returned in
     * rollout id order.
     */
    public static List<Rollout> generate(Spec spec, float[] policy, int iteration, long nPrompts,
            Iterator<IndexedData.Shard<PromptSet.Tokenized>> shards) {
        Partitions.useTaskCpus();
        long R = spec.s.rollouts();
        int G = spec.s.samplesPerPrompt();
        EpochPermutation perm = new EpochPermutation(nPrompts, promptSeed(spec.s.seed()), iteration);
        // rollout k's prompt is the one at position (k / G) mod N: looked up, not searched for (O(R))
        List<IndexedData.Shard<PromptSet.Tokenized>> held = IndexedData.list(shards);
        List<Selected> sel = new ArrayList<>();
        for (long k = 0; k < R; k++) {
            long i = perm.index((k / G) % nPrompts);
            PromptSet.Tokenized prompt = IndexedData.find(held, i);
            if (prompt != null) {
                sel.add(new Selected(k, i, prompt));
            }
        }
        List<Rollout> out = new ArrayList<>(sel.size());
        if (sel.isEmpty()) {
            return out;
        }
        int B = spec.s.genBatch();
        int maxP = spec.s.maxPromptTokens();
        String key = "ppo-gen:" + spec.policy() + ":" + B + "x" + maxP + "+" + spec.s.maxNewTokens();
        BatchSampler sampler = ExecutorStates.borrow(key, () -> new BatchSampler(spec.policy(), B, maxP,
                spec.s.maxNewTokens()));
        try {
            GenerationConfig gc = spec.generation(iteration);
            int[][] prompts = new int[B][];
            long[] keys = new long[B];
            for (int from = 0; from < sel.size(); from += B) {
                int n = Math.min(B, sel.size() - from);
                for (int b = 0; b < n; b++) {
                    prompts[b] = sel.get(from + b).prompt.ids();
                    keys[b] = sel.get(from + b).id;
                }
                Generation g = sampler.sample(policy, prompts, keys, n, spec.eosId, gc);
                for (int b = 0; b < n; b++) {
                    Selected x = sel.get(from + b);
                    int len = g.length(b);
                    float[] logp = Arrays.copyOfRange(g.logprobs(), b * g.stride(), b * g.stride() + len);
                    out.add(new Rollout(x.id, x.promptIndex, x.prompt.text(), x.prompt.ids(), g.completion(b),
                            g.endedWithEos(b), logp, x.prompt.reference()));
                }
            }
        } finally {
            ExecutorStates.release(key, sampler);
        }
        return out;
    }

    // ---------------------------------------------------------------- scoring

    /**
     * Scores rollouts (in their order): log π_ref and the critic's values of the response tokens
     * (one forward each over prompt + response), the score of {@code reward} (the reward model,
     * rules, or a weighted sum), the per-token rewards -β·KL + score at the last token, and GAE
     * per rollout. Without a critic (GRPO, RLOO) the advantage of every token of a response is its
     * group's ({@link GroupAdvantages}) over the sequence rewards score - β·KL (score alone when the
     * KL is a loss term); the rows must then be whole groups, as {@link #generate} makes them.
     *
     * @param criticParams null without a critic
     * @param rewardParams null without a reward model term
     */
    public static List<Rollout.Scored> score(Spec spec, float[] refParams, float[] criticParams, float[] rewardParams,
            RewardSource reward, BpeTokenizer tok, double beta, Iterator<Rollout> rows) {
        Partitions.useTaskCpus();
        List<Rollout> rs = new ArrayList<>();
        rows.forEachRemaining(rs::add);
        List<Rollout.Scored> out = new ArrayList<>(rs.size());
        if (rs.isEmpty()) {
            return out;
        }
        PpoSettings s = spec.s;
        int B = s.genBatch();
        int T = spec.maxInputs();
        String key = "ppo-score:" + spec.policy() + ":" + spec.critic() + ":" + spec.reward() + ":" + B + "x" + T;
        ScoreState st = ExecutorStates.borrow(key, () -> new ScoreState(spec, B, T));
        RuleReward gold = s.gold().map(RuleReward::byName).orElse(null);
        RewardSource.Scorer scorer = reward.scorer();
        boolean model = reward.needsModel();
        try {
            for (int from = 0; from < rs.size(); from += B) {
                int n = Math.min(B, rs.size() - from);
                List<Rollout> chunk = rs.subList(from, from + n);
                int t = layout(chunk, st.tokens, st.targets, spec.eosId);
                st.ref.forward(refParams, st.tokens, null, null, n, t, false, 0L);
                st.ref.lmHeadForward(refParams, st.targets, s.temperature(), st.logp, null);
                if (st.critic != null) {
                    st.critic.forward(criticParams, st.tokens, null, null, n, t, false, 0L);
                    st.critic.scoreHeadForward(criticParams, st.values);
                }
                if (model) {
                    for (int b = 0; b < n; b++) {
                        st.promptArr[b] = chunk.get(b).promptIds();
                        st.responseArr[b] = chunk.get(b).response();
                    }
                    st.scorer.score(rewardParams, st.promptArr, st.responseArr, n, spec.rewardAppendsEos, spec.eosId,
                            st.scores);
                }
                for (int b = 0; b < n; b++) {
                    Rollout r = chunk.get(b);
                    String text = !scorer.hasRules() && gold == null ? null : responseText(tok, r, spec.eosId);
                    double rules = scorer.hasRules() ? scorer.rules(r.prompt(), text, r.reference()) : 0;
                    RewardSource.Scored sc = scorer.score(model ? st.scores[b] : 0, spec.rewardScale, rules);
                    double g = gold == null ? Double.NaN : gold.score(r.prompt(), text, r.reference());
                    out.add(finish(spec, r, st, b * t + r.promptIds().length - 1, sc.raw(), sc.score(), g, beta));
                }
            }
        } finally {
            ExecutorStates.release(key, st);
        }
        if (!s.hasCritic()) {
            groupAdvantages(s, out);
        }
        return out;
    }

    /**
     * Fills the advantages (every token: its response's group advantage) and returns (every
     * token: the sequence reward) of rows that are whole groups in rollout id order.
     */
    static void groupAdvantages(PpoSettings s, List<Rollout.Scored> rows) {
        int G = s.samplesPerPrompt();
        int n = rows.size();
        double[] rewards = new double[n];
        for (int i = 0; i < n; i++) {
            long id = rows.get(i).r().id();
            if (id % G != i % G || id - i % G != rows.get(i - i % G).r().id()) {
                throw new IllegalStateException("rollout " + id + " is not in a whole group of " + G
                        + " consecutive samples of its prompt in this partition");
            }
            rewards[i] = rows.get(i).rewardSum();
        }
        if (n % G != 0) {
            throw new IllegalStateException(n + " rollouts in a partition are not whole groups of " + G);
        }
        double[] adv = new double[n];
        GroupAdvantages.compute(s.algorithm(), rewards, n, G, s.scaleRewards(), adv);
        for (int i = 0; i < n; i++) {
            Rollout.Scored x = rows.get(i);
            Arrays.fill(x.advantages(), adv[i]);
            Arrays.fill(x.returns(), rewards[i]);
        }
    }

    /**
     * Per-token rewards and GAE of one rollout whose response tokens sit at [off, off+n) of st's
     * arrays; {@code score} is reward.kind's, the model's term on its recorded scale. Without a
     * critic: no values, and the advantages and returns left for {@link #groupAdvantages}.
     */
    private static Rollout.Scored finish(Spec spec, Rollout r, ScoreState st, int off, double raw, double score,
            double gold, double beta) {
        PpoSettings s = spec.s;
        int n = r.response().length;
        float[] ref = Arrays.copyOfRange(st.logp, off, off + n);
        double[] logp = new double[n];
        double[] logpRef = new double[n];
        for (int j = 0; j < n; j++) {
            logp[j] = r.logp()[j];
            logpRef[j] = ref[j];
        }
        if (!r.endedWithEos()) {
            score -= s.missingEosPenalty();
        }
        double[] rewards = new double[n];
        double inReward = s.klPlacement() == PpoSettings.KlPlacement.REWARD ? beta : 0;
        double kl = KlPenalty.rewards(logp, logpRef, 0, n, score, inReward, s.rewardClip(), s.klEstimator(), rewards,
                null);
        double rewardSum = 0;
        for (double x : rewards) {
            rewardSum += x;
        }
        double[] adv = new double[n];
        double[] ret = new double[n];
        float[] values = null;
        if (s.hasCritic()) {
            values = Arrays.copyOfRange(st.values, off, off + n);
            double[] v = new double[n];
            for (int j = 0; j < n; j++) {
                v[j] = values[j];
            }
            Gae.compute(rewards, v, 0, n, s.gamma(), s.lam(), adv, ret);
        }
        return new Rollout.Scored(r, ref, values, raw, score, kl, rewardSum, adv, ret, gold);
    }

    /** The response as text, without its final EOS. */
    static String responseText(BpeTokenizer tok, Rollout r, int eosId) {
        int[] ids = r.response();
        int n = r.endedWithEos() && ids.length > 0 && ids[ids.length - 1] == eosId ? ids.length - 1 : ids.length;
        return tok.decode(ids, 0, n);
    }

    /**
     * Lays rollouts out as (B, T) inputs prompt ++ response minus the last token, right-padded
     * with EOS; targets are the response tokens at positions P-1 .. P+n-2, -1 elsewhere.
     * Returns T, the longest input.
     */
    static int layout(List<Rollout> rs, int[] tokens, int[] targets, int padId) {
        int T = 1;
        for (Rollout r : rs) {
            T = Math.max(T, r.inputLength());
        }
        for (int b = 0; b < rs.size(); b++) {
            Rollout r = rs.get(b);
            int P = r.promptIds().length;
            int n = r.response().length;
            int row = b * T;
            System.arraycopy(r.promptIds(), 0, tokens, row, P);
            System.arraycopy(r.response(), 0, tokens, row + P, n - 1);
            Arrays.fill(tokens, row + P + n - 1, row + T, padId);
            Arrays.fill(targets, row, row + T, -1);
            System.arraycopy(r.response(), 0, targets, row + P - 1, n);
        }
        return T;
    }

    private static final class ScoreState {
        final Gpt ref;
        final Gpt critic;
        final RewardScorer scorer;
        final int[] tokens;
        final int[] targets;
        final float[] logp;
        final float[] values;
        final float[] scores;
        final int[][] promptArr;
        final int[][] responseArr;

        ScoreState(Spec spec, int B, int T) {
            ref = new Gpt(spec.policy(), B, T);
            critic = spec.critic() == null ? null : new Gpt(spec.critic(), B, T);
            scorer = spec.reward() == null ? null : new RewardScorer(spec.reward(), B,
                    spec.s.maxPromptTokens() + spec.s.maxNewTokens() + 1);
            tokens = new int[B * T];
            targets = new int[B * T];
            logp = new float[B * T];
            values = new float[B * T];
            scores = new float[B];
            promptArr = new int[B][];
            responseArr = new int[B][];
        }
    }

    // ---------------------------------------------------------------- statistics

    /** A (prompt, response, score) shown in samples.jsonl. */
    public record Sample(long id, String prompt, String response, double score, boolean endedWithEos)
            implements Serializable {
    }

    /**
     * Sums over a partition's scored rollouts; the driver adds partitions in order.
     *
     * @param adv      moments of the raw advantages over response tokens (for whitening)
     * @param ret      moments of the returns
     * @param score    moments of the scores (one value per rollout)
     * @param samples  the rollouts with id below the sample count (empty when not asked)
     */
    public record Stats(Whitening.Moments adv, Whitening.Moments ret, Whitening.Moments valueError,
            Whitening.Moments score, double rawScoreSum, double goldSum, double klSum, double rewardSum,
            long responseTokens, long inputTokens, long endedWithEos, long rollouts, List<Sample> samples)
            implements Serializable {

        static final Stats ZERO = new Stats(Whitening.Moments.ZERO, Whitening.Moments.ZERO, Whitening.Moments.ZERO,
                Whitening.Moments.ZERO, 0, 0, 0, 0, 0, 0, 0, 0, List.of());

        Stats plus(Stats o) {
            List<Sample> all = new ArrayList<>(samples);
            all.addAll(o.samples);
            return new Stats(adv.plus(o.adv), ret.plus(o.ret), valueError.plus(o.valueError), score.plus(o.score),
                    rawScoreSum + o.rawScoreSum, goldSum + o.goldSum, klSum + o.klSum, rewardSum + o.rewardSum,
                    responseTokens + o.responseTokens, inputTokens + o.inputTokens, endedWithEos + o.endedWithEos,
                    rollouts + o.rollouts, all);
        }

        /**
         * 1 - Var(returns - values) / Var(returns) over the response tokens: how much of the
         * returns the critic predicts (1: all, 0: no better than their mean, below 0: worse); NaN
         * when the returns do not vary.
         */
        public double valueExplainedVariance() {
            double v = ret.variance();
            return v > 0 ? 1 - valueError.variance() / v : Double.NaN;
        }
    }

    /** The sums of a partition's scored rollouts, with those of id below {@code samples} decoded. */
    public static Stats stats(Iterator<Rollout.Scored> rows, int samples, BpeTokenizer tok, int eosId) {
        List<Sample> out = new ArrayList<>();
        double as = 0, aq = 0, rs = 0, rq = 0, es = 0, eq = 0, raw = 0, gold = 0, kl = 0, rew = 0, ss = 0, sq = 0;
        long tokens = 0, inputs = 0, eos = 0, n = 0;
        while (rows.hasNext()) {
            Rollout.Scored x = rows.next();
            for (int j = 0; j < x.advantages().length; j++) {
                as += x.advantages()[j];
                aq += x.advantages()[j] * x.advantages()[j];
                rs += x.returns()[j];
                rq += x.returns()[j] * x.returns()[j];
                double e = x.returns()[j] - (x.values() == null ? 0 : x.values()[j]);
                es += e;
                eq += e * e;
            }
            tokens += x.advantages().length;
            inputs += x.r().inputLength();
            raw += x.rawScore();
            gold += x.gold(); // NaN without a gold rule, and then never read
            ss += x.score();
            sq += x.score() * x.score();
            kl += x.kl();
            rew += x.rewardSum();
            eos += x.r().endedWithEos() ? 1 : 0;
            n++;
            if (x.r().id() < samples) {
                out.add(new Sample(x.r().id(), x.r().prompt(), responseText(tok, x.r(), eosId), x.rawScore(),
                        x.r().endedWithEos()));
            }
        }
        return new Stats(new Whitening.Moments(as, aq, tokens), new Whitening.Moments(rs, rq, tokens),
                new Whitening.Moments(es, eq, tokens), new Whitening.Moments(ss, sq, n), raw, gold, kl, rew, tokens,
                inputs, eos, n, out);
    }

    // ---------------------------------------------------------------- updates

    /**
     * The statistics of a minibatch update (the exchange sums them in partition order): loss = the
     * policy loss sum (KL loss term included), weight = what the loss is divided by
     * ({@link #aggregationWeight}: the response tokens with PPO), and these extras.
     */
    static final int VALUE_LOSS = 0, ENTROPY = 1, RATIO = 2, INPUT_TOKENS = 3, POLICY_TOKENS = 4, POLICY_CLIPPED = 5,
            APPROX_KL = 6, HALF_SQ_LOG_RATIO = 7, VALUE_CLIPPED = 8, KL_LOSS = 9, UPDATE_STATS = 10;

    /** A response's weight on each of its tokens' losses: 1, or 1 / its length (sequence-level aggregation). */
    static double rowWeight(PpoSettings s, int length) {
        return s.aggregation() == PpoSettings.Aggregation.SEQUENCE ? 1.0 / length : 1.0;
    }

    /** What a minibatch's weighted loss sum is divided by: its response tokens, responses, or responses × max_new_tokens. */
    static double aggregationWeight(PpoSettings s, long responses, long tokens) {
        return switch (s.aggregation()) {
            case TOKEN -> tokens;
            case SEQUENCE -> responses;
            case CONSTANT -> (double) responses * s.maxNewTokens();
        };
    }

    /** {@link PpoLoss.Stats} from a minibatch's summed statistics. */
    static PpoLoss.Stats lossStats(LossStats t) {
        PpoLoss.Stats s = new PpoLoss.Stats();
        s.policyTokens = (long) t.extra(POLICY_TOKENS);
        s.policyClipped = (long) t.extra(POLICY_CLIPPED);
        s.sumApproxKl = t.extra(APPROX_KL);
        s.sumHalfSqLogRatio = t.extra(HALF_SQ_LOG_RATIO);
        s.valueTokens = (long) t.weight();
        s.valueClipped = (long) t.extra(VALUE_CLIPPED);
        return s;
    }

    /**
     * Gradient sums over the rollouts of minibatch [lo, hi) of epoch {@code epochKey}'s order:
     * clipped policy loss (and entropy bonus, and β·k3 when the KL is a loss term) through the LM
     * head at the sampling temperature, each response's tokens weighted by {@link #rowWeight},
     * and c_v times the clipped value loss through the critic's score head. Advantages are
     * whitened on the fly with (advMean, advInv). {@code policy} null: the policy is frozen;
     * {@code critic} null: there is none. Returns the unnormalised sums {policy, critic} (or
     * {policy} without a critic; all null when the partition held none of the minibatch, the
     * policy's null when it is frozen) in buffers held until the exchange releases them.
     *
     * @param beta the KL coefficient of the KL loss term (unused when the KL is in the reward)
     */
    public static Exchange.Partial update(Spec spec, float[] policy, float[] critic, long epochKey, long lo, long hi,
            double advMean, double advInv, double beta, Iterator<Rollout.Scored> rows) {
        Partitions.useTaskCpus();
        long t0 = System.nanoTime();
        PpoSettings s = spec.s;
        EpochPermutation perm = new EpochPermutation(s.rollouts(), s.seed(), epochKey);
        List<Rollout.Scored> mine = new ArrayList<>();
        while (rows.hasNext()) {
            Rollout.Scored x = rows.next();
            long pos = perm.position(x.r().id());
            if (pos >= lo && pos < hi) {
                mine.add(x);
            }
        }
        PpoLoss.Stats stats = new PpoLoss.Stats();
        if (mine.isEmpty()) {
            return new Exchange.Partial(spec.perModel(null, null), new LossStats(UPDATE_STATS), 0, 0, () -> { });
        }
        mine.sort(Comparator.comparingLong(x -> x.r().id()));
        int B = s.microBatch();
        int T = spec.maxInputs();
        String key = "ppo-train:" + spec.policy() + ":" + spec.critic() + ":" + B + "x" + T;
        TrainState st = ExecutorStates.borrow(key, () -> new TrainState(spec, B, T));
        double policyLoss = 0, valueLoss = 0, entropy = 0, ratio = 0, klLoss = 0;
        long inputs = 0, tokens = 0;
        boolean klInLoss = s.klPlacement() == PpoSettings.KlPlacement.LOSS;
        boolean done = false;
        try {
            Arrays.fill(st.gradP, 0f);
            if (critic != null) {
                Arrays.fill(st.gradC, 0f);
            }
            List<Rollout> rs = new ArrayList<>(B);
            for (int from = 0; from < mine.size(); from += B) {
                int n = Math.min(B, mine.size() - from);
                List<Rollout.Scored> chunk = mine.subList(from, from + n);
                rs.clear();
                for (Rollout.Scored x : chunk) {
                    rs.add(x.r());
                    inputs += x.r().inputLength();
                }
                int t = layout(rs, st.tokens, st.targets, spec.eosId);
                Arrays.fill(st.logpOld, 0, n * t, 0);
                Arrays.fill(st.logpRef, 0, n * t, 0);
                Arrays.fill(st.adv, 0, n * t, 0);
                Arrays.fill(st.valuesOld, 0, n * t, 0);
                Arrays.fill(st.returns, 0, n * t, 0);
                for (int b = 0; b < n; b++) {
                    Rollout.Scored x = chunk.get(b);
                    int off = b * t + x.r().promptIds().length - 1;
                    int len = x.r().response().length;
                    st.offsets[b] = off;
                    st.lengths[b] = len;
                    tokens += len;
                    for (int j = 0; j < len; j++) {
                        st.logpOld[off + j] = x.r().logp()[j];
                        st.logpRef[off + j] = x.refLogp()[j];
                        st.adv[off + j] = (x.advantages()[j] - advMean) * advInv;
                        st.valuesOld[off + j] = x.values() == null ? 0 : x.values()[j];
                        st.returns[off + j] = x.returns()[j];
                    }
                }
                int bt = n * t;
                if (policy != null) {
                    st.policy.forward(policy, st.tokens, null, null, n, t, false, 0L);
                    st.policy.lmHeadForward(policy, st.targets, s.temperature(), st.f1, st.f2);
                    for (int i = 0; i < bt; i++) {
                        st.d1[i] = st.f1[i];
                        st.d2[i] = st.f2[i];
                        st.g1[i] = 0;
                        st.g2[i] = 0;
                    }
                    // one response at a time, each with its weight (1, or 1/length for sequence-level aggregation)
                    for (int b = 0; b < n; b++) {
                        double w = rowWeight(s, st.lengths[b]);
                        st.rowOffset[0] = st.offsets[b];
                        st.rowLength[0] = st.lengths[b];
                        policyLoss += PpoLoss.policy(st.d1, st.logpOld, st.adv, st.rowOffset, st.rowLength, 1,
                                s.clipRange(), w, st.g1, stats);
                        if (s.entropyCoef() > 0) {
                            policyLoss += PpoLoss.entropyBonus(st.d2, st.rowOffset, st.rowLength, 1, s.entropyCoef(),
                                    w, st.g2);
                        }
                        if (klInLoss) {
                            klLoss += KlPenalty.lossTerm(st.d1, st.logpRef, st.rowOffset, st.rowLength, 1, beta, w,
                                    st.g1);
                        }
                    }
                    for (int b = 0; b < n; b++) {
                        for (int i = st.offsets[b]; i < st.offsets[b] + st.lengths[b]; i++) {
                            entropy += st.d2[i];
                            ratio += Math.exp(st.d1[i] - st.logpOld[i]);
                        }
                    }
                    for (int i = 0; i < bt; i++) {
                        st.f1[i] = (float) st.g1[i];
                        st.f2[i] = (float) st.g2[i];
                    }
                    st.policy.lmHeadBackward(policy, st.gradP, st.f1, s.entropyCoef() > 0 ? st.f2 : null);
                    st.policy.backward(policy, st.gradP);
                }
                if (critic == null) {
                    continue;
                }
                st.critic.forward(critic, st.tokens, null, null, n, t, false, 0L);
                st.critic.scoreHeadForward(critic, st.f1);
                for (int i = 0; i < bt; i++) {
                    st.d1[i] = st.f1[i];
                    st.g1[i] = 0;
                }
                valueLoss += PpoLoss.value(st.d1, st.valuesOld, st.returns, st.offsets, st.lengths, n,
                        s.clipRangeValue(), 1.0, st.g1, stats);
                for (int i = 0; i < bt; i++) {
                    st.f1[i] = (float) (s.vfCoef() * st.g1[i]);
                }
                st.critic.scoreHeadBackward(critic, st.gradC, st.f1);
                st.critic.backward(critic, st.gradC);
            }
            LossStats out = new LossStats(UPDATE_STATS);
            out.addLoss(policyLoss + klLoss, aggregationWeight(s, mine.size(), tokens));
            out.add(VALUE_LOSS, valueLoss);
            out.add(ENTROPY, entropy);
            out.add(RATIO, ratio);
            out.add(INPUT_TOKENS, inputs);
            out.add(POLICY_TOKENS, stats.policyTokens);
            out.add(POLICY_CLIPPED, stats.policyClipped);
            out.add(APPROX_KL, stats.sumApproxKl);
            out.add(HALF_SQ_LOG_RATIO, stats.sumHalfSqLogRatio);
            out.add(VALUE_CLIPPED, stats.valueClipped);
            out.add(KL_LOSS, klLoss);
            done = true;
            return new Exchange.Partial(spec.perModel(policy == null ? null : st.gradP, st.gradC), out, mine.size(),
                    System.nanoTime() - t0, () -> ExecutorStates.release(key, st));
        } finally {
            if (!done) {
                ExecutorStates.release(key, st);
            }
        }
    }

    private static final class TrainState {
        final Gpt policy;
        final Gpt critic;
        final float[] gradP;
        final float[] gradC;
        final int[] tokens, targets, offsets, lengths;
        final int[] rowOffset = new int[1], rowLength = new int[1]; // one response of offsets/lengths
        final float[] f1, f2;                 // (B,T) head outputs / their float gradients
        final double[] d1, d2, g1, g2;        // (B,T) the same in double for PpoLoss
        final double[] logpOld, logpRef, adv, valuesOld, returns;

        TrainState(Spec spec, int B, int T) {
            policy = new Gpt(spec.policy(), B, T);
            critic = spec.critic() == null ? null : new Gpt(spec.critic(), B, T);
            gradP = new float[rlhf.model.ParamLayout.of(spec.policy()).size()];
            gradC = critic == null ? null : new float[rlhf.model.ParamLayout.of(spec.critic()).size()];
            int n = B * T;
            tokens = new int[n];
            targets = new int[n];
            offsets = new int[B];
            lengths = new int[B];
            f1 = new float[n];
            f2 = new float[n];
            d1 = new double[n];
            d2 = new double[n];
            g1 = new double[n];
            g2 = new double[n];
            logpOld = new double[n];
            logpRef = new double[n];
            adv = new double[n];
            valuesOld = new double[n];
            returns = new double[n];
        }
    }

    // ---------------------------------------------------------------- PPO-ptx

    /**
     * SFT loss (token cross-entropy on response + EOS, temperature 1) summed over the examples of
     * ptx step {@code step}: epoch step / spe, batch step % spe, spe = max(1, N / batch). Returns
     * the policy's gradient sum (model 0 of {policy, critic}; null when the partition held none
     * of the batch) with loss = the loss sum and weight = the target tokens.
     */
    public static Exchange.Partial ptx(Spec spec, float[] policy, long n, long step,
            Iterator<IndexedData.Shard<PtxExample>> shards) {
        long t0 = System.nanoTime();
        Partitions.useTaskCpus();
        PpoSettings s = spec.s;
        long spe = Math.max(1, n / s.ptxBatch());
        EpochPermutation perm = new EpochPermutation(n, Seeds.mix(s.seed() ^ 0x7074785f70747821L), step / spe);
        long lo = (step % spe) * s.ptxBatch();
        long hi = Math.min(n, lo + s.ptxBatch());
        List<IndexedData.Picked<PtxExample>> mine = IndexedData.atPositions(perm, lo, hi, IndexedData.list(shards));
        if (mine.isEmpty()) {
            return new Exchange.Partial(spec.perModel(null, null), new LossStats(0), 0, 0, () -> { });
        }
        int B = s.microBatch();
        int T = s.ptxMaxTokens() - 1;
        String key = "ppo-ptx:" + spec.policy() + ":" + B + "x" + T;
        PtxState st = ExecutorStates.borrow(key, () -> new PtxState(spec.policy(), B, T));
        double loss = 0;
        long tokens = 0;
        boolean done = false;
        try {
            Arrays.fill(st.grad, 0f);
            for (int from = 0; from < mine.size(); from += B) {
                int m = Math.min(B, mine.size() - from);
                int t = 1;
                for (int b = 0; b < m; b++) {
                    t = Math.max(t, mine.get(from + b).example().tokens().length - 1);
                }
                for (int b = 0; b < m; b++) {
                    PtxExample e = mine.get(from + b).example();
                    int L = e.tokens().length - 1;
                    int row = b * t;
                    System.arraycopy(e.tokens(), 0, st.tokens, row, L);
                    Arrays.fill(st.tokens, row + L, row + t, spec.eosId);
                    Arrays.fill(st.targets, row, row + t, -1);
                    System.arraycopy(e.tokens(), e.promptLength(), st.targets, row + e.promptLength() - 1,
                            L + 1 - e.promptLength());
                }
                int bt = m * t;
                st.gpt.forward(policy, st.tokens, null, null, m, t, false, 0L);
                st.gpt.lmHeadForward(policy, st.targets, 1f, st.logp, null);
                loss += Losses.tokenCrossEntropySum(st.logp, st.targets, bt);
                tokens += Losses.countTargets(st.targets, bt);
                Arrays.fill(st.dlogp, 0, bt, 0f);
                Losses.tokenCrossEntropyBackward(st.dlogp, st.targets, bt, 1f);
                st.gpt.lmHeadBackward(policy, st.grad, st.dlogp, null);
                st.gpt.backward(policy, st.grad);
            }
            LossStats out = new LossStats(0);
            out.addLoss(loss, tokens);
            done = true;
            return new Exchange.Partial(spec.perModel(st.grad, null), out, mine.size(), System.nanoTime() - t0,
                    () -> ExecutorStates.release(key, st));
        } finally {
            if (!done) {
                ExecutorStates.release(key, st);
            }
        }
    }

    private static final class PtxState {
        final Gpt gpt;
        final float[] grad;
        final int[] tokens, targets;
        final float[] logp, dlogp;

        PtxState(GptConfig cfg, int B, int T) {
            gpt = new Gpt(cfg, B, T);
            grad = new float[rlhf.model.ParamLayout.of(cfg).size()];
            tokens = new int[B * T];
            targets = new int[B * T];
            logp = new float[B * T];
            dlogp = new float[B * T];
        }
    }
}
