package rlhf.ppo;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;

import rlhf.model.ParamLayout;
import rlhf.optim.AdamWUpdate;
import rlhf.optim.ElementwiseOptimizer;
import rlhf.optim.GradClip;
import rlhf.optim.OptimizerState;
import rlhf.rules.RewardSource;
import rlhf.spark.Exchange;
import rlhf.spark.Floats;
import rlhf.spark.IndexedData;
import rlhf.spark.LossStats;
import rlhf.spark.NonFiniteLossException;
import rlhf.spark.Params;
import rlhf.spark.Partitions;
import rlhf.spark.PromptSet;
import rlhf.tokenizer.BpeTokenizer;

/**
 * The driver side of PPO, GRPO and RLOO ({@link Algorithm}): one {@link #iterate} is rollouts,
 * scoring, statistics and the minibatch updates, as Spark jobs over the cached prompts
 * (docs/ARCHITECTURE.md). Without a critic (GRPO, RLOO) its snapshot, forward, gradient and
 * optimizer are simply absent: the exchange carries one model.
 *
 * <pre>
 * broadcast policy snapshot --> each partition: its prompts of the iteration -> rollouts   (cached)
 * broadcast critic snapshot --> each partition: logp_ref, values, score, rewards, GAE      (cached)
 *                          <--  per partition: advantage moments, score/KL/length sums, samples
 * epochs x minibatches, one step of the engine's {@link Exchange} over two models:
 *   broadcast policy, critic --> each partition: its rollouts of the minibatch -> gradient sums
 *                            --> [PPO-ptx: each partition of the demonstrations, same policy
 *                                 broadcast -> the policy's SFT gradient sum]
 *   reduce: per model, each source summed in partition order, the policy's sources combined
 *   (rollouts / response tokens + ptx_coef x demonstrations / target tokens); guards; clip each
 *   model; AdamW (policy), AdamW (critic): on the driver in local mode, shard by shard on the
 *   executors on a cluster
 * KL controller update
 * </pre>
 *
 * Every random draw derives from (ppo.seed, iteration, rollout id), and sums are added in
 * partition order: the same run twice, or a resumed run, gives bit-identical weights. Only
 * parameters go out; gradient sums and small statistics come back.
 */
public final class PpoTrainer {

    private final JavaSparkContext sc;
    private final PpoSettings s;
    private final PpoWorker.Spec spec;
    private final IndexedData<PromptSet.Tokenized> prompts;
    private final IndexedData<PpoWorker.PtxExample> ptx;
    private final Broadcast<Floats> ref;
    private final Broadcast<Floats> reward;
    private final Broadcast<BpeTokenizer> tok;
    private final RewardSource rewardSource;
    /** "ppo", "grpo" or "rloo": Spark's job descriptions. */
    private final String job;

    final float[] policy;
    /** Null without a critic. */
    final float[] critic;
    /** The models' updates: model 0 the policy, model 1 the critic if any (AdamW each, state inside). */
    private final Exchange exchange;
    KlController kl;

    /**
     * @param ptx      demonstrations for PPO-ptx, or null
     * @param reward   the reward model's parameters, or null with a rule
     * @param rewardSource where scores come from: the settings' reward.*, or a rule given in code
     * @param critic   the critic's start, null for a method without one
     */
    public PpoTrainer(JavaSparkContext sc, PpoWorker.Spec spec, IndexedData<PromptSet.Tokenized> prompts,
            IndexedData<PpoWorker.PtxExample> ptx, float[] refParams, float[] rewardParams, BpeTokenizer tokenizer,
            RewardSource rewardSource, float[] policy, float[] critic) {
        this.sc = sc;
        this.s = spec.settings();
        this.spec = spec;
        this.prompts = prompts;
        this.ptx = ptx;
        this.ref = Floats.broadcast(sc, refParams);
        this.reward = rewardParams == null ? null : Floats.broadcast(sc, rewardParams);
        this.tok = sc.broadcast(tokenizer);
        this.rewardSource = rewardSource;
        this.job = s.job();
        this.policy = policy;
        this.critic = critic;
        PpoSettings settings = s;
        float policyLr = s.policyLr(), criticLr = s.criticLr();
        List<ElementwiseOptimizer> optimizers = new ArrayList<>(List.of(new AdamWUpdate(s.adamW(),
                ParamLayout.of(spec.policy()), (step, done) -> settings.lr(policyLr, done))));
        if (critic != null) {
            optimizers.add(new AdamWUpdate(s.adamW(), ParamLayout.of(spec.critic()),
                    (step, done) -> settings.lr(criticLr, done)));
        }
        this.exchange = Exchange.create(sc, s.exchange(), s.exchangeShards(), optimizers,
                spec.perModel(policy, critic));
        this.kl = s.initialKlController();
    }

