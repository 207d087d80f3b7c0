package rlhf.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

/**
 * A minimal safetensors writer for tests, independent of the production writer: the header is
 * built as a string, the data by hand, so that a bug in {@link Safetensors} cannot hide itself.
 * Also writes deliberately broken files.
 */
final class RawSafetensors {
    private final List<String> entries = new ArrayList<>();
    private final ByteArrayOutputStream data = new ByteArrayOutputStream();

    /** F32 values in file (row-major) order. */
    RawSafetensors f32(String name, long[] shape, float[] values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return raw(name, "F32", shape, b.array());
    }

    /** F16 of values that are exactly representable normals or zero: plain repacking of the bit fields. */
    RawSafetensors f16Exact(String name, long[] shape, float[] values) {
        ByteBuffer b = ByteBuffer.allocate(2 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            int bits = Float.floatToIntBits(v);
            int sign = (bits >>> 16) & 0x8000;
            int h;
            if (v == 0f) {
                h = sign;
            } else {
                int exp = ((bits >>> 23) & 0xff) - 127 + 15;
                int mant = bits & 0x7fffff;
                if (exp <= 0 || exp >= 31 || (mant & 0x1fff) != 0) {
                    throw new IllegalArgumentException(v + " is not exact in F16");
                }
                h = sign | (exp << 10) | (mant >>> 13);
            }
            b.putShort((short) h);
        }
        return raw(name, "F16", shape, b.array());
    }

    /** Any entry: the bytes are appended to the data area and the offsets point at them. */
    RawSafetensors raw(String name, String dtype, long[] shape, byte[] bytes) {
        long begin = data.size();
        data.writeBytes(bytes);
        return entry(name, dtype, shape, begin, data.size());
    }

    /** An entry with arbitrary offsets (for broken files); adds no data. */
    RawSafetensors entry(String name, String dtype, long[] shape, long begin, long end) {
        StringBuilder s = new StringBuilder();
        s.append('"').append(name).append("\":{\"dtype\":\"").append(dtype).append("\",\"shape\":[");
        for (int i = 0; i < shape.length; i++) {
            s.append(i > 0 ? "," : "").append(shape[i]);
        }
        s.append("],\"data_offsets\":[").append(begin).append(',').append(end).append("]}");
        entries.add(s.toString());
        return this;
    }

    RawSafetensors pad(int bytes) {
        data.writeBytes(new byte[bytes]);
        return this;
    }

    String headerJson() {
        return "{\"__metadata__\":{\"format\":\"pt\"}," + String.join(",", entries) + "}";
    }

    byte[] bytes() {
        return withHeader(headerJson());
    }

    /** The file with this header text (unpadded) and the data written so far. */
    byte[] withHeader(String header) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.size()).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data.toByteArray());
        return b.array();
    }

    void write(java.nio.file.Path file) throws IOException {
        Files.write(file, bytes());
    }
}
