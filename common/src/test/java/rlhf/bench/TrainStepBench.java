package rlhf.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.Losses;
import rlhf.model.ParamLayout;
import rlhf.optim.AdamW;
import rlhf.tensor.Parallel;

/**
 * Times one training step of GPT-2 124M (zero grads, forward, LM head + token cross-entropy,
 * backward, AdamW) on random weights and random tokens. Not a unit test: {@code bench/model.sh}
 * runs it next to the PyTorch reference ({@code bench/torch_gpt2.py}) and prints the comparison.
 *
 * <pre>
 * java ... rlhf.bench.TrainStepBench [--cases 4x64,8x256] [--threads 1,2] [--warmup 2] [--iters 5]
 * </pre>
 *
 * The first (case, threads) runs --warmup untimed steps, the others one (the JIT is warm by then).
 * Prints one line per (case, threads):
 * {@code RESULT train B T threads msWall msCpu tokensPerSec gflops rssMiB} where msWall is the median
 * wall time of a step after warm-up, msCpu the median process CPU time of a step divided by the
 * thread count (what the step would take on otherwise idle cores), tokens/s and GFLOP/s from
 * msWall, and rssMiB the process's peak resident set so far (VmHWM). FLOPs per step follow
 * nanoGPT's estimate: {@code (6·P + 12·L·C·T)·B·T} with P all parameters (the tied LM head counts once).
 */
public final class TrainStepBench {

    private TrainStepBench() {
    }

    public static void main(String[] args) throws IOException {
        String cases = "4x64,8x256";
        int[] threads = {1, 2};
        int warmup = 2;
        int iters = 5;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--cases" -> cases = args[++i];
                case "--threads" -> threads = ints(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--iters" -> iters = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + "; expected --cases BxT,..., --threads, --warmup or --iters");
            }
        }
        GptConfig cfg = GptConfig.gpt2Small();
        ParamLayout layout = ParamLayout.of(cfg);
        int P = layout.size();
        float[] params = new float[P];
        Gpt.init(cfg, params, 1234L);
        float[] grads = new float[P];
        AdamW opt = new AdamW(layout, 0.1f);
        for (String c : cases.split(",")) {
            String[] bt = c.split("x");
            int B = Integer.parseInt(bt[0]);
            int T = Integer.parseInt(bt[1]);
            Step step = new Step(cfg, params, grads, opt, B, T);
            double flops = (6.0 * P + 12.0 * cfg.nLayer() * cfg.nEmbd() * T) * B * T;
            for (int t : threads) {
                Parallel.setThreads(t);
                for (int i = 0; i < warmup; i++) {
                    step.run();
                }
                warmup = Math.min(warmup, 1); // the JIT is warm after the first (case, threads)
                double[] wall = new double[iters];
                double[] cpu = new double[iters];
                for (int i = 0; i < iters; i++) {
                    long c0 = cpuNanos();
                    long w0 = System.nanoTime();
                    step.run();
                    wall[i] = (System.nanoTime() - w0) / 1e6;
                    cpu[i] = (cpuNanos() - c0) / 1e6 / t;
                }
                double ms = median(wall);
                System.out.printf("RESULT train %d %d %d %.1f %.1f %.1f %.1f %d%n", B, T, t, ms, median(cpu),
                        B * T / (ms / 1e3), flops / (ms / 1e3) / 1e9, peakRssMiB());
                System.out.printf("# loss %.4f (B=%d T=%d threads=%d, wall ms per step: %s)%n", step.loss, B, T, t,
                        Arrays.toString(Arrays.stream(wall).map(x -> Math.round(x)).toArray()));
            }
        }
    }

    /** One training step's state: the model workspace, the batch, the loss buffers. */
    static final class Step {
        final Gpt gpt;
        final float[] params;
        final float[] grads;
        final AdamW opt;
        final int B;
        final int T;
        final int[] tokens;
        final int[] targets;
        final float[] logp;
        final float[] dlogp;
        double loss;

        Step(GptConfig cfg, float[] params, float[] grads, AdamW opt, int B, int T) {
            this.gpt = new Gpt(cfg, B, T);
            this.params = params;
            this.grads = grads;
            this.opt = opt;
            this.B = B;
            this.T = T;
            Random r = new Random(B * 1000L + T);
            tokens = new int[B * T];
            targets = new int[B * T];
            for (int i = 0; i < B * T; i++) {
                tokens[i] = r.nextInt(cfg.vocabSize());
                targets[i] = r.nextInt(cfg.vocabSize());
            }
            logp = new float[B * T];
            dlogp = new float[B * T];
        }

        /** Zero grads, forward, mean token cross-entropy, backward, AdamW. */
        void run() {
            int n = B * T;
            Parallel.forRange(grads.length, 1 << 16, (from, to) -> Arrays.fill(grads, from, to, 0f));
            gpt.forward(params, tokens, null, null, B, T, true, 7L);
            gpt.lmHeadForward(params, targets, 1f, logp, null);
            int count = Losses.countTargets(targets, n);
            loss = Losses.tokenCrossEntropySum(logp, targets, n) / count;
            Arrays.fill(dlogp, 0f);
            Losses.tokenCrossEntropyBackward(dlogp, targets, n, 1f / count);
            gpt.lmHeadBackward(params, grads, dlogp, null);
            gpt.backward(params, grads);
            opt.update(params, grads, 1e-5f);
        }
    }

    /** CPU time of the whole process (all threads) in ns. */
    static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /** Peak resident set size of this process (VmHWM in /proc/self/status) in MiB, or -1 if unknown. */
    static long peakRssMiB() throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.exists(status)) {
            return -1;
        }
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
            }
        }
        return -1;
    }

    static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    static int[] ints(String csv) {
        return Arrays.stream(csv.split(",")).mapToInt(s -> Integer.parseInt(s.trim())).toArray();
    }
}
