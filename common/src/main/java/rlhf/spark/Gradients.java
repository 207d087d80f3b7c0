package rlhf.spark;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;

import rlhf.optim.GradClip;
import rlhf.tensor.Parallel;

/**
 * Gradients on their way into a sum: a partition's whole gradient added into the driver's
 * ({@link #add}, {@link #set}), or a shard piece encoded as little-endian bytes where it is cut
 * and added where it lands ({@link #encode}, {@link #addEncoded}, {@link #setEncoded}: a byte[]
 * goes through the shuffle as one block copy, at most 2^31 bytes, 536M floats, per piece); and how
 * the sources of a step are combined into the update with the parts of its norm ({@link #combine}).
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
        requireSize(acc, bytes.length, what);
        Parallel.forRange(acc.length, 1 << 16, (from, to) -> {
            FloatBuffer fb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            for (int i = from; i < to; i++) {
                acc[i] += fb.get(i);
            }
        });
    }

    /**
     * acc = the floats encoded in {@code bytes}: the first term of an in-order sum. It differs from
     * 0 + them only in the sign of a zero, which {@link #combine} drops (0f + -0f is 0f) before any
     * update sees it.
     */
    public static void setEncoded(float[] acc, byte[] bytes, String what) {
        requireSize(acc, bytes.length, what);
        decodeInto(bytes, acc, 0);
    }

    /** acc += g, elementwise (a partition's gradient into the driver's sum). */
    public static void add(float[] acc, float[] g, String what) {
        requireSize(acc, 4L * g.length, what);
        Parallel.forRange(acc.length, 1 << 16, (from, to) -> {
            for (int i = from; i < to; i++) {
                acc[i] += g[i];
            }
        });
    }

    /** acc = g: the first term of an in-order sum (see {@link #setEncoded} on the sign of zero). */
    public static void set(float[] acc, float[] g, String what) {
        requireSize(acc, 4L * g.length, what);
        System.arraycopy(g, 0, acc, 0, g.length);
    }

    private static void requireSize(float[] acc, long bytes, String what) {
        if (bytes != 4L * acc.length) {
            throw mismatch(bytes / 4, acc.length, what);
        }
    }

    /** Fails unless a partition's {@code gradients} match the model's {@code parameters}. */
    static void requireSize(int parameters, int gradients, String what) {
        if (gradients != parameters) {
            throw mismatch(gradients, parameters, what);
        }
    }

    private static IllegalStateException mismatch(long gradients, int parameters, String what) {
        return new IllegalStateException(what + ": a partition returned " + gradients + " gradients for "
                + parameters + " parameters");
    }

    /** dst[offset, offset + bytes/4) = the floats encoded in {@code bytes}. */
    public static void decodeInto(byte[] bytes, float[] dst, int offset) {
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(dst, offset, bytes.length / 4);
    }

    /**
     * out[i] = sum over s, in order, of (float) (sums[s][i] * factors[s]), starting from 0: how a
     * model's sources enter its update; and, per {@link GradClip#NORM_BLOCK} of out, the sum of
     * squares of the result into {@code blockSums} (the norm's parts). A null sum or a factor of 0
     * adds nothing. {@code out} may be sums[0] (each element reads every source before it is last
     * written). The driver runs it on whole arrays and the shards on their ranges (which start at
     * multiples of the block), with the same bits.
     */
    public static void combine(float[] out, float[][] sums, double[] factors, double[] blockSums) {
        int n = out.length;
        Parallel.forRange(blockSums.length, 16, (fromBlock, toBlock) -> {
            for (int b = fromBlock; b < toBlock; b++) {
                int from = b * GradClip.NORM_BLOCK, to = Math.min(n, from + GradClip.NORM_BLOCK);
                boolean first = true;
                for (int s = 0; s < sums.length; s++) {
                    if (sums[s] != null && factors[s] != 0) {
                        addScaled(out, sums[s], factors[s], from, to, first);
                        first = false;
                    }
                }
                if (first) {
                    Arrays.fill(out, from, to, 0f);
                }
                blockSums[b] = GradClip.sumOfSquares(out, from, to);
            }
        });
    }

    /** out[from, to) = (first ? 0 : out) + (float) (sum * factor): one source's pass of {@link #combine}. */
    private static void addScaled(float[] out, float[] sum, double factor, int from, int to, boolean first) {
        if (first) {
            for (int i = from; i < to; i++) {
                out[i] = 0f + (float) (sum[i] * factor);
            }
        } else {
            for (int i = from; i < to; i++) {
                out[i] += (float) (sum[i] * factor);
            }
        }
    }
}
