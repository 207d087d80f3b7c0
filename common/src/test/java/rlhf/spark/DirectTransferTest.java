package rlhf.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** The direct transfer's wire and bookkeeping, over a real loopback server in this JVM. */
class DirectTransferTest {

    private static final DirectTransfer.Server SERVER = DirectTransfer.Server.start("127.0.0.1");

    private static float[] bitPatterns(int n, int seed) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = Float.intBitsToFloat((i + seed) * 0x9E3779B1);   // NaN payloads, -0, subnormals, infinities
        }
        return a;
    }

    private static void assertSameBits(float[] want, float[] got) {
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) {
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), "element " + i);
        }
    }

    @Test
    void everyBitPatternArrivesAcrossBlockBoundsAndNullEntriesStayNull() throws IOException {
        float[][] offered = {bitPatterns((1 << 18) * 2 + 5, 1), null, new float[0], bitPatterns(3, 7)};
        DirectTransfer.Address at = SERVER.offer(offered, false, null);
        float[][] got = DirectTransfer.take(at, float[]::new, "test arrays");
        assertEquals(4, got.length);
        assertSameBits(offered[0], got[0]);
        assertNull(got[1]);
        assertEquals(0, got[2].length);
        assertSameBits(offered[3], got[3]);
        SERVER.withdraw(at);
    }

    @Test
    void aGradientOfferIsTakenOnceAndThenFreed() throws IOException, InterruptedException {
        AtomicInteger freed = new AtomicInteger();
        DirectTransfer.Address at = SERVER.offer(new float[][] {{1f, 2f}}, true, freed::incrementAndGet);
        assertArrayEquals(new float[] {1f, 2f}, DirectTransfer.take(at, float[]::new, "gradient")[0]);
        assertNull(DirectTransfer.take(at, float[]::new, "gradient again"), "a taken offer is gone");
        for (int i = 0; i < 100 && freed.get() == 0; i++) {
            Thread.sleep(10);     // the sender frees them once its last write returned
        }
        assertEquals(1, freed.get(), "the buffers go back exactly once");
    }

    @Test
    void withdrawnParametersAreGoneAndAnUnknownKeyFindsNothing() throws IOException {
        DirectTransfer.Address at = SERVER.offer(new float[][] {{3f}}, false, null);
        assertArrayEquals(new float[] {3f}, DirectTransfer.take(at, float[]::new, "parameters")[0]);
        assertArrayEquals(new float[] {3f}, DirectTransfer.take(at, float[]::new, "parameters")[0],
                "parameters stay offered to every executor");
        SERVER.withdraw(at);
        assertNull(DirectTransfer.take(at, float[]::new, "parameters"));
        assertNull(DirectTransfer.take(new DirectTransfer.Address(at.host(), at.port(), "not-a-key"),
                float[]::new, "nothing"));
    }

    @Test
    void anExecutorKeepsTwoVersionsOfAModelInArraysItReuses() {
        String exchange = "reuse-test";
        float[] v0 = bitPatterns(1000, 0);
        float[] v1 = bitPatterns(1000, 1);
        float[] v2 = bitPatterns(1000, 2);
        DirectTransfer.Address a0 = SERVER.offer(new float[][] {v0}, false, null);
        DirectTransfer.Address a1 = SERVER.offer(new float[][] {v1}, false, null);
        DirectTransfer.Address a2 = SERVER.offer(new float[][] {v2}, false, null);
        float[] got0 = DirectTransfer.params(exchange, 0, 0, 1000, a0);
        assertSameBits(v0, got0);
        SERVER.withdraw(a0);
        assertSame(got0, DirectTransfer.params(exchange, 0, 0, 1000, a0), "a version is fetched once");
        float[] got1 = DirectTransfer.params(exchange, 0, 1, 1000, a1);
        assertNotSame(got0, got1, "the previous version stays readable while the next one arrives");
        assertSameBits(v1, got1);
        float[] got2 = DirectTransfer.params(exchange, 0, 2, 1000, a2);
        assertSame(got0, got2, "version 2 reuses version 0's array");
        assertSameBits(v2, got2);
        // another exchange (the next stage) drops this one's copies: asking again fetches
        float[] other = DirectTransfer.params("next-stage", 0, 0, 1000, a1);
        assertSameBits(v1, other);
        SERVER.withdraw(a2);
        IllegalStateException gone = assertThrows(IllegalStateException.class,
                () -> DirectTransfer.params(exchange, 0, 2, 1000, a2));
        assertTrue(gone.getMessage().contains("parameters"), gone.getMessage());
        SERVER.withdraw(a1);
    }

    @Test
    void anUnreachableOfferFailsWithItsAddress() throws IOException {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        DirectTransfer.Address at = new DirectTransfer.Address("127.0.0.1", closedPort, "k");
        IOException e = assertThrows(IOException.class, () -> DirectTransfer.take(at, float[]::new, "the gradients"));
        assertTrue(e.getMessage().contains("the gradients from 127.0.0.1:" + closedPort), e.getMessage());
        IllegalStateException p = assertThrows(IllegalStateException.class,
                () -> DirectTransfer.params("unreachable", 0, 0, 1, at));
        assertTrue(p.getMessage().contains(DirectTransfer.SETTING + "=spark"), p.getMessage());
    }

    @Test
    void theSettingChoosesTheTransferAndSparkSecurityTurnsItOff() {
        assertTrue(DirectTransfer.enabled(new SparkConf(false)));
        assertTrue(DirectTransfer.enabled(new SparkConf(false).set(DirectTransfer.SETTING, "Direct")));
        assertFalse(DirectTransfer.enabled(new SparkConf(false).set(DirectTransfer.SETTING, "spark")));
        assertFalse(DirectTransfer.enabled(new SparkConf(false).set("spark.authenticate", "true")));
        assertFalse(DirectTransfer.enabled(new SparkConf(false).set("spark.network.crypto.enabled", "true")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DirectTransfer.enabled(new SparkConf(false).set(DirectTransfer.SETTING, "tcp")));
        assertTrue(e.getMessage().contains(DirectTransfer.SETTING) && e.getMessage().contains("'tcp'"), e.getMessage());
    }
}
