package rlhf.bench;

import java.io.IOException;
import java.util.Arrays;
import java.util.Random;

import rlhf.model.Generation;
import rlhf.model.GenerationConfig;
import rlhf.model.Generator;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.tensor.Parallel;

/**
 * Times KV-cache generation with GPT-2 124M on random weights: a batch of random prompts,
 * prefill, then new tokens sampled from softmax(logits) (multinomial, temperature 1, no top-k/top-p)
 * with no EOS stop, so every row produces exactly the requested number of tokens. Not a unit test:
 * {@code bench/model.sh} runs it next to the PyTorch reference.
 *
 * <pre>
 * java ... rlhf.bench.GenerationBench [--batch 8] [--prompt 32] [--new 64] [--threads 1,2] [--warmup 1] [--iters 3]
 * </pre>
 *
 * Prints one line per thread count: {@code RESULT gen B prompt new threads msWall msCpu tokensPerSec 0 rssMiB},
 * ms per {@code generate} call (prefill included) as median after warm-up, msCpu the process CPU
 * time per call divided by the thread count, tokens/s = B·new / msWall.
 */
public final class GenerationBench {

    private GenerationBench() {
    }

    public static void main(String[] args) throws IOException {
        int B = 8;
        int prompt = 32;
        int newTokens = 64;
        int[] threads = {1, 2};
        int warmup = 1;
        int iters = 3;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--batch" -> B = Integer.parseInt(args[++i]);
                case "--prompt" -> prompt = Integer.parseInt(args[++i]);
                case "--new" -> newTokens = Integer.parseInt(args[++i]);
                case "--threads" -> threads = TrainStepBench.ints(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--iters" -> iters = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + "; expected --batch, --prompt, --new, --threads, --warmup or --iters");
            }
        }
        GptConfig cfg = GptConfig.gpt2Small();
        float[] params = new float[ParamLayout.of(cfg).size()];
        Gpt.init(cfg, params, 1234L);
        Generator gen = new Generator(cfg, B, prompt, newTokens);
        Random r = new Random(42);
        int[] prompts = new int[B * prompt];
        for (int i = 0; i < prompts.length; i++) {
            prompts[i] = r.nextInt(cfg.vocabSize());
        }
        int[] lens = new int[B];
        Arrays.fill(lens, prompt);
        GenerationConfig gc = new GenerationConfig(newTokens, 1f, 0, 1f, -1, 99L);
        for (int t : threads) {
            Parallel.setThreads(t);
            int produced = 0;
            for (int i = 0; i < warmup; i++) {
                gen.generate(params, prompts, prompt, lens, B, gc, null);
            }
            double[] wall = new double[iters];
            double[] cpu = new double[iters];
            for (int i = 0; i < iters; i++) {
                long c0 = TrainStepBench.cpuNanos();
                long w0 = System.nanoTime();
                Generation g = gen.generate(params, prompts, prompt, lens, B, gc, null);
                wall[i] = (System.nanoTime() - w0) / 1e6;
                cpu[i] = (TrainStepBench.cpuNanos() - c0) / 1e6 / t;
                produced = 0;
                for (int b = 0; b < B; b++) {
                    produced += g.length(b);
                }
            }
            if (produced != B * newTokens) {
                throw new IllegalStateException("expected " + B * newTokens + " new tokens, generated " + produced);
            }
            double ms = TrainStepBench.median(wall);
            System.out.printf("RESULT gen %d %d %d %d %.1f %.1f %.1f 0 %d%n", B, prompt, newTokens, t, ms,
                    TrainStepBench.median(cpu), produced / (ms / 1e3), TrainStepBench.peakRssMiB());
        }
    }
}
