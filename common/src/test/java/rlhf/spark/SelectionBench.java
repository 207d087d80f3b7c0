package rlhf.spark;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.stream.LongStream;

/**
 * What selecting one step's examples costs a partition, at 10 thousand and 2 million cached
 * examples: {@link IndexedData#atPositions} (the batch's positions mapped back through the epoch's
 * permutation) against the scan it replaced (the position of every held example, kept when it
 * falls in the batch). Single thread, thread CPU time, median of 201 steps.
 *
 * <pre>
 * java -cp common/target/classes:common/target/test-classes:$(deps) rlhf.spark.SelectionBench [globalBatch] [partitions]
 * </pre>
 */
public final class SelectionBench {

    public static void main(String[] args) {
        int globalBatch = args.length > 0 ? Integer.parseInt(args[0]) : 32;
        int partitions = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
        System.out.println("| examples | per partition | global batch | scan every example (µs/step) | from the batch's positions (µs/step) | ratio |");
        System.out.println("|---:|---:|---:|---:|---:|---:|");
        for (long n : new long[] {10_000, 2_000_000}) {
            long per = n / partitions;
            long[] index = LongStream.range(0, per).toArray(); // partition 0, as zipWithIndex numbers it
            List<IndexedData.Shard<Long>> shard = Collections.singletonList(
                    new IndexedData.Shard<>(index, Collections.nCopies(index.length, 0L)));
            EpochPermutation perm = new EpochPermutation(n, 1234, 0);
            int steps = 201;
            long[] scan = new long[steps];
            long[] positions = new long[steps];
            long sink = 0;
            for (int rep = 0; rep < 2; rep++) { // the first round warms the JIT up
                for (int s = 0; s < steps; s++) {
                    long lo = (long) s * globalBatch;
                    long hi = Math.min(lo + globalBatch, n);
                    long t0 = cpu.getCurrentThreadCpuTime();
                    for (long i : index) {
                        long pos = perm.position(i);
                        if (pos >= lo && pos < hi) {
                            sink += i;
                        }
                    }
                    long t1 = cpu.getCurrentThreadCpuTime();
                    for (IndexedData.Picked<Long> picked : IndexedData.atPositions(perm, lo, hi, shard)) {
                        sink -= picked.index();
                    }
                    long t2 = cpu.getCurrentThreadCpuTime();
                    scan[s] = t1 - t0;
                    positions[s] = t2 - t1;
                }
            }
            if (sink != 0) {
                throw new IllegalStateException("the two selections differ");
            }
            double a = median(scan) / 1e3;
            double b = median(positions) / 1e3;
            System.out.printf(java.util.Locale.ROOT, "| %,d | %,d | %d | %.1f | %.1f | %.0f× |%n", n, per, globalBatch,
                    a, b, a / b);
        }
    }

    private static double median(long[] xs) {
        long[] s = xs.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