    PpoWorker.Spec spec() {
        return spec;
    }

    /** The policy's (0) or the critic's (1) AdamW state, for a checkpoint. */
    OptimizerState optimizerState(int model) {
        return exchange.state(model);
    }

    /** Continues from a checkpoint's AdamW states (the critic's null without one), before the first iteration. */
    void restoreOptimizers(OptimizerState policyState, OptimizerState criticState) {
        exchange.restore(0, policyState);
        if (critic != null) {
            exchange.restore(1, criticState);
        }
    }

    /** Brings policy and critic into their arrays, where checkpoints and the next rollouts read them. */
    private void pullModels() {
        exchange.pull(0);
        if (critic != null) {
            exchange.pull(1);
        }
    }

    /** Frees the broadcasts of the frozen models and the optimizers' state on the executors (the cached data belongs to the caller). */
    public void close() {
        exchange.close();
        ref.destroy();
        if (reward != null) {
            reward.destroy();
        }
        tok.destroy();
    }

    // ---------------------------------------------------------------- phases

    /** The iteration's rollouts, generated on the executors from the policy in {@code params}; cached. */
    JavaRDD<Rollout> rollouts(int iteration, Broadcast<Floats> params) {
        PpoWorker.Spec sp = spec;
        long n = prompts.count();
        return Partitions.mapCached(sc, job + " iteration " + (iteration + 1) + ": rollouts", prompts.shards(), params,
                (p, w, shards) -> PpoWorker.generate(sp, w, iteration, n, shards).iterator(),
                StorageLevel.MEMORY_AND_DISK());
    }

    /** The same rollouts computed in this process over all prompts as one partition (tests, benchmarks). */
    List<Rollout> rolloutsInProcess(int iteration, float[] params) {
        List<IndexedData.Shard<PromptSet.Tokenized>> all = prompts.shards().collect();
        return PpoWorker.generate(spec, params, iteration, prompts.count(), all.iterator());
    }

    JavaRDD<Rollout.Scored> score(int iteration, JavaRDD<Rollout> rollouts, Broadcast<Floats> criticParams,
            double beta) {
        PpoWorker.Spec sp = spec;
        Broadcast<Floats> r = ref;
        Broadcast<Floats> rm = reward;
        Broadcast<BpeTokenizer> t = tok;
        RewardSource rs = rewardSource;
        return Partitions.mapCached(sc, job + " iteration " + (iteration + 1) + ": scoring", rollouts, criticParams,
                (p, c, rows) -> PpoWorker.score(sp, r.value().values(), c, Floats.valueOf(rm),
                        rs, t.value(), beta, rows).iterator(),
                StorageLevel.MEMORY_AND_DISK());
    }

    /** {@link #score} computed in this process (tests, benchmarks). */
    List<Rollout.Scored> scoreInProcess(List<Rollout> rollouts, float[] criticParams, double beta) {
        return PpoWorker.score(spec, ref.value().values(), criticParams, Floats.valueOf(reward),
                rewardSource, tok.value(), beta, rollouts.iterator());
    }

    // ---------------------------------------------------------------- one iteration

    /** What an iteration did: its metrics and (when asked) samples. */
    public record Result(Map<String, Double> metrics, List<PpoWorker.Sample> samples) {
    }

