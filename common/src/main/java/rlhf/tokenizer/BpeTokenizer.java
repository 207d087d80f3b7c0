package rlhf.tokenizer;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.ObjectStreamException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Serializable;
import java.io.Writer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Byte-level BPE, GPT-2's tokenizer: reads and writes GPT-2's {@code vocab.json} +
 * {@code merges.txt} and encodes exactly as GPT-2 does.
 *
 * <p>encode: {@link PreTokenizer} pieces -> UTF-8 bytes -> one token per byte -> merge adjacent
 * pairs, lowest merge rank first (all occurrences of that pair left to right, then the next
 * lowest), as OpenAI's {@code encoder.py}. Results for pieces up to {@value #CACHE_MAX_CHARS}
 * chars are cached. A lone surrogate in the input is encoded as U+FFFD.
 *
 * <p>{@code <|endoftext|>} is the EOS and padding token. {@link #encode(String)} treats that
 * string in user text as ordinary text; {@link #encode(String, boolean)} with {@code true}
 * maps its literal occurrences to {@link #eosId()}.
 *
 * <p>Thread-safe; each thread that encodes keeps its own piece cache (up to 64K pieces, a few
 * MB). {@link Serializable} for Spark closures and broadcasts: the serialized form
 * is the token bytes and the merges (about 1 MB for GPT-2); the pair table and the cache are
 * rebuilt on deserialization. Files on disk are only ever vocab.json + merges.txt.
 */
public final class BpeTokenizer implements Serializable {

    private static final long serialVersionUID = 1L;

    public static final String EOS = "<|endoftext|>";
    public static final String VOCAB_FILE = "vocab.json";
    public static final String MERGES_FILE = "merges.txt";
    static final String MERGES_HEADER = "#version: 0.2";

    static final int CACHE_MAX_CHARS = 64;
    private static final int CACHE_MAX_ENTRIES = 1 << 16;
    /** Pieces longer than this (in bytes) use the O(n log n) heap merge instead of rescanning. */
    private static final int HEAP_MIN_BYTES = 48;

    // ---- GPT-2's byte <-> unicode table ---------------------------------------------------

    /** BYTE_ORDER[i] is the byte whose token comes i-th in GPT-2's vocabulary. */
    static final int[] BYTE_ORDER = new int[256];
    /** BYTE_CHAR[b] is the printable char GPT-2 writes for byte b in vocab.json / merges.txt. */
    static final char[] BYTE_CHAR = new char[256];
    /** Inverse of BYTE_CHAR, -1 where undefined (chars < 324). */
    private static final int[] CHAR_BYTE = new int[324];

    static {
        boolean[] printable = new boolean[256];
        int k = 0;
        for (int b = 0; b < 256; b++) {
            printable[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            if (printable[b]) {
                BYTE_ORDER[k++] = b;
                BYTE_CHAR[b] = (char) b;
            }
        }
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            if (!printable[b]) {
                BYTE_ORDER[k++] = b;
                BYTE_CHAR[b] = (char) (256 + extra++);
            }
        }
        Arrays.fill(CHAR_BYTE, -1);
        for (int b = 0; b < 256; b++) {
            CHAR_BYTE[BYTE_CHAR[b]] = b;
        }
    }

    // ---- state (serialized) -------------------------------------------------------------------

    /** tokenBytes[id]: the bytes token id stands for. */
    private final byte[][] tokenBytes;
    /** byteId[b]: the token of the single byte b. */
    private final int[] byteId;
    /** Merge of rank r: mergeLeft[r] + mergeRight[r] -> mergeResult[r]. */
    private final int[] mergeLeft;
    private final int[] mergeRight;
    private final int[] mergeResult;
    private final int eosId;

    // ---- derived (rebuilt on deserialization) ------------------------------------------------

    /** Open-addressing table (left << 32 | right) -> rank; keys -1 where empty. */
    private transient long[] pairKeys;
    private transient int[] pairRanks;
    private transient int pairMask;
    /** True when every merge's inputs are produced only by lower-ranked merges (see bpeHeap). */
    private transient boolean monotone;
    /** Per-thread piece cache: no locking, no allocation on a hit. */
    private transient ThreadLocal<PieceCache> cache;

    BpeTokenizer(byte[][] tokenBytes, int[] mergeLeft, int[] mergeRight, int[] mergeResult, int eosId) {
        this.tokenBytes = tokenBytes;
        this.mergeLeft = mergeLeft;
        this.mergeRight = mergeRight;
        this.mergeResult = mergeResult;
        this.eosId = eosId;
        this.byteId = new int[256];
        Arrays.fill(byteId, -1);
        for (int id = 0; id < tokenBytes.length; id++) {
            byte[] t = tokenBytes[id];
            if (t.length == 1 && byteId[t[0] & 0xFF] < 0) {
                byteId[t[0] & 0xFF] = id;
            }
        }
        for (int b = 0; b < 256; b++) {
            if (byteId[b] < 0) {
                throw new IllegalArgumentException("vocabulary has no token for the single byte " + b
                        + " (expected key \"" + BYTE_CHAR[b] + "\")");
            }
        }
        if (eosId < 0 || eosId >= tokenBytes.length) {
            throw new IllegalArgumentException("EOS id " + eosId + " outside the vocabulary of " + tokenBytes.length);
        }
        buildDerived();
    }

    private void buildDerived() {
        int n = mergeLeft.length;
        int cap = Integer.highestOneBit(Math.max(4, n * 2)) << 1;
        pairKeys = new long[cap];
        pairRanks = new int[cap];
        pairMask = cap - 1;
        Arrays.fill(pairKeys, -1L);
        // rank at which each token is last produced, -1 for tokens no merge produces
        int[] lastMade = new int[tokenBytes.length];
        Arrays.fill(lastMade, -1);
        boolean mono = true;
        for (int r = 0; r < n; r++) {
            long key = pairKey(mergeLeft[r], mergeRight[r]);
            int slot = slot(key);
            while (pairKeys[slot] != -1L && pairKeys[slot] != key) {
                slot = (slot + 1) & pairMask;
            }
            if (pairKeys[slot] == -1L) { // a repeated pair keeps its first (lowest) rank
                pairKeys[slot] = key;
                pairRanks[slot] = r;
            }
            mono &= lastMade[mergeLeft[r]] < r && lastMade[mergeRight[r]] < r;
            lastMade[mergeResult[r]] = r;
        }
        monotone = mono;
        cache = ThreadLocal.withInitial(PieceCache::new);
    }

    private Object readResolve() throws ObjectStreamException {
        buildDerived();
        return this;
    }

    private static long pairKey(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & pairMask;
    }

    /** Merge rank of the adjacent pair (left, right), Integer.MAX_VALUE if none. */
    private int rank(int left, int right) {
        long key = pairKey(left, right);
        int slot = slot(key);
        long k;
        while ((k = pairKeys[slot]) != -1L) {
            if (k == key) {
                return pairRanks[slot];
            }
            slot = (slot + 1) & pairMask;
        }
        return Integer.MAX_VALUE;
    }

    // ---- API ------------------------------------------------------------------------------------

    public int eosId() {
        return eosId;
    }

    /** Number of token ids, EOS included (50257 for GPT-2). */
    public int vocabSize() {
        return tokenBytes.length;
    }

    public int mergeCount() {
        return mergeLeft.length;
    }

    /** The bytes of one token (a copy). */
    public byte[] tokenBytes(int id) {
        checkId(id, -1);
        return tokenBytes[id].clone();
    }

    /** GPT-2's printable form of a token, as in vocab.json (e.g. "Ġthe"). */
    public String tokenString(int id) {
        checkId(id, -1);
        return bytesToPrintable(tokenBytes[id]);
    }

    /** Encode user text; {@code <|endoftext|>} inside it is ordinary text. */
    public int[] encode(String text) {
        return encode(text, false);
    }

    /**
     * Encode text; with {@code allowEos}, each literal {@code <|endoftext|>} becomes {@link #eosId()}
     * (use only on text that you, not a user, put the marker in).
     */
    public int[] encode(String text, boolean allowEos) {
        IntBuffer out = new IntBuffer(Math.max(16, text.length() / 3));
        if (!allowEos) {
            encodeOrdinary(text, 0, text.length(), out);
        } else {
            int from = 0;
            int at;
            while ((at = text.indexOf(EOS, from)) >= 0) {
                encodeOrdinary(text, from, at, out);
                out.add(eosId);
                from = at + EOS.length();
            }
            encodeOrdinary(text, from, text.length(), out);
        }
        return out.toArray();
    }

    private void encodeOrdinary(String text, int from, int to, IntBuffer out) {
        PieceCache pc = cache.get();
        int i = from;
        while (i < to) {
            int end = PreTokenizer.pieceEnd(text, i, to);
            if (end - i <= CACHE_MAX_CHARS) {
                int[] ids = pc.get(text, i, end);
                if (ids == null) {
                    ids = encodePiece(text, i, end);
                    pc.put(text.substring(i, end), ids);
                }
                out.addAll(ids, ids.length);
            } else {
                int[] ids = encodePiece(text, i, end);
                out.addAll(ids, ids.length);
            }
            i = end;
        }
    }

    /** BPE of one piece text[from, to). */
    private int[] encodePiece(String text, int from, int to) {
        int[] ids = new int[(to - from) * 3]; // at most 3 UTF-8 bytes per char
        int n = 0;
        for (int i = from; i < to; ) {
            int cp = Character.codePointAt(text, i);
            i += Character.charCount(cp);
            if (cp >= Character.MIN_SURROGATE && cp <= Character.MAX_SURROGATE) {
                cp = 0xFFFD; // lone surrogate: not encodable as UTF-8
            }
            if (cp < 0x80) {
                ids[n++] = byteId[cp];
            } else if (cp < 0x800) {
                ids[n++] = byteId[0xC0 | (cp >> 6)];
                ids[n++] = byteId[0x80 | (cp & 0x3F)];
            } else if (cp < 0x10000) {
                ids[n++] = byteId[0xE0 | (cp >> 12)];
                ids[n++] = byteId[0x80 | ((cp >> 6) & 0x3F)];
                ids[n++] = byteId[0x80 | (cp & 0x3F)];
            } else { // a surrogate pair: 2 chars, 4 bytes
                ids[n++] = byteId[0xF0 | (cp >> 18)];
                ids[n++] = byteId[0x80 | ((cp >> 12) & 0x3F)];
                ids[n++] = byteId[0x80 | ((cp >> 6) & 0x3F)];
                ids[n++] = byteId[0x80 | (cp & 0x3F)];
            }
        }
        int len = n >= HEAP_MIN_BYTES && monotone ? bpeHeap(ids, n) : bpeScan(ids, n);
        return Arrays.copyOf(ids, len);
    }

    /**
     * OpenAI's loop: find the lowest-ranked adjacent pair, merge all its occurrences left to
     * right, repeat. In place on ids[0, n); returns the new length. O(n^2) lookups.
     */
    private int bpeScan(int[] ids, int n) {
        while (n > 1) {
            int best = Integer.MAX_VALUE;
            for (int p = 0; p + 1 < n; p++) {
                int r = rank(ids[p], ids[p + 1]);
                if (r < best) {
                    best = r;
                }
            }
            if (best == Integer.MAX_VALUE) {
                break;
            }
            int a = mergeLeft[best];
            int b = mergeRight[best];
            int c = mergeResult[best];
            int w = 0;
            for (int p = 0; p < n; ) {
                if (p + 1 < n && ids[p] == a && ids[p + 1] == b) {
                    ids[w++] = c;
                    p += 2;
                } else {
                    ids[w++] = ids[p++];
                }
            }
            n = w;
        }
        return n;
    }

    /**
     * The same result in O(n log n) for long pieces: a heap of (rank, position) over a linked
     * list. Equal to {@link #bpeScan} when the merges are monotone (a merge's inputs are made
     * only by lower ranks, true of GPT-2's and of trained files): a merge then only creates pairs
     * of higher rank, so the heap pops every occurrence of the current rank, left to right,
     * before any other.
     */
    private int bpeHeap(int[] ids, int n) {
        int[] next = new int[n];
        int[] prev = new int[n];
        long[] heap = new long[n];
        int size = 0;
        for (int p = 0; p < n; p++) {
            next[p] = p + 1 < n ? p + 1 : -1;
            prev[p] = p - 1;
            if (p + 1 < n) {
                int r = rank(ids[p], ids[p + 1]);
                if (r != Integer.MAX_VALUE) {
                    size = heapPush(heap, size, ((long) r << 32) | p);
                }
            }
        }
        boolean[] dead = new boolean[n];
        while (size > 0) {
            long top = heap[0];
            size = heapPop(heap, size);
            int r = (int) (top >>> 32);
            int p = (int) top;
            int q = next[p];
            if (dead[p] || q < 0 || ids[p] != mergeLeft[r] || ids[q] != mergeRight[r]) {
                continue; // stale
            }
            ids[p] = mergeResult[r];
            dead[q] = true;
            next[p] = next[q];
            if (next[q] >= 0) {
                prev[next[q]] = p;
            }
            if (prev[p] >= 0) {
                int rr = rank(ids[prev[p]], ids[p]);
                if (rr != Integer.MAX_VALUE) {
                    if (size == heap.length) {
                        heap = Arrays.copyOf(heap, size * 2);
                    }
                    size = heapPush(heap, size, ((long) rr << 32) | prev[p]);
                }
            }
            if (next[p] >= 0) {
                int rr = rank(ids[p], ids[next[p]]);
                if (rr != Integer.MAX_VALUE) {
                    if (size == heap.length) {
                        heap = Arrays.copyOf(heap, size * 2);
                    }
                    size = heapPush(heap, size, ((long) rr << 32) | p);
                }
            }
        }
        int w = 0;
        for (int p = 0; p >= 0; p = next[p]) {
            ids[w++] = ids[p];
        }
        return w;
    }

    private static int heapPush(long[] heap, int size, long v) {
        int i = size;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (heap[parent] <= v) {
                break;
            }
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = v;
        return size + 1;
    }

    private static int heapPop(long[] heap, int size) {
        long v = heap[--size];
        int i = 0;
        while (true) {
            int c = 2 * i + 1;
            if (c >= size) {
                break;
            }
            if (c + 1 < size && heap[c + 1] < heap[c]) {
                c++;
            }
            if (heap[c] >= v) {
                break;
            }
            heap[i] = heap[c];
            i = c;
        }
        if (size > 0) {
            heap[i] = v;
        }
        return size;
    }

    /** The bytes of ids[from, to): may end (or start) inside a UTF-8 character. */
    public byte[] decodeBytes(int[] ids, int from, int to) {
        if (from < 0 || to > ids.length || from > to) {
            throw new IndexOutOfBoundsException("range [" + from + ", " + to + ") of " + ids.length + " ids");
        }
        int len = 0;
        for (int i = from; i < to; i++) {
            checkId(ids[i], i);
            len += tokenBytes[ids[i]].length;
        }
        byte[] out = new byte[len];
        int o = 0;
        for (int i = from; i < to; i++) {
            byte[] t = tokenBytes[ids[i]];
            System.arraycopy(t, 0, out, o, t.length);
            o += t.length;
        }
        return out;
    }

    /** Text of ids[from, to); bytes that are not valid UTF-8 (a split character) become U+FFFD. */
    public String decode(int[] ids, int from, int to) {
        return new String(decodeBytes(ids, from, to), StandardCharsets.UTF_8);
    }

    public String decode(int[] ids) {
        return decode(ids, 0, ids.length);
    }

    private void checkId(int id, int index) {
        if (id < 0 || id >= tokenBytes.length) {
            throw new IllegalArgumentException("token id " + id + (index >= 0 ? " at index " + index : "")
                    + " outside the vocabulary [0, " + tokenBytes.length + ")");
        }
    }

    // ---- files ----------------------------------------------------------------------------------

    /** Load vocab.json + merges.txt from a local directory. */
    public static BpeTokenizer load(Path dir) throws IOException {
        return load(dir.resolve(VOCAB_FILE), dir.resolve(MERGES_FILE));
    }

    public static BpeTokenizer load(Path vocabJson, Path mergesTxt) throws IOException {
        try (InputStream v = Files.newInputStream(vocabJson); InputStream m = Files.newInputStream(mergesTxt)) {
            return load(v, m, vocabJson.toString(), mergesTxt.toString());
        }
    }

    /** Load from a directory on any Hadoop file system (file://, hdfs://, s3a://). */
    public static BpeTokenizer load(org.apache.hadoop.fs.FileSystem fs, org.apache.hadoop.fs.Path dir) throws IOException {
        org.apache.hadoop.fs.Path v = new org.apache.hadoop.fs.Path(dir, VOCAB_FILE);
        org.apache.hadoop.fs.Path m = new org.apache.hadoop.fs.Path(dir, MERGES_FILE);
        try (InputStream vin = fs.open(v); InputStream min = fs.open(m)) {
            return load(vin, min, v.toString(), m.toString());
        }
    }

    /** Load from streams (not closed); the names only appear in error messages. */
    public static BpeTokenizer load(InputStream vocabJson, InputStream mergesTxt, String vocabName, String mergesName)
            throws IOException {
        // vocab.json: {"token": id, ...}, ids dense from 0
        Map<String, Integer> vocab = new HashMap<>(1 << 16);
        try (JsonParser p = new ObjectMapper().getFactory().createParser(nonClosing(vocabJson))) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException(vocabName + ": expected a JSON object {\"token\": id, ...}, found " + p.currentToken());
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                if (p.nextToken() != JsonToken.VALUE_NUMBER_INT) {
                    throw new IOException(vocabName + ": key \"" + key + "\": expected an integer id, found " + p.currentToken());
                }
                Integer old = vocab.put(key, p.getIntValue());
                if (old != null) {
                    throw new IOException(vocabName + ": key \"" + key + "\" appears twice");
                }
            }
            if (p.currentToken() != JsonToken.END_OBJECT || p.nextToken() != null) {
                throw new IOException(vocabName + ": expected one JSON object {\"token\": id, ...}, found "
                        + p.currentToken() + " at line " + p.currentLocation().getLineNr() + ", column "
                        + p.currentLocation().getColumnNr());
            }
        } catch (JsonProcessingException e) {
            // a truncated or garbled file: Jackson's own message names no file
            throw new IOException(vocabName + ": not valid JSON: " + e.getOriginalMessage() + " (line "
                    + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")", e);
        }
        byte[][] tokens = new byte[vocab.size()][];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            int id = e.getValue();
            if (id < 0 || id >= tokens.length) {
                throw new IOException(vocabName + ": key \"" + e.getKey() + "\" has id " + id
                        + ", expected ids 0.." + (tokens.length - 1) + " (one per entry)");
            }
            if (tokens[id] != null) {
                throw new IOException(vocabName + ": id " + id + " is used by two keys, one is \"" + e.getKey() + "\"");
            }
            tokens[id] = printableToBytes(e.getKey(), vocabName);
        }
        Integer eos = vocab.get(EOS);
        if (eos == null) {
            throw new IOException(vocabName + ": no \"" + EOS + "\" entry (the EOS/padding token)");
        }

        // merges.txt: "#version: 0.2" then "left right" per line, rank = line order
        List<int[]> merges = new ArrayList<>(1 << 16);
        // decoded strictly: a lenient reader turns bytes that are not UTF-8 into U+FFFD, and a
        // mangled "#version" line would be skipped as if it were fine
        BufferedReader r = new BufferedReader(new InputStreamReader(nonClosing(mergesTxt), StandardCharsets.UTF_8
                .newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)));
        String line;
        int lineNo = 0;
        while ((line = nextLine(r, mergesName, lineNo)) != null) {
            lineNo++;
            if ((lineNo == 1 && line.startsWith("#version")) || line.isEmpty()) {
                continue;
            }
            int sp = line.indexOf(' ');
            if (sp <= 0 || sp == line.length() - 1 || line.indexOf(' ', sp + 1) >= 0) {
                throw new IOException(mergesName + " line " + lineNo + ": expected \"left right\", found \"" + line + "\"");
            }
            String a = line.substring(0, sp);
            String b = line.substring(sp + 1);
            Integer ia = vocab.get(a);
            Integer ib = vocab.get(b);
            Integer ic = vocab.get(a + b);
            if (ia == null || ib == null || ic == null) {
                String missing = ia == null ? a : ib == null ? b : a + b;
                throw new IOException(mergesName + " line " + lineNo + ": token \"" + missing + "\" of merge \""
                        + line + "\" is not in " + vocabName);
            }
            merges.add(new int[] {ia, ib, ic});
        }
        int[] left = new int[merges.size()];
        int[] right = new int[merges.size()];
        int[] result = new int[merges.size()];
        for (int i = 0; i < left.length; i++) {
            left[i] = merges.get(i)[0];
            right[i] = merges.get(i)[1];
            result[i] = merges.get(i)[2];
        }
        try {
            return new BpeTokenizer(tokens, left, right, result, eos);
        } catch (IllegalArgumentException e) {
            throw new IOException(vocabName + ": " + e.getMessage(), e);
        }
    }

    /** The next line of merges.txt, or null at its end; bytes that are not UTF-8 are an error naming the file. */
    private static String nextLine(BufferedReader r, String mergesName, int linesRead) throws IOException {
        try {
            return r.readLine();
        } catch (CharacterCodingException e) {
            // the reader decodes ahead of the lines it returns: the bad bytes are on this line or a later one
            throw new IOException(mergesName + ": not valid UTF-8 (at or after line " + (linesRead + 1) + ")", e);
        }
    }

    /** Save vocab.json + merges.txt to a local directory (created if needed). */
    public void save(Path dir) throws IOException {
        Files.createDirectories(dir);
        try (OutputStream v = Files.newOutputStream(dir.resolve(VOCAB_FILE));
             OutputStream m = Files.newOutputStream(dir.resolve(MERGES_FILE))) {
            save(v, m);
        }
    }

    /** Save to a directory on any Hadoop file system (files overwritten). */
    public void save(org.apache.hadoop.fs.FileSystem fs, org.apache.hadoop.fs.Path dir) throws IOException {
        fs.mkdirs(dir);
        try (OutputStream v = fs.create(new org.apache.hadoop.fs.Path(dir, VOCAB_FILE), true);
             OutputStream m = fs.create(new org.apache.hadoop.fs.Path(dir, MERGES_FILE), true)) {
            save(v, m);
        }
    }

    /**
     * Write GPT-2's formats (streams flushed, not closed): vocab.json as Python's
     * {@code json.dumps} writes it (one line, ", " and ": ", non-ASCII as \\uXXXX) with ids in
     * order, merges.txt as "#version: 0.2" then one "left right" line per merge. Saving the
     * GPT-2 files loaded gives them back byte for byte.
     */
    public void save(OutputStream vocabJson, OutputStream mergesTxt) throws IOException {
        Writer v = new BufferedWriter(new OutputStreamWriter(vocabJson, StandardCharsets.UTF_8), 1 << 16);
        v.write('{');
        for (int id = 0; id < tokenBytes.length; id++) {
            if (id > 0) {
                v.write(", ");
            }
            writeJsonString(v, bytesToPrintable(tokenBytes[id]));
            v.write(": ");
            v.write(Integer.toString(id));
        }
        v.write('}');
        v.flush();
        Writer m = new BufferedWriter(new OutputStreamWriter(mergesTxt, StandardCharsets.UTF_8), 1 << 16);
        m.write(MERGES_HEADER);
        m.write('\n');
        for (int r = 0; r < mergeLeft.length; r++) {
            m.write(bytesToPrintable(tokenBytes[mergeLeft[r]]));
            m.write(' ');
            m.write(bytesToPrintable(tokenBytes[mergeRight[r]]));
            m.write('\n');
        }
        m.flush();
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private static void writeJsonString(Writer w, String s) throws IOException {
        w.write('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': w.write("\\\""); break;
                case '\\': w.write("\\\\"); break;
                case '\n': w.write("\\n"); break;
                case '\r': w.write("\\r"); break;
                case '\t': w.write("\\t"); break;
                case '\b': w.write("\\b"); break;
                case '\f': w.write("\\f"); break;
                default:
                    if (c < 0x20 || c > 0x7E) {
                        w.write("\\u");
                        for (int shift = 12; shift >= 0; shift -= 4) {
                            w.write(HEX[(c >> shift) & 0xF]);
                        }
                    } else {
                        w.write(c);
                    }
            }
        }
        w.write('"');
    }

    static String bytesToPrintable(byte[] bytes) {
        char[] cs = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            cs[i] = BYTE_CHAR[bytes[i] & 0xFF];
        }
        return new String(cs);
    }

    static byte[] printableToBytes(String token, String where) throws IOException {
        byte[] out = new byte[token.length()];
        for (int i = 0; i < out.length; i++) {
            char c = token.charAt(i);
            int b = c < CHAR_BYTE.length ? CHAR_BYTE[c] : -1;
            if (b < 0) {
                throw new IOException(where + ": token \"" + token + "\" has char U+" + String.format("%04X", (int) c)
                        + " at " + i + ", which is not in GPT-2's byte-to-unicode table");
            }
            out[i] = (byte) b;
        }
        return out;
    }

    private static InputStream nonClosing(InputStream in) {
        return new java.io.FilterInputStream(in) {
            @Override
            public void close() {
            }
        };
    }

    /**
     * Open-addressing map piece -> ids, looked up by a range of the text so that a hit
     * allocates nothing. Cleared when half full (frequent pieces come back at once).
     */
    static final class PieceCache {
        final String[] keys = new String[2 * CACHE_MAX_ENTRIES];
        final int[][] values = new int[2 * CACHE_MAX_ENTRIES][];
        final int mask = keys.length - 1;
        int size;

        private static int hash(CharSequence s, int from, int to) {
            int h = 0;
            for (int i = from; i < to; i++) {
                h = 31 * h + s.charAt(i);
            }
            return h ^ (h >>> 16);
        }

        int[] get(String text, int from, int to) {
            int len = to - from;
            for (int slot = hash(text, from, to) & mask; ; slot = (slot + 1) & mask) {
                String k = keys[slot];
                if (k == null) {
                    return null;
                }
                if (k.length() == len && text.regionMatches(from, k, 0, len)) {
                    return values[slot];
                }
            }
        }

        void put(String piece, int[] ids) {
            if (size >= CACHE_MAX_ENTRIES) {
                Arrays.fill(keys, null);
                Arrays.fill(values, null);
                size = 0;
            }
            int slot = hash(piece, 0, piece.length()) & mask;
            while (keys[slot] != null) {
                slot = (slot + 1) & mask;
            }
            keys[slot] = piece;
            values[slot] = ids;
            size++;
        }
    }

    /** Growable int array. */
    static final class IntBuffer {
        int[] a;
        int size;

        IntBuffer(int cap) {
            a = new int[cap];
        }

        void add(int v) {
            if (size == a.length) {
                a = Arrays.copyOf(a, size * 2);
            }
            a[size++] = v;
        }

        void addAll(int[] v, int n) {
            if (size + n > a.length) {
                a = Arrays.copyOf(a, Math.max(size + n, a.length * 2));
            }
            System.arraycopy(v, 0, a, size, n);
            size += n;
        }

        int[] toArray() {
            return Arrays.copyOf(a, size);
        }
    }
}
