package rlhf.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;

import org.junit.jupiter.api.Test;

import rlhf.optim.GradClip;

class GradientsTest {

    @Test
    void encodedFloatsAddAndDecodeBackExactly() {
        float[] g = {1.5f, -0f, Float.MIN_VALUE, 3e38f};
        byte[] b = Gradients.encode(g, 1, 4);
        float[] back = new float[5];
        Gradients.decodeInto(b, back, 2);
        assertArrayEquals(new float[] {0, 0, -0f, Float.MIN_VALUE, 3e38f}, back);
        float[] acc = {1f, 2f, 3f};
        Gradients.addEncoded(acc, b, "t");
        assertArrayEquals(new float[] {1f, 2f + Float.MIN_VALUE, 3f + 3e38f}, acc);
    }

    @Test
    void addingAGradientOfTheWrongSizeNamesTheStep() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Gradients.addEncoded(new float[3], new byte[8], "step 7"));
        assertTrue(e.getMessage().startsWith("step 7: "), e.getMessage());
    }

    @Test
    void combineScalesEachSourceInOrderAndSkipsAbsentOnes() {
        float[] rollouts = {2f, 4f, 1e8f};
        float[] ptx = {1f, 1f, 1f};
        float[] out = new float[3];
        double[] blockSums = new double[1];
        // policy: 1/2 per rollout token, 0.25 per demonstration token; float rounding per source
        Gradients.combine(out, new float[][] {rollouts, ptx}, new double[] {0.5, 0.25}, blockSums);
        assertArrayEquals(new float[] {1.25f, 2.25f, 5e7f}, out);
        assertEquals(1.25 * 1.25 + 2.25 * 2.25 + 5e7 * 5e7, blockSums[0]);
        // a factor of 0 and a missing source add nothing; the first sum may be the output
        Gradients.combine(rollouts, new float[][] {rollouts, null, ptx}, new double[] {1.0, 3.0, 0.0}, blockSums);
        assertArrayEquals(new float[] {2f, 4f, 1e8f}, rollouts);
        // no source at all: zeros
        Gradients.combine(out, new float[][] {null, ptx}, new double[] {1.0, 0.0}, blockSums);
        assertArrayEquals(new float[3], out);
        assertEquals(0.0, blockSums[0]);
    }

    @Test
    void aShardCutAtABlockBoundGivesTheWholeArraysBlockSums() {
        int n = 3 * GradClip.NORM_BLOCK + 5;
        float[] g = new float[n];
        for (int i = 0; i < n; i++) {
            g[i] = (float) Math.sin(i) * (1 + i % 7);
        }
        float[] whole = new float[n];
        double[] wholeSums = new double[GradClip.blocks(n)];
        Gradients.combine(whole, new float[][] {g}, new double[] {0.1}, wholeSums);
        int from = GradClip.NORM_BLOCK;
        float[] shard = new float[n - from];
        double[] shardSums = new double[GradClip.blocks(shard.length)];
        Gradients.combine(shard, new float[][] {Arrays.copyOfRange(g, from, n)}, new double[] {0.1}, shardSums);
        assertArrayEquals(Arrays.copyOfRange(whole, from, n), shard);
        assertArrayEquals(Arrays.copyOfRange(wholeSums, 1, wholeSums.length), shardSums);
        double[] lane = new double[8];     // the block's association: 8 strided sums, added pairwise
        for (int i = 0; i < GradClip.NORM_BLOCK; i++) {
            lane[i % 8] += (double) whole[i] * whole[i];
        }
        assertEquals(((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7])),
                wholeSums[0]);
        int t = 3 * GradClip.NORM_BLOCK;   // the last block's 5 elements, one per lane
        double[] w = new double[5];
        for (int j = 0; j < 5; j++) {
            w[j] = (double) whole[t + j] * whole[t + j];
        }
        assertEquals(((w[0] + w[1]) + (w[2] + w[3])) + ((w[4] + 0.0) + (0.0 + 0.0)), wholeSums[3]);
        assertEquals(Math.sqrt(GradClip.sumInOrder(wholeSums)), GradClip.norm(whole));
    }
}
