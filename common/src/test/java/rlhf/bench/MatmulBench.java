package rlhf.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import rlhf.tensor.Matmul;
import rlhf.tensor.Parallel;

/**
 * Times {@link Matmul#forward} and the two products of {@link Matmul#backward} on GPT-2 shapes.
 * Not a unit test: {@code bin/bench matmul} runs it next to OpenBLAS and prints the comparison.
 *
 * <pre>
 * java ... rlhf.bench.MatmulBench [--threads 1,2] [--bt 256,2048]
 *     [--shapes 768x2304,768x768,768x3072,3072x768,768x50257] [--seconds 0.6]
 * </pre>
 *
 * Prints one line per measurement: {@code RESULT C OC BT op threads gflops gflopsCpu} with op one of
 * fwd (out = inp·w^T), dinp (dinp += dout·w), dw (dw += dout^T·inp); each figure is the median
 * of at least 3 timed runs after JIT warm-up; gflopsCpu divides by process CPU time per thread
 * instead of wall time. FLOPs counted as 2·BT·C·OC per product.
 */
public final class MatmulBench {

    private MatmulBench() {
    }

    public static void main(String[] args) {
        int[] threads = {1, 2};
        int[] bts = {256, 2048};
        String shapes = "768x2304,768x768,768x3072,3072x768,768x50257";
        double seconds = 0.6;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--threads" -> threads = ints(args[++i]);
                case "--bt" -> bts = ints(args[++i]);
                case "--shapes" -> shapes = args[++i];
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + "; expected --threads, --bt, --shapes or --seconds");
            }
        }
        List<int[]> shapeList = new ArrayList<>();
        for (String s : shapes.split(",")) {
            String[] p = s.split("x");
            shapeList.add(new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1])});
        }
        warmUp();
        for (int t : threads) {
            Parallel.setThreads(t);
            for (int bt : bts) {
                for (int[] shape : shapeList) {
                    run(bt, shape[0], shape[1], t, seconds);
                }
            }
        }
    }

    /**
     * Compiles the kernels (all paths: tails, transposing pack, bias) before anything is timed:
     * small odd shapes, then a GPT-2 sized product for at least 3 seconds.
     */
    private static void warmUp() {
        Parallel.setThreads(1);
        for (int rep = 0; rep < 30; rep++) {
            run1(67, 129, 95);
        }
        long start = System.nanoTime();
        for (int rep = 0; rep < 10 || System.nanoTime() - start < 3_000_000_000L; rep++) {
            run1(256, 768, 1024);
        }
    }

    private static void run1(int BT, int C, int OC) {
        float[] inp = rand(BT * C, 1), w = rand(OC * C, 2), out = new float[BT * OC], b = rand(OC, 3);
        float[] dinp = new float[BT * C], dw = new float[OC * C], db = new float[OC];
        Matmul.forward(out, 0, inp, 0, w, 0, b, 0, BT, C, OC);
        Matmul.backward(dinp, 0, dw, 0, db, 0, out, 0, inp, 0, w, 0, BT, C, OC);
    }

    private static void run(int BT, int C, int OC, int threads, double seconds) {
        float[] inp = rand(BT * C, 1);
        float[] w = rand(OC * C, 2);
        float[] bias = rand(OC, 3);
        float[] out = new float[BT * OC]; // doubles as dout for the backward products
        float[] dinp = new float[BT * C];
        float[] dw = new float[OC * C];
        double flops = 2.0 * BT * C * OC;
        for (String op : new String[] {"fwd", "dinp", "dw"}) {
            Runnable body = switch (op) {
                case "fwd" -> () -> Matmul.forward(out, 0, inp, 0, w, 0, bias, 0, BT, C, OC);
                case "dinp" -> () -> Matmul.backward(dinp, 0, null, 0, null, 0, out, 0, inp, 0, w, 0, BT, C, OC);
                default -> () -> Matmul.backward(null, 0, dw, 0, null, 0, out, 0, inp, 0, w, 0, BT, C, OC);
            };
            double[] med = medianSeconds(body, seconds, threads);
            System.out.printf("RESULT %d %d %d %s %d %.1f %.1f%n", C, OC, BT, op, threads,
                    flops / med[0] / 1e9, flops / med[1] / 1e9);
        }
    }

    /**
     * Runs body once untimed (the JIT is warm already), then at least 3 and at most 15 timed runs within ~seconds. Returns
     * the medians of wall time and of CPU time (all threads of the JVM) divided by the thread
     * count: the second one is less disturbed by other processes on a shared machine.
     */
    static double[] medianSeconds(Runnable body, double seconds, int threads) {
        body.run();
        double[] wall = new double[15];
        double[] cpu = new double[15];
        int n = 0;
        long start = System.nanoTime();
        while (n < wall.length && (n < 3 || (System.nanoTime() - start) * 1e-9 < seconds)) {
            long c0 = cpuNanos();
            long t0 = System.nanoTime();
            body.run();
            wall[n] = (System.nanoTime() - t0) * 1e-9;
            cpu[n++] = (cpuNanos() - c0) * 1e-9 / threads;
        }
        return new double[] {median(wall, n), median(cpu, n)};
    }

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /**
     * CPU time of all threads of this JVM in ns (the process clock ticks only every 10 ms, too
     * coarse for one product).
     */
    private static long cpuNanos() {
        long sum = 0;
        for (long id : THREADS.getAllThreadIds()) {
            long t = THREADS.getThreadCpuTime(id);
            if (t > 0) {
                sum += t;
            }
        }
        return sum;
    }

    private static double median(double[] t, int n) {
        double[] s = Arrays.copyOf(t, n);
        Arrays.sort(s);
        return s[n / 2];
    }

    private static float[] rand(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextFloat() - 0.5f;
        }
        return a;
    }

    private static int[] ints(String s) {
        return Arrays.stream(s.split(",")).mapToInt(Integer::parseInt).toArray();
    }
}
