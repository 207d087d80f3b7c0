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

import rlhf.optim.AdamW;
import rlhf.optim.GradClip;
import rlhf.rules.RuleReward;
import rlhf.spark.Gradients;
import rlhf.spark.IndexedData;
import rlhf.spark.NonFiniteLossException;
import rlhf.spark.Partitions;
import rlhf.tokenizer.BpeTokenizer;

/**
 * The driver side of PPO: one {@link #iterate} is rollouts, scoring, statistics and the
 * minibatch updates, as Spark jobs over the cached prompts (docs/ARCHITECTURE.md).
 *
 * <pre>
 * broadcast policy snapshot --> each partition: its prompts of the iteration -> rollouts   (cached)
 * broadcast critic snapshot --> each partition: logp_ref, values, score, rewards, GAE      (cached)
 *                          <--  per partition: advantage moments, score/KL/length sums, samples
 * epochs x minibatches:
 *   broadcast policy, critic --> each partition: its rollouts of the minibatch -> gradient sums
 *   sum in partition order <---  (policy grad, critic grad, loss sums, clip counts)
 *   [PPO-ptx: the same over the demonstrations]; guards; clip; AdamW (policy), AdamW (critic)
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
    private final IndexedData<PpoWorker.TokPrompt> prompts;
    private final IndexedData<PpoWorker.PtxExample> ptx;
    private final Broadcast<float[]> ref;
    private final Broadcast<float[]> reward;
    private final Broadcast<BpeTokenizer> tok;
    private final RuleReward rule;

    final float[] policy;
    final float[] critic;
    final AdamW policyAdam;
    final AdamW criticAdam;
    KlController kl;

    /**
     * @param ptx      demonstrations for PPO-ptx, or null
     * @param reward   the reward model's parameters, or null with a rule
     * @param rule     a serializable rule reward replacing reward.kind (tests), or null
     */
    public PpoTrainer(JavaSparkContext sc, PpoWorker.Spec spec, IndexedData<PpoWorker.TokPrompt> prompts,
            IndexedData<PpoWorker.PtxExample> ptx, float[] refParams, float[] rewardParams, BpeTokenizer tokenizer,
            RuleReward rule, float[] policy, float[] critic) {
        this.sc = sc;
        this.s = spec.settings();
        this.spec = spec;
        this.prompts = prompts;
        this.ptx = ptx;
        this.ref = sc.broadcast(refParams);
        this.reward = rewardParams == null ? null : sc.broadcast(rewardParams);
        this.tok = sc.broadcast(tokenizer);
        this.rule = rule;
        this.policy = policy;
        this.critic = critic;
        this.policyAdam = s.adamW().create(rlhf.model.ParamLayout.of(spec.policy()));
        this.criticAdam = s.adamW().create(rlhf.model.ParamLayout.of(spec.critic()));
        this.kl = s.initialKlController();
    }

    PpoWorker.Spec spec() {
        return spec;
    }

    /** Frees the broadcasts of the frozen models (the cached data belongs to the caller). */
    public void close() {
        ref.destroy();
        if (reward != null) {
            reward.destroy();
        }
        tok.destroy();
    }

    // ---------------------------------------------------------------- phases

    /** The iteration's rollouts, generated on the executors from the policy in {@code params}; cached. */
    JavaRDD<Rollout> rollouts(int iteration, Broadcast<float[]> params) {
        PpoWorker.Spec sp = spec;
        long n = prompts.count();
        return Partitions.mapCached(sc, "ppo iteration " + (iteration + 1) + ": rollouts", prompts.shards(), params,
                (p, w, shards) -> PpoWorker.generate(sp, w, iteration, n, shards).iterator(),
                StorageLevel.MEMORY_AND_DISK());
    }

    /** The same rollouts computed in this process over all prompts as one partition (tests, benchmarks). */
    List<Rollout> rolloutsInProcess(int iteration, float[] params) {
        List<IndexedData.Shard<PpoWorker.TokPrompt>> all = prompts.shards().collect();
        return PpoWorker.generate(spec, params, iteration, prompts.count(), all.iterator());
    }

    JavaRDD<Rollout.Scored> score(int iteration, JavaRDD<Rollout> rollouts, Broadcast<float[]> criticParams,
            double beta) {
        PpoWorker.Spec sp = spec;
        Broadcast<float[]> r = ref;
        Broadcast<float[]> rm = reward;
        Broadcast<BpeTokenizer> t = tok;
        RuleReward rr = rule;
        return Partitions.mapCached(sc, "ppo iteration " + (iteration + 1) + ": scoring", rollouts, criticParams,
                (p, c, rows) -> PpoWorker.score(sp, r.value(), c, rm == null ? null : rm.value(),
                        rr != null ? rr : PpoWorker.configuredRule(sp.s), t.value(), beta, rows).iterator(),
                StorageLevel.MEMORY_AND_DISK());
    }

    /** {@link #score} computed in this process (tests, benchmarks). */
    List<Rollout.Scored> scoreInProcess(List<Rollout> rollouts, float[] criticParams, double beta) {
        return PpoWorker.score(spec, ref.value(), criticParams, reward == null ? null : reward.value(),
                rule != null ? rule : PpoWorker.configuredRule(s), tok.value(), beta, rollouts.iterator());
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
        Broadcast<float[]> policySnap = sc.broadcast(policy.clone());
        Broadcast<float[]> criticSnap = sc.broadcast(critic.clone());
        JavaRDD<Rollout> rollouts = null;
        JavaRDD<Rollout.Scored> scored = null;
        try {
            rollouts = rollouts(it, policySnap);
            long t1 = System.nanoTime();
            scored = score(it, rollouts, criticSnap, beta);
            Broadcast<BpeTokenizer> t = tok;
            int eos = spec.eosId;
            List<PpoWorker.Stats> parts = Partitions.runOnEach(sc, "ppo iteration " + (it + 1) + ": statistics",
                    scored, criticSnap, (p, c, rows) -> PpoWorker.stats(rows, samples, t.value(), eos));
            PpoWorker.Stats st = PpoWorker.Stats.ZERO;
            for (PpoWorker.Stats x : parts) {
                st = st.plus(x);
            }
            long t2 = System.nanoTime();
            if (st.rollouts() != s.rollouts()) {
                throw new IllegalStateException("iteration " + (it + 1) + " produced " + st.rollouts()
                        + " rollouts, expected ppo.rollouts = " + s.rollouts());
            }
            double advMean = s.whitenAdvantages() ? st.adv().mean() : 0;
            double advInv = s.whitenAdvantages() ? 1 / Math.sqrt(st.adv().variance() + Whitening.EPS) : 1;

            Updates u = updates(it, scored, advMean, advInv, trainPolicy);
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
            m.put("reward_total_mean", st.rewardSum() / st.rollouts());
            m.put("kl", meanKl);
            m.put("beta", beta);
            m.put("beta_next", kl.beta());
            if (trainPolicy && u.entropyTokens > 0) {
                m.put("entropy", u.entropySum / u.entropyTokens);
                m.put("policy_loss", u.policyLoss / Math.max(1, u.steps));
                m.put("clip_frac", u.stats.clipFraction());
                m.put("approx_kl", u.stats.approxKl());
                m.put("approx_kl_half_sq", u.stats.approxKlHalfSq());
            }
            m.put("value_loss", u.valueLoss / Math.max(1, u.steps));
            m.put("value_clip_frac", u.stats.valueClipFraction());
            m.put("adv_mean", st.adv().mean());
            m.put("adv_std", Math.sqrt(st.adv().variance()));
            m.put("return_mean", st.ret().mean());
            m.put("return_std", Math.sqrt(st.ret().variance()));
            m.put("response_len", (double) st.responseTokens() / st.rollouts());
            m.put("eos_share", (double) st.endedWithEos() / st.rollouts());
            m.put("updates", (double) u.steps);
            m.put("skipped_minibatches", (double) u.skipped);
            m.put("epochs_done", (double) u.epochsDone);
            m.put("policy_grad_norm", u.policyNorm);
            m.put("critic_grad_norm", u.criticNorm);
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
            criticSnap.destroy();
        }
    }

    /** Sums over an iteration's updates, for its metrics. */
    private static final class Updates {
        final PpoLoss.Stats stats = new PpoLoss.Stats();
        double policyLoss, valueLoss, entropySum, ptxLoss, policyNorm, criticNorm, computeSeconds;
        /** Wall time of the minibatch jobs beyond their slowest partition, and the driver's optimizer time. */
        double exchangeSeconds, optimizerSeconds;
        /** Gradient bytes the driver received; parameter bytes each executor received. */
        long driverInBytes, executorInBytes;
        long entropyTokens, inputTokens, ptxTokens;
        int steps, skipped, epochsDone;
    }

    private Updates updates(int it, JavaRDD<Rollout.Scored> scored, double advMean, double advInv,
            boolean trainPolicy) {
        Updates u = new Updates();
        float[] gp = new float[policy.length];
        float[] gc = new float[critic.length];
        PpoWorker.Spec sp = spec;
        for (int e = 0; e < s.epochs(); e++) {
            PpoLoss.Stats epochStats = new PpoLoss.Stats();
            long key = s.epochKey(it, e);
            for (int mb = 0; mb < s.minibatches(); mb++) {
                long lo = s.minibatchStart(mb);
                long hi = s.minibatchStart(mb + 1);
                String what = "ppo iteration " + (it + 1) + ", epoch " + (e + 1) + ", minibatch " + (mb + 1);
                Broadcast<float[]> pb = trainPolicy ? sc.broadcast(policy) : null;
                Broadcast<float[]> cb = sc.broadcast(critic);
                Arrays.fill(gp, 0f);
                Arrays.fill(gc, 0f);
                PpoLoss.Stats mbStats = new PpoLoss.Stats();
                double[] sums = new double[4]; // policy loss, value loss, entropy, ratio
                long[] inputs = new long[1];
                double[] slowest = new double[1];
                long t0 = System.nanoTime();
                u.executorInBytes += 4L * ((pb == null ? 0 : policy.length) + critic.length);
                try {
                    Partitions.foldInOrder(sc, what, scored, (p, rows) -> PpoWorker.update(sp,
                            pb == null ? null : pb.value(), cb.value(), key, lo, hi, advMean, advInv, rows), (i, r) -> {
                                if (r.policyGrad() != null) {
                                    Gradients.addEncoded(gp, r.policyGrad(), what);
                                    u.driverInBytes += r.policyGrad().length;
                                }
                                if (r.criticGrad() != null) {
                                    Gradients.addEncoded(gc, r.criticGrad(), what);
                                    u.driverInBytes += r.criticGrad().length;
                                }
                                slowest[0] = Math.max(slowest[0], r.computeSeconds());
                                sums[0] += r.policyLoss();
                                sums[1] += r.valueLoss();
                                sums[2] += r.entropySum();
                                sums[3] += r.ratioSum();
                                inputs[0] += r.inputTokens();
                                u.computeSeconds += r.computeSeconds();
                                mbStats.merge(r.stats());
                            });
                } finally {
                    if (pb != null) {
                        pb.destroy();
                    }
                    cb.destroy();
                }
                long t1 = System.nanoTime();
                u.exchangeSeconds += Math.max(0, (t1 - t0) / 1e9 - slowest[0]);
                double pl = sums[0], vl = sums[1], ent = sums[2], ratio = sums[3];
                long tokens = mbStats.valueTokens;
                if (tokens == 0) {
                    throw new IllegalStateException(what + ": no response tokens in the minibatch");
                }
                double policyLoss = pl / tokens;
                double valueLoss = vl / tokens;
                double meanRatio = trainPolicy ? ratio / tokens : 1;
                double pn = trainPolicy ? GradClip.scale(gp, 1.0 / tokens) : 0;
                double cn = GradClip.scale(gc, 1.0 / tokens);
                double ptxLoss = 0;
                long ptxTokens = 0;
                if (trainPolicy && ptx != null && s.ptxCoef() > 0) {
                    long step = (key * s.minibatches()) + mb;
                    float[] g = ptxGrad(it, step, what);
                    ptxTokens = ptxLastTokens;
                    ptxLoss = ptxLastLoss;
                    for (int i = 0; i < gp.length; i++) {
                        gp[i] += (float) (s.ptxCoef() * g[i] / ptxTokens);
                    }
                    pn = GradClip.scale(gp, 1.0);
                }
                if (!Double.isFinite(policyLoss) || !Double.isFinite(valueLoss) || !Double.isFinite(pn)
                        || !Double.isFinite(cn) || !Double.isFinite(ptxLoss)) {
                    throw new NonFiniteLossException(it, what + ": non-finite " + describe(policyLoss, valueLoss, pn, cn,
                            ptxLoss) + "; the update was not applied, the weights are those before this minibatch. "
                            + "Lower optim.policy_lr / optim.critic_lr, check the rewards (reward.clip) and resume "
                            + "from the last checkpoint");
                }
                u.inputTokens += inputs[0];
                if (trainPolicy && s.ratioLimit() > 0 && meanRatio > s.ratioLimit()) {
                    u.skipped++;
                    continue;
                }
                long tOpt = System.nanoTime();
                if (trainPolicy) {
                    GradClip.clipToNorm(gp, pn, s.adamW().gradClip());
                    policyAdam.update(policy, gp, s.lr(s.policyLr(), policyAdam.step()));
                    u.policyLoss += policyLoss;
                    u.policyNorm = pn;
                    if (e == 0) {
                        u.entropySum += ent;
                        u.entropyTokens += tokens;
                    }
                    u.ptxLoss += ptxLoss;
                    u.ptxTokens += ptxTokens;
                }
                GradClip.clipToNorm(gc, cn, s.adamW().gradClip());
                criticAdam.update(critic, gc, s.lr(s.criticLr(), criticAdam.step()));
                u.optimizerSeconds += (System.nanoTime() - tOpt) / 1e9;
                u.valueLoss += valueLoss;
                u.criticNorm = cn;
                u.steps++;
                u.stats.merge(mbStats);
                epochStats.merge(mbStats);
            }
            u.epochsDone = e + 1;
            if (trainPolicy && s.targetApproxKl() > 0 && epochStats.policyTokens() > 0
                    && epochStats.approxKl() > s.targetApproxKl()) {
                break;
            }
        }
        return u;
    }

    private long ptxLastTokens;
    private double ptxLastLoss;

    /** The PPO-ptx gradient sum of update {@code step}; sets ptxLastTokens/ptxLastLoss. */
    private float[] ptxGrad(int it, long step, String what) {
        PpoWorker.Spec sp = spec;
        long n = ptx.count();
        Broadcast<float[]> pb = sc.broadcast(policy);
        float[] g = new float[policy.length];
        double[] loss = new double[1];
        long[] tok = new long[1];
        try {
            Partitions.foldInOrder(sc, what + ": ptx", ptx.shards(),
                    (p, shards) -> PpoWorker.ptx(sp, pb.value(), n, step, shards), (i, r) -> {
                        if (r.grad() != null) {
                            Gradients.addEncoded(g, r.grad(), what + ": ptx");
                        }
                        loss[0] += r.lossSum();
                        tok[0] += r.tokens();
                    });
        } finally {
            pb.destroy();
        }
        long tokens = tok[0];
        if (tokens == 0) {
            throw new IllegalStateException(what + ": the ptx batch has no target tokens");
        }
        ptxLastTokens = tokens;
        ptxLastLoss = loss[0];
        return g;
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
