package rlhf.spark;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * A partition's gradient on its way to the driver: encoded as little-endian bytes in the task and
 * added into the driver's sum in partition order. A byte[] serializes as one block copy where a
 * float[] goes element by element, and the copy lets the task's gradient buffer go back to the
 * per-JVM pool before Spark serializes the result. At most 2^31 bytes: 536M parameters.
 */
public final class Gradients {

    private Gradients() {
    }

    /** The floats of {@code g} as little-endian bytes (a copy). */
    public static byte[] encode(float[] g) {
        byte[] b = new byte[Math.multiplyExact(4, g.length)];
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(g);
        return b;
    }

    /**
     * acc += the floats encoded in {@code bytes}.
     *
     * @param what names the step in the error when the sizes differ
     */
    public static void addEncoded(float[] acc, byte[] bytes, String what) {
        if (bytes.length != 4L * acc.length) {
            throw new IllegalStateException(what + ": a partition returned " + bytes.length / 4 + " gradients for "
                    + acc.length + " parameters");
        }
        FloatBuffer fb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        for (int i = 0; i < acc.length; i++) {
            acc[i] += fb.get(i);
        }
    }
}