    /**
     * Iteration {@code it} (0-based): updates the policy, critic, both optimizers and the KL
     * controller in place.
     *
     * @param samples rollouts to return as samples (the first ones), 0 for none
     * @throws NonFiniteLossException when a loss or gradient is not finite; nothing of that
     *                                minibatch is applied (earlier minibatches of the iteration are)
     */
    public Result iterate(int it, int samples) {
        boolean trainPolicy = it >= s.criticWarmupIterations();
        double beta = kl.beta();
        long t0 = System.nanoTime();
        Broadcast<Floats> policySnap = Floats.broadcast(sc, policy.clone());
        Broadcast<Floats> criticSnap = critic == null ? null : Floats.broadcast(sc, critic.clone());
        JavaRDD<Rollout> rollouts = null;
        JavaRDD<Rollout.Scored> scored = null;
        try {
            rollouts = rollouts(it, policySnap);
            long t1 = System.nanoTime();
            scored = score(it, rollouts, criticSnap, beta);
            Broadcast<BpeTokenizer> t = tok;
            int eos = spec.eosId;
            List<PpoWorker.Stats> parts = Partitions.runOnEach(sc, job + " iteration " + (it + 1) + ": statistics",
                    scored, null, (p, noParams, rows) -> PpoWorker.stats(rows, samples, t.value(), eos));
            PpoWorker.Stats st = PpoWorker.Stats.ZERO;
            for (PpoWorker.Stats x : parts) {
                st = st.plus(x);
            }
            long t2 = System.nanoTime();
            if (st.rollouts() != s.rollouts()) {
                throw new IllegalStateException("iteration " + (it + 1) + " produced " + st.rollouts()
                        + " rollouts, expected " + s.algorithm().key("rollouts") + " = " + s.rollouts());
            }
            double advMean = s.whitenAdvantages() ? st.adv().mean() : 0;
            double advInv = s.whitenAdvantages() ? 1 / Math.sqrt(st.adv().variance() + Whitening.EPS) : 1;

            Updates u;
            try {
                u = updates(it, scored, advMean, advInv, beta, trainPolicy);
            } catch (RuntimeException e) {
                try {
                    pullModels();   // the weights of the minibatches done, for the caller's message or checkpoint
                } catch (RuntimeException lost) {
                    e.addSuppressed(lost);
                }
                throw e;
            }
            pullModels();
            long t3 = System.nanoTime();

            double meanKl = st.klSum() / st.rollouts();
            kl = kl.update(meanKl, st.rollouts());

            double rollSec = (t1 - t0) / 1e9;
            double scoreSec = (t2 - t1) / 1e9;
            double updSec = (t3 - t2) / 1e9;
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("score_mean", st.score().mean());
            m.put("score_std", Math.sqrt(st.score().variance()));
            m.put("raw_score_mean", st.rawScoreSum() / st.rollouts());
            if (s.gold().isPresent()) {
                m.put("gold_mean", st.goldSum() / st.rollouts());
            }
            m.put("reward_total_mean", st.rewardSum() / st.rollouts());
            m.put("kl", meanKl);
            m.put("beta", beta);
            m.put("beta_next", kl.beta());
            if (trainPolicy && u.entropyTokens > 0) {
                m.put("entropy", u.entropySum / u.entropyTokens);
                m.put("policy_loss", u.policyLoss / Math.max(1, u.steps));
                if (s.klPlacement() == PpoSettings.KlPlacement.LOSS) {
                    m.put("kl_loss", u.klLoss / Math.max(1, u.steps));
                }
                m.put("clip_frac", u.stats.clipFraction());
                m.put("approx_kl", u.stats.approxKl());
                m.put("approx_kl_half_sq", u.stats.approxKlHalfSq());
            }
            if (critic != null) {
                m.put("value_loss", u.valueLoss / Math.max(1, u.steps));
                m.put("value_clip_frac", u.stats.valueClipFraction());
            }
            m.put("adv_mean", st.adv().mean());
            m.put("adv_std", Math.sqrt(st.adv().variance()));
            m.put("return_mean", st.ret().mean());
            m.put("return_std", Math.sqrt(st.ret().variance()));
            if (critic != null) {
                m.put("value_explained_var", st.valueExplainedVariance());
            }
            m.put("response_len", (double) st.responseTokens() / st.rollouts());
            m.put("eos_share", (double) st.endedWithEos() / st.rollouts());
            m.put("updates", (double) u.steps);
            m.put("skipped_minibatches", (double) u.skipped);
            m.put("epochs_done", (double) u.epochsDone);
            m.put("policy_grad_norm", u.policyNorm);
            if (critic != null) {
                m.put("critic_grad_norm", u.criticNorm);
            }
            if (u.ptxTokens > 0) {
                m.put("ptx_loss", u.ptxLoss / u.ptxTokens);
            }
            m.put("time_rollout_s", rollSec);
            m.put("time_scoring_s", scoreSec);
            m.put("time_update_s", updSec);
            m.put("time_update_tasks_s", u.computeSeconds);
            m.put("time_update_exchange_s", u.exchangeSeconds);
            m.put("time_update_optimizer_s", u.optimizerSeconds);
            m.put("update_driver_in_bytes", (double) u.driverInBytes);
            m.put("update_executor_in_bytes", (double) u.executorInBytes);
            m.put("gen_tokens_per_s", st.responseTokens() / rollSec);
            m.put("train_tokens_per_s", u.inputTokens / updSec);
            m.put("generated_tokens", (double) st.responseTokens());
            List<PpoWorker.Sample> sm = new ArrayList<>(st.samples());
            sm.sort(Comparator.comparingLong(PpoWorker.Sample::id));
            return new Result(m, sm);
        } finally {
            if (scored != null) {
                scored.unpersist(false);
            }
            if (rollouts != null) {
                rollouts.unpersist(false);
            }
            policySnap.destroy();
            if (criticSnap != null) {
                criticSnap.destroy();
            }
        }
    }

