package rlhf.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

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
        // policy: 1/2 per rollout token, 0.25 per demonstration token; float rounding per source
        Gradients.combine(out, new float[][] {rollouts, ptx}, new double[] {0.5, 0.25});
        assertArrayEquals(new float[] {1.25f, 2.25f, (float) 5e7 + 0.25f}, out);
        // a factor of 0 and a missing source add nothing; the first sum may be the output
        Gradients.combine(rollouts, new float[][] {rollouts, null, ptx}, new double[] {1.0, 3.0, 0.0});
        assertArrayEquals(new float[] {2f, 4f, 1e8f}, rollouts);
    }
}
