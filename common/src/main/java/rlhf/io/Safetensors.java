package rlhf.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Reader and writer of the safetensors format, the weight file of the Hugging Face hub.
 *
 * <pre>
 * [8 bytes] N, unsigned little-endian
 * [N bytes] JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *                 "__metadata__": {"key": "value"}}, padded with spaces so that 8 + N is a multiple of 8
 * [rest]    data; offsets are relative to the byte after the header, little-endian elements
 * </pre>
 *
 * <p>Why so strict: a checkpoint may come from anywhere, so the header is checked before any
 * data is touched (size limit, JSON, dtype, shape overflow, offsets inside the data and
 * disjoint, byte span equal to numel * dtype size, together filling the data area exactly, so that
 * a header length off by a byte cannot shift every tensor). A hostile header gives an error that
 * names the file and tensor, never an OutOfMemoryError or a hang. Tensors are streamed in 1 MiB reads
 * from an {@code FSDataInputStream} straight into the caller's {@code float[]} slice, so a 500 MB
 * file needs no second copy in memory.
 *
 * <p>F32, F16 and BF16 are read (converted to float); the other dtypes are recognised, so a
 * file holding e.g. integer buffers parses, but cannot be read as floats. Writing uses F32 by
 * default, F16 or BF16 on request, rounding to nearest even.
 */
public final class Safetensors {

    /** Largest header accepted, as the reference implementation: 100 MB. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final String METADATA = "__metadata__";
    private static final int CHUNK_BYTES = 1 << 20;

    static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Safetensors() {
    }

    /** Element types of the format, with their size in bytes. */
    public enum Dtype {
        BOOL(1), U8(1), I8(1), F8_E4M3(1), F8_E5M2(1), I16(2), U16(2), F16(2), BF16(2),
        I32(4), U32(4), F32(4), I64(8), U64(8), F64(8);

        private final int size;

        Dtype(int size) {
            this.size = size;
        }

        public int size() {
            return size;
        }

        /** Whether tensors of this dtype can be read into, and written from, float[]. */
        public boolean isFloat() {
            return this == F32 || this == F16 || this == BF16;
        }

        static Dtype parse(String s) {
            for (Dtype d : values()) {
                if (d.name().equals(s)) {
                    return d;
                }
            }
            return null;
        }
    }

    /** One tensor's header entry; begin/end are byte offsets relative to the data area. */
    public record TensorInfo(String name, Dtype dtype, long[] shape, long numel, long begin, long end) {
        public String shapeString() {
            return Arrays.toString(shape);
        }
    }

    /**
     * A tensor to write: {@code shape} is the shape in the file. The values are
     * {@code data[offset ..]} in row-major order of {@code shape}, or, when {@code sourceTransposed},
     * a 2-D source stored as {@code [shape[1], shape[0]]} that is transposed while writing (how our
     * {@code [out, in]} linear weights become Hugging Face Conv1D {@code [in, out]} without a copy).
     */
    public record Tensor(String name, Dtype dtype, int[] shape, float[] data, int offset, boolean sourceTransposed) {
        public static Tensor of(String name, Dtype dtype, int[] shape, float[] data, int offset) {
            return new Tensor(name, dtype, shape, data, offset, false);
        }

        long numel() {
            long n = 1;
            for (int d : shape) {
                n *= d;
            }
            return n;
        }
    }

    // ---------------------------------------------------------------- reading

    /** Opens the file and validates its header; the caller closes the reader. */
    public static Reader open(FileSystem fs, Path path) throws IOException {
        return new Reader(fs, path);
    }

    /** An open safetensors file whose header has passed every check. */
    public static final class Reader implements Closeable {
        private final String file;
        private final FSDataInputStream in;
        private final long dataStart;
        private final Map<String, TensorInfo> tensors;
        private final Map<String, String> metadata;
        private final byte[] buf = new byte[CHUNK_BYTES];
        private final ByteBuffer bb = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
        private float[] scratch;

