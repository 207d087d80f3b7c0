package rlhf.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;

import org.junit.jupiter.api.Test;

class FloatsTest {

    private static Object roundTrip(Object o) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(o);
            out.writeObject("after");   // the stream stays aligned behind the floats
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            Object back = in.readObject();
            assertEquals("after", in.readObject());
            return back;
        }
    }

    @Test
    void everyBitPatternSurvivesJavaSerializationAcrossBlockBounds() throws Exception {
        for (int n : new int[] {0, 1, (1 << 16) - 1, 1 << 16, (1 << 17) + 3}) {
            float[] a = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = Float.intBitsToFloat(i * 0x9E3779B1);   // NaN payloads, -0, subnormals, infinities
            }
            Floats back = (Floats) roundTrip(new Floats(a));
            assertEquals(n, back.values().length);
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(back.values()[i]), "element " + i);
            }
        }
    }

    @Test
    void inAnObjectGraphItIsAnOrdinaryField() throws Exception {
        Floats[] pair = {new Floats(new float[] {1f, -2f}), null};
        Floats[] back = (Floats[]) roundTrip(pair);
        assertArrayEquals(new float[] {1f, -2f}, back[0].values());
        assertTrue(back[1] == null);
    }
}