    /** Sums over an iteration's updates, for its metrics. */
    private static final class Updates {
        final PpoLoss.Stats stats = new PpoLoss.Stats();
        double policyLoss, valueLoss, klLoss, entropySum, ptxLoss, policyNorm, criticNorm, computeSeconds;
        /**
         * computeSeconds: the minibatches' slowest partitions; exchangeSeconds: the rest of their
         * wall time but the optimizer's (on the driver, or the slowest shard's).
         */
        double exchangeSeconds, optimizerSeconds;
        /** Gradient and parameter bytes the driver received; parameter bytes each executor received. */
        long driverInBytes, executorInBytes;
        long entropyTokens, inputTokens, ptxTokens;
        int steps, skipped, epochsDone;
    }

    private Updates updates(int it, JavaRDD<Rollout.Scored> scored, double advMean, double advInv, double beta,
            boolean trainPolicy) {
        Updates u = new Updates();
        PpoWorker.Spec sp = spec;
        boolean withPtx = trainPolicy && ptx != null && s.ptxCoef() > 0;
        long ptxCount = withPtx ? ptx.count() : 0;
        double ptxCoef = s.ptxCoef();
        // policy: the rollouts' weighted sum over the minibatch's aggregation weight (PPO: its response
        // tokens) (+ ptx_coef x the demonstrations' sum over their target tokens); critic: the
        // rollouts' sum over their response tokens
        boolean withCritic = critic != null;
        Exchange.Combine combine = totals -> {
            double perWeight = 1.0 / totals[0].weight();
            double[] policyFactors = withPtx ? new double[] {perWeight, ptxCoef / totals[1].weight()}
                    : new double[] {perWeight};
            double[] criticFactors = withPtx ? new double[] {perWeight, 0} : new double[] {perWeight};
            return withCritic ? new double[][] {policyFactors, criticFactors} : new double[][] {policyFactors};
        };
        for (int e = 0; e < s.epochs(); e++) {
            PpoLoss.Stats epochStats = new PpoLoss.Stats();
            long key = s.epochKey(it, e);
            for (int mb = 0; mb < s.minibatches(); mb++) {
                long lo = s.minibatchStart(mb);
                long hi = s.minibatchStart(mb + 1);
                long ptxStep = key * s.minibatches() + mb;
                String what = job + " iteration " + (it + 1) + ", epoch " + (e + 1) + ", minibatch " + (mb + 1);
                // each model's parameters once per minibatch: the rollouts and the ptx demonstrations share them
                Params pb = trainPolicy ? exchange.params(0) : null;
                Params cb = withCritic ? exchange.params(1) : null;
                List<Params> bcs = withCritic ? Arrays.asList(pb, cb) : Arrays.asList(pb);
                long t0 = System.nanoTime();
                u.executorInBytes += 4L * ((pb == null ? 0 : policy.length) + (withCritic ? critic.length : 0));
                Exchange.Reduced r;
                double optimizerSeconds = 0;
                try {
                    List<Exchange.Source<?>> sources = new ArrayList<>();
                    sources.add(new Exchange.Source<>(scored, (p, rows, params) -> PpoWorker.update(sp, params[0],
                            withCritic ? params[1] : null, key, lo, hi, advMean, advInv, beta, rows)));
                    if (withPtx) {
                        sources.add(new Exchange.Source<>(ptx.shards(), (p, shards, params) -> PpoWorker.ptx(sp,
                                params[0], ptxCount, ptxStep, shards)));
                    }
                    r = exchange.reduce(what, sources, bcs, combine);
                    LossStats t = r.totals()[0];
                    double weight = t.weight();
                    long tokens = (long) t.extra(PpoWorker.POLICY_TOKENS);
                    if (weight == 0) {
                        exchange.discard();
                        throw new IllegalStateException(what + ": no response tokens in the minibatch");
                    }
                    if (withPtx && r.totals()[1].weight() == 0) {
                        exchange.discard();
                        throw new IllegalStateException(what + ": the ptx batch has no target tokens");
                    }
                    double policyLoss = t.loss() / weight;
                    double valueLoss = t.extra(PpoWorker.VALUE_LOSS) / weight;
                    double meanRatio = trainPolicy ? t.extra(PpoWorker.RATIO) / tokens : 1;
                    double pn = trainPolicy ? r.norms()[0] : 0;
                    double cn = withCritic ? r.norms()[1] : 0;
                    double ptxLoss = withPtx ? r.totals()[1].loss() : 0;
                    long ptxTokens = withPtx ? (long) r.totals()[1].weight() : 0;
                    if (!Double.isFinite(policyLoss) || !Double.isFinite(valueLoss) || !Double.isFinite(pn)
                            || !Double.isFinite(cn) || !Double.isFinite(ptxLoss)) {
                        exchange.discard();
                        throw new NonFiniteLossException(it, what + ": non-finite " + describe(policyLoss, valueLoss, pn,
                                cn, ptxLoss) + "; the update was not applied, the weights are those before this "
                                + "minibatch. Lower optim.policy_lr / optim.critic_lr, check the rewards (reward.clip) "
                                + "and resume from the last checkpoint");
                    }
                    u.inputTokens += (long) t.extra(PpoWorker.INPUT_TOKENS);
                    if (trainPolicy && s.ratioLimit() > 0 && meanRatio > s.ratioLimit()) {
                        exchange.discard();
                        u.skipped++;
                        continue;
                    }
                    float maxNorm = s.adamW().gradClip();
                    float[] clip = withCritic
                            ? new float[] {trainPolicy ? GradClip.clipFactor((float) pn, maxNorm) : Float.NaN,
                                    GradClip.clipFactor((float) cn, maxNorm)}
                            : new float[] {GradClip.clipFactor((float) pn, maxNorm)};
                    Exchange.Update up = exchange.update(what, clip, u.steps);
                    optimizerSeconds = up.optimizerSeconds();
                    u.optimizerSeconds += optimizerSeconds;
                    u.driverInBytes += r.driverInBytes() + up.driverInBytes();
                    PpoLoss.Stats mbStats = PpoWorker.lossStats(t);
                    if (trainPolicy) {
                        u.policyLoss += policyLoss;
                        u.klLoss += t.extra(PpoWorker.KL_LOSS) / weight;
                        u.policyNorm = pn;
                        if (e == 0) {
                            u.entropySum += t.extra(PpoWorker.ENTROPY);
                            u.entropyTokens += tokens;
                        }
                        u.ptxLoss += ptxLoss;
                        u.ptxTokens += ptxTokens;
                    }
                    u.valueLoss += valueLoss;
                    u.criticNorm = cn;
                    u.steps++;
                    u.stats.merge(mbStats);
                    epochStats.merge(mbStats);
                } finally {
                    if (pb != null) {
                        pb.release();
                    }
                    if (cb != null) {
                        cb.release();
                    }
                }
                double slowest = r.computeNanos() / 1e9;
                u.computeSeconds += slowest;
                u.exchangeSeconds += Math.max(0, (System.nanoTime() - t0) / 1e9 - slowest - optimizerSeconds);
            }
            u.epochsDone = e + 1;
            if (trainPolicy && s.targetApproxKl() > 0 && epochStats.policyTokens() > 0
                    && epochStats.approxKl() > s.targetApproxKl()) {
                break;
            }
        }
        return u;
    }

    private static String describe(double pl, double vl, double pn, double cn, double ptx) {
        List<String> bad = new ArrayList<>();
        if (!Double.isFinite(pl)) bad.add("policy loss " + pl);
        if (!Double.isFinite(vl)) bad.add("value loss " + vl);
        if (!Double.isFinite(pn)) bad.add("policy gradient (norm " + pn + ")");
        if (!Double.isFinite(cn)) bad.add("critic gradient (norm " + cn + ")");
        if (!Double.isFinite(ptx)) bad.add("ptx loss " + ptx);
        return String.join(", ", bad);
    }
}