        private Reader(FileSystem fs, Path path) throws IOException {
            this.file = path.toString();
            long fileSize = fs.getFileStatus(path).getLen();
            if (fileSize < 8) {
                throw error("file is " + fileSize + " bytes long; a safetensors file starts with an 8-byte header"
                        + " length (truncated or empty file)");
            }
            this.in = fs.open(path);
            try {
                byte[] len = new byte[8];
                in.readFully(len);
                long n = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
                if (n < 0 || n > MAX_HEADER_BYTES) {
                    throw error("header length " + Long.toUnsignedString(n) + " exceeds the limit of "
                            + MAX_HEADER_BYTES + " bytes (corrupt file or not safetensors)");
                }
                if (8 + n > fileSize) {
                    throw error("header length " + n + " exceeds the file size " + fileSize
                            + " (truncated file or not safetensors)");
                }
                if (n < 2) {
                    throw error("header length " + n + " is too small for a JSON object");
                }
                byte[] header = new byte[(int) n];
                in.readFully(header);
                this.dataStart = 8 + n;
                Map<String, String> meta = new LinkedHashMap<>();
                this.tensors = Collections.unmodifiableMap(parseHeader(header, fileSize - dataStart, meta));
                this.metadata = Collections.unmodifiableMap(meta);
            } catch (IOException | RuntimeException e) {
                in.close();
                throw e;
            }
        }

