package rlhf.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {

    @TempDir
    java.nio.file.Path tmp;

    private FileSystem fs() throws IOException {
        return FileSystem.getLocal(new Configuration());
    }

    private Path path(String name) {
        return new Path(tmp.resolve(name).toUri());
    }

    private static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextGaussian() * 0.3f;
        }
        return a;
    }

    @Test
    void f32RoundTripKeepsEveryBitIncludingSpecialValuesAndTransposes() throws IOException {
        float[] a = random(3 * 5, 1);
        a[0] = -0f;
        a[1] = Float.MIN_VALUE;
        a[2] = Float.POSITIVE_INFINITY;
        a[3] = Float.intBitsToFloat(0x7fc00123); // NaN with a payload
        float[] big = random(700_001, 2); // more than one 1 MiB chunk
        Path f = path("a.safetensors");
        Safetensors.write(fs(), f, List.of(
                Safetensors.Tensor.of("a", Safetensors.Dtype.F32, new int[] {3, 5}, a, 0),
                new Safetensors.Tensor("aT", Safetensors.Dtype.F32, new int[] {5, 3}, a, 0, true),
                Safetensors.Tensor.of("big", Safetensors.Dtype.F32, new int[] {big.length}, big, 0)),
                Map.of("format", "pt"));
        try (Safetensors.Reader r = Safetensors.open(fs(), f)) {
            assertEquals(Map.of("format", "pt"), r.metadata());
            assertEquals(List.of("a", "aT", "big"), List.copyOf(r.tensors().keySet()));
            assertBitsEqual(a, r.read("a"));
            assertBitsEqual(big, r.read("big"));
            // aT in the file is the transpose: file(i, j) = a(j, i)
            float[] aT = r.read("aT");
            for (int i = 0; i < 5; i++) {
                for (int j = 0; j < 3; j++) {
                    assertEquals(Float.floatToRawIntBits(a[j * 5 + i]), Float.floatToRawIntBits(aT[i * 3 + j]));
                }
            }
            float[] back = new float[2 + 15];
            r.readTransposed("aT", back, 2);
            assertBitsEqual(a, Arrays.copyOfRange(back, 2, 17));
            float[] part = new float[4];
            r.readRange("big", 699_998, 3, part, 1);
            assertEquals(big[699_999], part[2]);
        }
        byte[] file = Files.readAllBytes(tmp.resolve("a.safetensors"));
        long n = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + n) % 8, "header padded to 8-byte alignment");
        assertEquals(8 + n + 4L * (15 + 15 + big.length), file.length);
    }

    @Test
    void f16AndBf16RoundTripWithinHalfAnUlp() throws IOException {
        float[] a = random(10_000, 3);
        Path f = path("h.safetensors");
        Safetensors.write(fs(), f, List.of(
                Safetensors.Tensor.of("h", Safetensors.Dtype.F16, new int[] {100, 100}, a, 0),
                Safetensors.Tensor.of("b", Safetensors.Dtype.BF16, new int[] {10_000}, a, 0)), Map.of());
        try (Safetensors.Reader r = Safetensors.open(fs(), f)) {
            assertEquals(2L * 10_000, r.info("h").end() - r.info("h").begin());
            float[] h = r.read("h");
            float[] b = r.read("b");
            for (int i = 0; i < a.length; i++) {
                float x = Math.abs(a[i]);
                if (x > 0x1p-14f) { // F16 normal range: relative error <= 2^-11
                    assertTrue(Math.abs(h[i] - a[i]) <= x * 0x1p-11f, "F16 at " + i + ": " + a[i] + " -> " + h[i]);
                }
                assertTrue(Math.abs(b[i] - a[i]) <= x * 0x1p-8f, "BF16 at " + i + ": " + a[i] + " -> " + b[i]);
            }
        }
    }

    @Test
    void halfConversionIsExactBackAndForthAndRoundsToNearestEven() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = Safetensors.halfToFloat((short) bits);
            if (!Float.isNaN(f)) {
                assertEquals(bits, Safetensors.floatToHalf(f) & 0xffff, "half " + Integer.toHexString(bits));
            } else {
                assertTrue(Float.isNaN(Safetensors.halfToFloat(Safetensors.floatToHalf(f))));
            }
        }
        assertEquals(1f, h(1f + 0x1p-11f), "tie to even (down)");
        assertEquals(1f + 0x1p-9f, h(1f + 3 * 0x1p-11f), "tie to even (up)");
        assertEquals(1f + 0x1p-10f, h(1f + 0x1p-11f + 0x1p-20f), "above the tie rounds up");
        assertEquals(65504f, h(65519f));
        assertEquals(Float.POSITIVE_INFINITY, h(65520f), "65520 ties to 65536 = infinity");
        assertEquals(0f, h(0x1p-25f), "half the smallest subnormal ties to zero");
        assertEquals(0x1p-24f, h(0x1.01p-25f));
        assertEquals(2 * 0x1p-24f, h(2.5f * 0x1p-24f), "subnormal tie to even (down)");
        assertEquals(4 * 0x1p-24f, h(3.5f * 0x1p-24f), "subnormal tie to even (up)");
        assertEquals(0x8000, Safetensors.floatToHalf(-1e-30f) & 0xffff, "tiny negatives keep their sign");
        // nearest: for random floats no representable neighbour is closer
        Random r = new Random(4);
        for (int i = 0; i < 100_000; i++) {
            float x = (float) (r.nextGaussian() * Math.pow(2, r.nextInt(40) - 25));
            short s = Safetensors.floatToHalf(x);
            float y = Safetensors.halfToFloat(s);
            if (Float.isInfinite(y)) {
                assertTrue(Math.abs(x) >= 65520f, "overflow only past 65520: " + x);
                continue;
            }
            float up = Safetensors.halfToFloat((short) (s + 1));
            float down = Safetensors.halfToFloat((short) (s - 1));
            assertTrue(Math.abs(y - x) <= Math.abs(up - x) || Float.isNaN(up), x + " -> " + y + " vs " + up);
            if ((s & 0x7fff) != 0) {
                assertTrue(Math.abs(y - x) <= Math.abs(down - x), x + " -> " + y + " vs " + down);
            }
        }
    }

    @Test
    void bf16RoundsToNearestEvenAndKeepsNaN() {
        assertEquals(1f, b(1f + 0x1p-8f), "tie to even (down)");
        assertEquals(1f + 0x1p-6f, b(1f + 3 * 0x1p-8f), "tie to even (up)");
        assertEquals(1f + 0x1p-7f, b(1f + 0x1p-8f + 0x1p-20f));
        assertEquals(Float.POSITIVE_INFINITY, b(Float.MAX_VALUE));
        assertTrue(Float.isNaN(b(Float.intBitsToFloat(0x7f800001))), "NaN with a low payload stays NaN");
        assertEquals(-2.5f, b(-2.5f));
    }

    private static float h(float x) {
        return Safetensors.halfToFloat(Safetensors.floatToHalf(x));
    }

    private static float b(float x) {
        return Safetensors.bf16ToFloat(Safetensors.floatToBf16(x));
    }

    // ---------------------------------------------------------------- corrupt files

    private String failOpen(byte[] bytes) throws IOException {
        java.nio.file.Path p = tmp.resolve("bad-" + System.nanoTime() + ".safetensors");
        Files.write(p, bytes);
        CheckpointFormatException e = assertThrows(CheckpointFormatException.class, () -> {
            try (Safetensors.Reader r = Safetensors.open(fs(), new Path(p.toUri()))) {
                for (String name : r.tensors().keySet()) {
                    r.read(name);
                }
            }
        });
        assertTrue(e.getMessage().contains(p.getFileName().toString()), "names the file: " + e.getMessage());
        return e.getMessage();
    }

    private static RawSafetensors good() {
        return new RawSafetensors().f32("w", new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6});
    }

    private static void assertContains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "expected '" + p + "' in: " + message);
        }
    }

    @Test
    void truncatedFilesAreReported() throws IOException {
        byte[] ok = good().bytes();
        assertContains(failOpen(Arrays.copyOf(ok, ok.length - 4)), "'w'", "past the end of the data area");
        assertContains(failOpen(Arrays.copyOf(ok, 5)), "5 bytes", "truncated");
        assertContains(failOpen(new byte[0]), "0 bytes");
        assertContains(failOpen(Arrays.copyOf(ok, 20)), "exceeds the file size");
    }

    @Test
    void badHeaderLengthIsReportedWithoutAllocatingIt() throws IOException {
        byte[] ok = good().bytes();
        byte[] huge = ok.clone();
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 0x7fff_ffff_ffff_fff0L);
        assertContains(failOpen(huge), "exceeds the limit of 100000000 bytes");
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1L);
        assertContains(failOpen(huge), "18446744073709551615", "exceeds the limit");
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 99_000_000L);
        assertContains(failOpen(huge), "header length 99000000 exceeds the file size");
    }

    @Test
    void headerThatIsNotJsonIsReported() throws IOException {
        assertContains(failOpen(good().withHeader("{\"w\": {\"dtype\": ")), "not valid JSON");
        assertContains(failOpen(good().withHeader("[1, 2, 3]")), "not a JSON object");
        assertContains(failOpen(good().withHeader("{} trailing")), "not valid JSON");
        assertContains(failOpen(good().withHeader("{\"w\":1,\"w\":2}")), "not valid JSON", "w");
        assertContains(failOpen(good().withHeader("{\"__metadata__\":{\"format\":1}}")), "__metadata__", "format");
    }

    @Test
    void headerBytesThatAreNotUtf8AreReportedEvenWhereJacksonWouldDecodeThem() throws IOException {
        // an overlong NUL (C0 80) and an encoded surrogate (ED A0 80) in a tensor name: Jackson reads
        // them as characters, and the tensors loaded as "w\0" and "w\uD800"
        for (byte[] notUtf8 : new byte[][] {{(byte) 0xc0, (byte) 0x80}, {(byte) 0xed, (byte) 0xa0, (byte) 0x80}}) {
            RawSafetensors f = good();
            String marker = "~".repeat(notUtf8.length);
            byte[] bytes = f.withHeader(f.headerJson().replace("\"w\"", "\"w" + marker + "\""));
            int at = new String(bytes, StandardCharsets.ISO_8859_1).indexOf(marker);
            System.arraycopy(notUtf8, 0, bytes, at, notUtf8.length);
            assertContains(failOpen(bytes), "header is not valid UTF-8");
        }
    }

    @Test
    void offsetsPastTheEndOrOverlappingAreReported() throws IOException {
        assertContains(failOpen(good().entry("x", "F32", new long[] {2}, 24, 32).bytes()),
                "'x'", "[24, 32]", "past the end of the data area (24 bytes");
        assertContains(failOpen(good().pad(8).entry("x", "F32", new long[] {2}, 20, 28).bytes()),
                "'w'", "'x'", "overlap");
        assertContains(failOpen(good().entry("x", "F32", new long[] {2}, 16, 8).bytes()), "end before begin");
        assertContains(failOpen(good().entry("x", "F32", new long[] {2}, -8, 0).bytes()), "'x'", "non-negative");
    }

    @Test
    void tensorsThatDoNotFillTheDataAreaExactlyAreReported() throws IOException {
        // a header padded with a space (as writers pad to 8 bytes) and its length one byte short: the
        // JSON still parses, and every tensor would be read one byte early
        RawSafetensors two = good().f32("x", new long[] {2}, new float[] {7, 8});
        byte[] shifted = two.withHeader(two.headerJson() + " ");
        ByteBuffer.wrap(shifted).order(ByteOrder.LITTLE_ENDIAN).putLong(0, two.headerJson().length());
        assertContains(failOpen(shifted), "fill 32 bytes of the data area but it holds 33");
        assertContains(failOpen(good().pad(4).bytes()), "fill 24 bytes of the data area but it holds 28",
                "trailing bytes");
        assertContains(failOpen(good().pad(8).entry("x", "F32", new long[] {2}, 28, 36).pad(8).bytes()),
                "'x'", "[28, 36]", "bytes [24, 28) of the data area unused");
        assertContains(failOpen(new RawSafetensors().pad(4).entry("w", "F32", new long[] {1}, 4, 8).pad(4).bytes()
                ), "'w'", "bytes [0, 4) of the data area unused");
    }

    @Test
    void shapesThatDisagreeWithOffsetsOrOverflowAreReported() throws IOException {
        assertContains(failOpen(new RawSafetensors().pad(24).entry("w", "F32", new long[] {2, 4}, 0, 24).bytes()),
                "'w'", "span 24 bytes", "F32 shape [2, 4] needs 32");
        assertContains(failOpen(new RawSafetensors().pad(8)
                .entry("w", "F32", new long[] {1L << 40, 1L << 40}, 0, 8).bytes()), "'w'", "64 bits");
        assertContains(failOpen(new RawSafetensors().pad(8)
                .entry("w", "F64", new long[] {1L << 61}, 0, 8).bytes()), "'w'", "too large");
        assertContains(failOpen(new RawSafetensors().pad(8).entry("w", "F32", new long[] {-2}, 0, 8).bytes()),
                "'w'", "shape");
    }

    @Test
    void unknownOrUnreadableDtypeIsReported() throws IOException {
        assertContains(failOpen(new RawSafetensors().raw("w", "F33", new long[] {2}, new byte[8]).bytes()),
                "'w'", "unknown dtype 'F33'");
        assertContains(failOpen(new RawSafetensors().raw("ids", "I64", new long[] {1}, new byte[8]).bytes()),
                "'ids'", "dtype I64", "only F32, F16 and BF16");
    }

    private static void assertBitsEqual(float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                assertArrayEquals(expected, actual, "first difference at " + i);
            }
        }
    }
}
