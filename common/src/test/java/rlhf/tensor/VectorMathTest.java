package rlhf.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

class VectorMathTest {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private static float[] inputs() {
        SplittableRandom r = new SplittableRandom(7);
        float[] x = new float[F.length() * 4096];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextDouble() * 200 - 100);
        }
        float[] edges = {0f, -0f, 1f, -1f, 88f, 88.5f, 1000f, -87.3f, -87.34f, -87.4f, -1000f, 1e-8f, -1e-8f,
            Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, 0.5f};
        System.arraycopy(edges, 0, x, 0, edges.length);
        return x;
    }

    @Test
    void vectorExpAndTanhAreBitIdenticalToTheirScalarTwinsSoTheJitCannotChangeThem() {
        float[] x = inputs();
        float[] e = new float[x.length];
        float[] t = new float[x.length];
        for (int i = 0; i < x.length; i += F.length()) {
            VectorMath.exp(FloatVector.fromArray(F, x, i)).intoArray(e, i);
            VectorMath.tanh(FloatVector.fromArray(F, x, i).mul(0.05f)).intoArray(t, i);
        }
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.floatToIntBits(VectorMath.exp(x[i])), Float.floatToIntBits(e[i]), "exp(" + x[i] + ")");
            assertEquals(Float.floatToIntBits(VectorMath.tanh(x[i] * 0.05f)), Float.floatToIntBits(t[i]),
                    "tanh(" + x[i] * 0.05f + ")");
        }
    }

    @Test
    void expIsWithinTwoUlpsOfMathExpAndZeroBelowTheFloatRange() {
        float worst = 0;
        for (float x = -87f; x <= 88f; x += 0.0137f) {
            float want = (float) Math.exp(x);
            float got = VectorMath.exp(x);
            worst = Math.max(worst, Math.abs(got - want) / Math.ulp(want));
        }
        assertTrue(worst <= 2, "max error " + worst + " ulp (tolerance 2)");
        assertEquals(0f, VectorMath.exp(-100f));
        assertEquals(0f, VectorMath.exp(Float.NEGATIVE_INFINITY));
        assertEquals(1f, VectorMath.exp(0f));
        assertTrue(Float.isFinite(VectorMath.exp(1000f)), "clamped, never infinite");
    }

    @Test
    void tanhIsWithinTwoTenMillionthsOfMathTanh() {
        double worst = 0;
        for (float u = -20f; u <= 20f; u += 0.001f) {
            worst = Math.max(worst, Math.abs(VectorMath.tanh(u) - Math.tanh(u)));
        }
        assertTrue(worst <= 2e-7, "max abs error " + worst + " (tolerance 2e-7)");
        assertEquals(1f, VectorMath.tanh(50f));
        assertEquals(-1f, VectorMath.tanh(-50f));
    }
}