        private Map<String, TensorInfo> parseHeader(byte[] header, long dataSize, Map<String, String> meta)
                throws CheckpointFormatException {
            // decoded strictly first: Jackson takes some invalid UTF-8 (overlong forms, encoded
            // surrogates) as characters, so "a\xC0\x80.bias" would be read as a tensor "a\0.bias"
            String text = new TextFiles.StrictUtf8().decode(header);
            if (text == null) {
                throw error("header is not valid UTF-8");
            }
            JsonNode root;
            try {
                root = JSON.readTree(text);
            } catch (JsonProcessingException e) {
                throw error("header is not valid JSON: " + e.getOriginalMessage());
            }
            if (root == null || !root.isObject()) {
                throw error("header is not a JSON object");
            }
            Map<String, TensorInfo> out = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getKey().equals(METADATA)) {
                    parseMetadata(e.getValue(), meta);
                } else {
                    out.put(e.getKey(), parseEntry(e.getKey(), e.getValue(), dataSize));
                }
            }
            List<TensorInfo> byBegin = new ArrayList<>();
            for (TensorInfo t : out.values()) {
                if (t.end() > t.begin()) {
                    byBegin.add(t);
                }
            }
            byBegin.sort(Comparator.comparingLong(TensorInfo::begin));
            // the tensors must fill the data area exactly, as the format (and its reference reader)
            // requires: a gap or spare bytes mean the header and the data disagree, e.g. a header
            // length one byte short, which would otherwise read every tensor shifted by a byte
            long covered = 0;
            for (int i = 0; i < byBegin.size(); i++) {
                TensorInfo b = byBegin.get(i);
                if (i > 0 && b.begin() < covered) {
                    TensorInfo a = byBegin.get(i - 1);
                    throw error("tensors '" + a.name() + "' data_offsets [" + a.begin() + ", " + a.end() + "] and '"
                            + b.name() + "' data_offsets [" + b.begin() + ", " + b.end() + "] overlap");
                }
                if (b.begin() != covered) {
                    throw error("tensor '" + b.name() + "' data_offsets [" + b.begin() + ", " + b.end() + "] leave bytes ["
                            + covered + ", " + b.begin() + ") of the data area unused; the tensors must fill it "
                            + "exactly (wrong header length or offsets?)");
                }
                covered = b.end();
            }
            if (covered != dataSize) {
                throw error("the tensors fill " + covered + " bytes of the data area but it holds " + dataSize
                        + " after the header; they must fill it exactly (wrong header length, or trailing bytes?)");
            }
            return out;
        }

        private void parseMetadata(JsonNode node, Map<String, String> meta) throws CheckpointFormatException {
            if (!node.isObject()) {
                throw error("__metadata__ must be an object of strings, found " + node.getNodeType());
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isTextual()) {
                    throw error("__metadata__ key '" + e.getKey() + "' must be a string, found "
                            + e.getValue().getNodeType());
                }
                meta.put(e.getKey(), e.getValue().textValue());
            }
        }

        private TensorInfo parseEntry(String name, JsonNode node, long dataSize) throws CheckpointFormatException {
            if (!node.isObject()) {
                throw error("tensor '" + name + "': entry must be an object, found " + node.getNodeType());
            }
            JsonNode dt = node.get("dtype");
            if (dt == null || !dt.isTextual()) {
                throw error("tensor '" + name + "': missing or non-string 'dtype'");
            }
            Dtype dtype = Dtype.parse(dt.textValue());
            if (dtype == null) {
                throw error("tensor '" + name + "': unknown dtype '" + dt.textValue() + "', expected one of "
                        + Arrays.toString(Dtype.values()));
            }
            JsonNode sh = node.get("shape");
            if (sh == null || !sh.isArray()) {
                throw error("tensor '" + name + "': missing or non-array 'shape'");
            }
            long[] shape = new long[sh.size()];
            long numel = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = nonNegativeLong(name, "shape", sh.get(i));
                try {
                    numel = Math.multiplyExact(numel, shape[i]);
                } catch (ArithmeticException overflow) {
                    throw error("tensor '" + name + "': shape " + sh + " has more elements than fit in 64 bits");
                }
            }
            JsonNode off = node.get("data_offsets");
            if (off == null || !off.isArray() || off.size() != 2) {
                throw error("tensor '" + name + "': 'data_offsets' must be an array [begin, end], found " + off);
            }
            long begin = nonNegativeLong(name, "data_offsets", off.get(0));
            long end = nonNegativeLong(name, "data_offsets", off.get(1));
            if (end < begin) {
                throw error("tensor '" + name + "': data_offsets [" + begin + ", " + end + "] end before begin");
            }
            if (end > dataSize) {
                throw error("tensor '" + name + "': data_offsets [" + begin + ", " + end
                        + "] past the end of the data area (" + dataSize + " bytes; truncated file?)");
            }
            long bytes;
            try {
                bytes = Math.multiplyExact(numel, (long) dtype.size());
            } catch (ArithmeticException overflow) {
                throw error("tensor '" + name + "': shape " + sh + " is too large");
            }
            if (end - begin != bytes) {
                throw error("tensor '" + name + "': data_offsets [" + begin + ", " + end + "] span " + (end - begin)
                        + " bytes but dtype " + dtype + " shape " + Arrays.toString(shape) + " needs " + bytes);
            }
            return new TensorInfo(name, dtype, shape, numel, begin, end);
        }

        private long nonNegativeLong(String name, String key, JsonNode v) throws CheckpointFormatException {
            if (v == null || !v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw error("tensor '" + name + "': '" + key + "' must hold non-negative 64-bit integers, found " + v);
            }
            return v.longValue();
        }

        /** The file this reader reads, for messages. */
        public String file() {
            return file;
        }

        /** Every tensor in header order. */
        public Map<String, TensorInfo> tensors() {
            return tensors;
        }

        public Map<String, String> metadata() {
            return metadata;
        }

        public boolean has(String name) {
            return tensors.containsKey(name);
        }

        /** The header entry of that tensor; an error naming the file when absent. */
        public TensorInfo info(String name) throws CheckpointFormatException {
            TensorInfo t = tensors.get(name);
            if (t == null) {
                throw error("missing tensor '" + name + "'");
            }
            return t;
        }

        /** Reads the whole tensor, in file order, into {@code dst[off ..]}. */
        public void read(String name, float[] dst, int off) throws IOException {
            TensorInfo t = info(name);
            readRange(name, 0, checkedNumel(t), dst, off);
        }

        /** A new array with the whole tensor in file order. */
        public float[] read(String name) throws IOException {
            float[] out = new float[checkedNumel(info(name))];
            read(name, out, 0);
            return out;
        }

        /** Reads elements {@code [first, first + n)} of the tensor (file order) into {@code dst[off ..]}. */
        public void readRange(String name, long first, int n, float[] dst, int off) throws IOException {
            TensorInfo t = info(name);
            requireFloat(t);
            if (first < 0 || n < 0 || first + n > t.numel()) {
                throw new IllegalArgumentException("range [" + first + ", " + (first + n) + ") outside tensor '"
                        + name + "' of " + t.numel() + " elements");
            }
            if (off < 0 || off + n > dst.length) {
                throw new IllegalArgumentException("destination [" + off + ", " + (off + n) + ") outside float["
                        + dst.length + "] for tensor '" + name + "'");
            }
            int es = t.dtype().size();
            int perChunk = CHUNK_BYTES / es;
            long pos = dataStart + t.begin() + first * es;
            for (int done = 0; done < n; ) {
                int k = Math.min(perChunk, n - done);
                fill(pos, k * es, name);
                decode(t.dtype(), k, dst, off + done);
                pos += (long) k * es;
                done += k;
            }
        }

        /**
         * Reads a 2-D tensor stored {@code [a, b]} into {@code dst[off ..]} as its transpose
         * {@code [b, a]}: how Hugging Face Conv1D {@code [in, out]} becomes our {@code [out, in]}.
         */
        public void readTransposed(String name, float[] dst, int off) throws IOException {
            TensorInfo t = info(name);
            requireFloat(t);
            if (t.shape().length != 2) {
                throw error("tensor '" + name + "': expected 2 dimensions to transpose, found shape "
                        + t.shapeString());
            }
            int n = checkedNumel(t);
            if (off < 0 || off + n > dst.length) {
                throw new IllegalArgumentException("destination [" + off + ", " + (off + n) + ") outside float["
                        + dst.length + "] for tensor '" + name + "'");
            }
            int a = (int) t.shape()[0];
            int b = (int) t.shape()[1];
            int es = t.dtype().size();
            int perChunk = CHUNK_BYTES / es;
            if (scratch == null) {
                scratch = new float[CHUNK_BYTES / 2];
            }
            long pos = dataStart + t.begin();
            int i = 0;
            int j = 0; // file element (i, j) goes to dst[off + j*a + i]
            for (int done = 0; done < n; ) {
                int k = Math.min(perChunk, n - done);
                fill(pos, k * es, name);
                decode(t.dtype(), k, scratch, 0);
                for (int e = 0; e < k; e++) {
                    dst[off + j * a + i] = scratch[e];
                    if (++j == b) {
                        j = 0;
                        i++;
                    }
                }
                pos += (long) k * es;
                done += k;
            }
        }

        private int checkedNumel(TensorInfo t) throws CheckpointFormatException {
            if (t.numel() > Integer.MAX_VALUE - 8) {
                throw error("tensor '" + t.name() + "' has " + t.numel() + " elements, more than one float[] holds");
            }
            return (int) t.numel();
        }

        private void requireFloat(TensorInfo t) throws CheckpointFormatException {
            if (!t.dtype().isFloat()) {
                throw error("tensor '" + t.name() + "' has dtype " + t.dtype()
                        + "; only F32, F16 and BF16 can be read as floats");
            }
        }

        /**
         * Reads {@code len} bytes at {@code pos}. A seek (a no-op when already there) then a
         * sequential read, rather than a positioned read: tensors are read in file order, and object
         * store streams (s3a) keep one forward-reading connection that way.
         */
        private void fill(long pos, int len, String name) throws IOException {
            try {
                if (in.getPos() != pos) {
                    in.seek(pos);
                }
                in.readFully(buf, 0, len);
            } catch (EOFException e) {
                throw error("tensor '" + name + "': unexpected end of file at byte " + pos
                        + " (file truncated while being read?)");
            }
        }

        private void decode(Dtype dtype, int k, float[] dst, int off) {
            switch (dtype) {
                case F32 -> bb.asFloatBuffer().get(dst, off, k);
                case F16 -> {
                    for (int e = 0; e < k; e++) {
                        dst[off + e] = halfToFloat(bb.getShort(2 * e));
                    }
                }
                case BF16 -> {
                    for (int e = 0; e < k; e++) {
                        dst[off + e] = bf16ToFloat(bb.getShort(2 * e));
                    }
                }
                default -> throw new IllegalStateException(dtype.toString());
            }
        }

        CheckpointFormatException error(String what) {
            return new CheckpointFormatException("safetensors file " + file + ": " + what);
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    // ---------------------------------------------------------------- writing

    /**
     * Writes the tensors, in the given order, contiguous after the header; {@code metadata} goes
     * to {@code __metadata__} (Hugging Face's loader wants {@code "format": "pt"}).
     */
    public static void write(FileSystem fs, Path path, List<Tensor> tensors, Map<String, String> metadata)
            throws IOException {
        ObjectNode root = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = root.putObject(METADATA);
            metadata.forEach(m::put);
        }
        Set<String> names = new HashSet<>();
        long offset = 0;
        for (Tensor t : tensors) {
            if (t.name().equals(METADATA) || !names.add(t.name())) {
                throw new IllegalArgumentException("duplicate or reserved tensor name '" + t.name() + "' for " + path);
            }
            if (!t.dtype().isFloat()) {
                throw new IllegalArgumentException("tensor '" + t.name() + "': can only write F32, F16 or BF16, not "
                        + t.dtype());
            }
            if (t.sourceTransposed() && t.shape().length != 2) {
                throw new IllegalArgumentException("tensor '" + t.name() + "': only 2-D tensors can be transposed");
            }
            for (int d : t.shape()) {
                if (d < 0) {
                    throw new IllegalArgumentException("tensor '" + t.name() + "': negative dimension in shape "
                            + Arrays.toString(t.shape()));
                }
            }
            long n = t.numel();
            if (t.offset() < 0 || t.offset() + n > t.data().length) {
                throw new IllegalArgumentException("tensor '" + t.name() + "' of shape " + Arrays.toString(t.shape())
                        + " needs " + n + " floats from offset " + t.offset() + ", source has " + t.data().length);
            }
            ObjectNode e = root.putObject(t.name());
            e.put("dtype", t.dtype().name());
            ArrayNode shape = e.putArray("shape");
            for (int d : t.shape()) {
                shape.add(d);
            }
            long end = offset + n * t.dtype().size();
            e.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json = JSON.writeValueAsBytes(root);
        int padded = (json.length + 7) / 8 * 8;
        byte[] header = Arrays.copyOf(json, padded);
        Arrays.fill(header, json.length, padded, (byte) ' ');

        byte[] buf = new byte[CHUNK_BYTES];
        ByteBuffer bb = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
        float[] gather = null;
        try (FSDataOutputStream out = fs.create(path, true)) {
            bb.putLong(0, padded);
            out.write(buf, 0, 8);
            out.write(header);
            for (Tensor t : tensors) {
                int es = t.dtype().size();
                int perChunk = CHUNK_BYTES / es;
                int n = (int) t.numel();
                if (t.sourceTransposed() && gather == null) {
                    gather = new float[CHUNK_BYTES / 2];
                }
                int a = t.shape().length == 2 ? t.shape()[0] : 0;
                int b = t.shape().length == 2 ? t.shape()[1] : 0;
                int i = 0;
                int j = 0; // file element (i, j) is source[offset + j*a + i] when transposed
                for (int done = 0; done < n; ) {
                    int k = Math.min(perChunk, n - done);
                    float[] src = t.data();
                    int srcOff = t.offset() + done;
                    if (t.sourceTransposed()) {
                        for (int e = 0; e < k; e++) {
                            gather[e] = t.data()[t.offset() + j * a + i];
                            if (++j == b) {
                                j = 0;
                                i++;
                            }
                        }
                        src = gather;
                        srcOff = 0;
                    }
                    encode(t.dtype(), bb, src, srcOff, k);
                    out.write(buf, 0, k * es);
                    done += k;
                }
            }
        }
    }

    private static void encode(Dtype dtype, ByteBuffer bb, float[] src, int off, int k) {
        switch (dtype) {
            case F32 -> bb.asFloatBuffer().put(src, off, k);
            case F16 -> {
                for (int e = 0; e < k; e++) {
                    bb.putShort(2 * e, floatToHalf(src[off + e]));
                }
            }
            case BF16 -> {
                for (int e = 0; e < k; e++) {
                    bb.putShort(2 * e, floatToBf16(src[off + e]));
                }
            }
            default -> throw new IllegalStateException(dtype.toString());
        }
    }

    // ---------------------------------------------------------------- 16-bit floats

    /** IEEE binary16 to float (exact). */
    public static float halfToFloat(short h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0) {
            float v = mant * 0x1p-24f; // zero or subnormal
            return sign != 0 ? -v : v;
        }
        if (exp == 31) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** Float to IEEE binary16, rounding to nearest even; overflow gives infinity, NaN stays NaN. */
    public static short floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xff;
        int mant = bits & 0x7fffff;
        if (exp == 0xff) {
            return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 | (mant >>> 13) : 0));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1f) {
            return (short) (sign | 0x7c00);
        }
        if (e <= 0) {
            if (e < -10) {
                return (short) sign; // below half the smallest subnormal: rounds to zero
            }
            int m = mant | 0x800000;
            int shift = 14 - e; // 14..24 bits dropped
            int h = m >>> shift;
            int rem = m & ((1 << shift) - 1);
            int half = 1 << (shift - 1);
            if (rem > half || (rem == half && (h & 1) != 0)) {
                h++;
            }
            return (short) (sign | h);
        }
        int h = (e << 10) | (mant >>> 13);
        int rem = mant & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1) != 0)) {
            h++; // may carry into the exponent, up to infinity: correct rounding
        }
        return (short) (sign | h);
    }

    /** bfloat16 to float (exact). */
    public static float bf16ToFloat(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }

    /** Float to bfloat16, rounding to nearest even; NaN stays a quiet NaN. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }
}
