package rlhf.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.LongStream;

import org.junit.jupiter.api.Test;

class IndexedDataTest {

    /** Partition k holds a contiguous run of indices, as zipWithIndex numbers them. */
    private static List<IndexedData.Shard<Long>> partition(long from, long to) {
        long[] index = LongStream.range(from, to).toArray();
        List<Long> examples = new ArrayList<>();
        for (long i : index) {
            examples.add(i);
        }
        return Collections.singletonList(new IndexedData.Shard<>(index, examples));
    }

    @Test
    void aBatchFromItsPositionsIsTheSameAsScanningEveryExample() {
        long n = 1037;
        long[] bounds = {0, 300, 301, 800, n};
        int globalBatch = 64;
        EpochPermutation perm = new EpochPermutation(n, 11, 4);
        for (long lo = 0; lo < n; lo += globalBatch) {
            long hi = Math.min(lo + globalBatch, n);
            for (int k = 0; k + 1 < bounds.length; k++) {
                // What a scan of the partition's examples picks: those whose position is in [lo, hi).
                List<Long> scanned = new ArrayList<>();
                for (long i = bounds[k]; i < bounds[k + 1]; i++) {
                    long pos = perm.position(i);
                    if (pos >= lo && pos < hi) {
                        scanned.add(i);
                    }
                }
                long[] expected = scanned.stream().mapToLong(Long::longValue).toArray();
                assertArrayEquals(expected, IndexedData.atPositions(perm, lo, hi, partition(bounds[k], bounds[k + 1])).stream().mapToLong(IndexedData.Picked::index).toArray(),
                        "batch at " + lo + ", partition " + k);
            }
        }
    }
}
