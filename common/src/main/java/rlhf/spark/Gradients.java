package rlhf.spark;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

import rlhf.tensor.Parallel;

/**
 * Floats on their way between JVMs (a partition's gradient or a shard of it, a shard of updated
 * parameters): encoded as little-endian bytes where they are made and added or copied into an
 * array where they land. A byte[] serializes as one block copy where a float[] goes element by
 * element, and the copy lets the task's gradient buffer go back to the per-JVM pool before Spark
 * serializes the result. At most 2^31 bytes: 536M floats per message.
 */
public final class Gradients {

    private Gradients() {
    }

    /** The floats of {@code g} as little-endian bytes (a copy). */
    public static byte[] encode(float[] g) {
        return encode(g, 0, g.length);
    }

    /** The floats g[from, to) as little-endian bytes (a copy). */
    public static byte[] encode(float[] g, int from, int to) {
        byte[] b = new byte[Math.multiplyExact(4, to - from)];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(g, from, to - from);
        return b;
    }

    /**
     * acc += the floats encoded in {@code bytes} (elementwise, so the split over threads changes no bit).
     *
     * @param what names the step in the error when the sizes differ
     */
    public static void addEncoded(float[] acc, byte[] bytes, String what) {
        if (bytes.length != 4L * acc.length) {
            throw new IllegalStateException(what + ": a partition returned " + bytes.length / 4 + " gradients for "
                    + acc.length + " parameters");
        }
        Parallel.forRange(acc.length, 1 << 16, (from, to) -> {
            FloatBuffer fb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            for (int i = from; i < to; i++) {
                acc[i] += fb.get(i);
            }
        });
    }

    /** dst[offset, offset + bytes/4) = the floats encoded in {@code bytes}. */
    public static void decodeInto(byte[] bytes, float[] dst, int offset) {
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(dst, offset, bytes.length / 4);
    }

    /**
     * out[i] = sum over s, in order, of (float) (sums[s][i] * factors[s]), starting from 0: how a
     * model's sources enter its update. A null sum or a factor of 0 adds nothing. {@code out} may
     * be one of the sums (each element reads every source before it is written). The driver runs
     * it on whole arrays and the shards on their ranges, with the same bits.
     */
    public static void combine(float[] out, float[][] sums, double[] factors) {
        Parallel.forRange(out.length, 1 << 16, (from, to) -> {
            for (int i = from; i < to; i++) {
                float acc = 0f;
                for (int s = 0; s < sums.length; s++) {
                    if (sums[s] != null && factors[s] != 0) {
                        acc += (float) (sums[s][i] * factors[s]);
                    }
                }
                out[i] = acc;
            }
        });
    }
}
