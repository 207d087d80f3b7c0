package rlhf.tokenizer;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import scala.Tuple2;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Trains a byte-level BPE in GPT-2's format from a corpus.
 *
 * <p>Executors split each element of the corpus with GPT-2's {@link PreTokenizer} and count the
 * pieces (counted per partition, then {@code reduceByKey}); the driver collects the distinct
 * pieces with their counts and learns the merges: repeatedly the most frequent adjacent pair
 * (ties: the smaller pair of token ids, so the result depends on nothing but the corpus),
 * updating pair counts incrementally in only the pieces that contain it. Training stops at the
 * asked vocabulary size, or earlier when no pair occurs {@code minPairCount} times.
 *
 * <p>Vocabulary order as GPT-2's: the 256 byte tokens in GPT-2's byte order, then one token per
 * merge in merge order, then {@code <|endoftext|>} last. Deterministic: the same corpus gives
 * the same files however it is partitioned.
 */
public final class BpeTrainer {

    /** Pairs seen fewer times than this are never merged (by default). */
    public static final int DEFAULT_MIN_PAIR_COUNT = 2;

    private BpeTrainer() {
    }

    public static BpeTokenizer train(Dataset<String> corpus, int vocabSize) {
        return train(corpus.javaRDD(), vocabSize);
    }

    /**
     * Train to {@code vocabSize} tokens (bytes + merges + EOS, at least 257). Each element is split
     * on its own (pieces never cross elements; a line read without its newline has none).
     */
    public static BpeTokenizer train(JavaRDD<String> corpus, int vocabSize) {
        return train(corpus, vocabSize, DEFAULT_MIN_PAIR_COUNT);
    }

    /** As {@link #train(JavaRDD, int)}; pairs seen fewer than {@code minPairCount} times are never merged. */
    public static BpeTokenizer train(JavaRDD<String> corpus, int vocabSize, int minPairCount) {
        checkVocabSize(vocabSize);
        List<Tuple2<String, Long>> counts = corpus
                .mapPartitionsToPair(BpeTrainer::countPieces)
                .reduceByKey(Long::sum)
                .collect();
        Map<String, Long> map = new HashMap<>(counts.size() * 2);
        for (Tuple2<String, Long> t : counts) {
            map.put(t._1(), t._2());
        }
        return trainOnCounts(map, vocabSize, minPairCount);
    }

    /** Pieces of a partition's texts with their counts (combined before the shuffle). */
    static Iterator<Tuple2<String, Long>> countPieces(Iterator<String> texts) {
        Map<String, long[]> local = new HashMap<>();
        while (texts.hasNext()) {
            String s = texts.next();
            if (s == null) {
                continue;
            }
            for (int i = 0, n = s.length(); i < n; ) {
                int end = PreTokenizer.pieceEnd(s, i, n);
                local.computeIfAbsent(s.substring(i, end), k -> new long[1])[0]++;
                i = end;
            }
        }
        List<Tuple2<String, Long>> out = new ArrayList<>(local.size());
        for (Map.Entry<String, long[]> e : local.entrySet()) {
            out.add(new Tuple2<>(e.getKey(), e.getValue()[0]));
        }
        return out.iterator();
    }

    private static void checkVocabSize(int vocabSize) {
        if (vocabSize < 257) {
            throw new IllegalArgumentException("vocabSize must be >= 257 (256 bytes + EOS), found " + vocabSize);
        }
    }

    /** Count of one adjacent pair and the pieces it (may) occur in. */
    private static final class PairStat {
        long count;
        int[] words = new int[4];
        int n;

        void addWord(int w) {
            if (n > 0 && words[n - 1] == w) {
                return;
            }
            if (n == words.length) {
                words = Arrays.copyOf(words, n * 2);
            }
            words[n++] = w;
        }
    }

    /** The driver's part: learn merges from piece counts. */
    static BpeTokenizer trainOnCounts(Map<String, Long> pieceCounts, int vocabSize, int minPairCount) {
        checkVocabSize(vocabSize);
        // Pieces in a fixed order; symbols are internal ids: byte value, or 256 + new token index.
        String[] pieces = pieceCounts.keySet().toArray(new String[0]);
        Arrays.sort(pieces);
        int[][] words = new int[pieces.length][];
        int[] lens = new int[pieces.length];
        long[] counts = new long[pieces.length];
        for (int w = 0; w < pieces.length; w++) {
            byte[] b = utf8(pieces[w]);
            words[w] = new int[b.length];
            for (int i = 0; i < b.length; i++) {
                words[w][i] = b[i] & 0xFF;
            }
            lens[w] = b.length;
            counts[w] = pieceCounts.get(pieces[w]);
        }

        List<byte[]> newTokens = new ArrayList<>();
        Map<String, Integer> tokenIndex = new HashMap<>(); // latin-1 view of bytes -> internal id
        List<int[]> merges = new ArrayList<>();

        Map<Long, PairStat> stats = new HashMap<>();
        for (int w = 0; w < words.length; w++) {
            for (int i = 0; i + 1 < lens[w]; i++) {
                PairStat s = stats.computeIfAbsent(key(words[w][i], words[w][i + 1]), k -> new PairStat());
                s.count += counts[w];
                s.addWord(w);
            }
        }
        // max count first, then the smaller (left, right)
        PriorityQueue<long[]> heap = new PriorityQueue<>((x, y) -> x[0] != y[0] ? Long.compare(y[0], x[0]) : Long.compare(x[1], y[1]));
        for (Map.Entry<Long, PairStat> e : stats.entrySet()) {
            heap.add(new long[] {e.getValue().count, e.getKey()});
        }

        int target = vocabSize - 257;
        while (newTokens.size() < target && !heap.isEmpty()) {
            long[] top = heap.poll();
            PairStat s = stats.get(top[1]);
            if (s == null || s.count != top[0]) {
                if (s != null && s.count < top[0] && s.count > 0) {
                    heap.add(new long[] {s.count, top[1]}); // count went down since pushed
                }
                continue;
            }
            if (s.count < minPairCount) {
                break;
            }
            int a = (int) (top[1] >>> 32);
            int b = (int) top[1];
            byte[] ab = concat(tokenBytes(a, newTokens), tokenBytes(b, newTokens));
            String abKey = new String(ab, StandardCharsets.ISO_8859_1);
            Integer existing = tokenIndex.get(abKey); // the same bytes from another split
            int c;
            if (existing != null) {
                c = existing;
            } else {
                c = 256 + newTokens.size();
                newTokens.add(ab);
                tokenIndex.put(abKey, c);
            }
            merges.add(new int[] {a, b, c});
            stats.remove(top[1]);

            // re-count the pieces that contain (a, b): remove their old pairs, merge, add new ones
            for (int k = 0; k < s.n; k++) {
                int w = s.words[k];
                int[] word = words[w];
                int len = lens[w];
                boolean has = false;
                for (int i = 0; i + 1 < len && !has; i++) {
                    has = word[i] == a && word[i + 1] == b;
                }
                if (!has) {
                    continue;
                }
                long cnt = counts[w];
                for (int i = 0; i + 1 < len; i++) {
                    long pk = key(word[i], word[i + 1]);
                    PairStat ps = stats.get(pk);
                    if (ps != null) {
                        ps.count -= cnt;
                    }
                }
                int out = 0;
                for (int i = 0; i < len; ) {
                    if (i + 1 < len && word[i] == a && word[i + 1] == b) {
                        word[out++] = c;
                        i += 2;
                    } else {
                        word[out++] = word[i++];
                    }
                }
                lens[w] = len = out;
                for (int i = 0; i + 1 < len; i++) {
                    long pk = key(word[i], word[i + 1]);
                    PairStat ps = stats.computeIfAbsent(pk, x -> new PairStat());
                    ps.count += cnt;
                    if (word[i] == c || word[i + 1] == c) {
                        ps.addWord(w);
                        heap.add(new long[] {ps.count, pk});
                    }
                }
            }
        }
        return build(newTokens, merges);
    }

    /** Internal ids -> GPT-2 ids: bytes in GPT-2's byte order, new tokens after, EOS last. */
    private static BpeTokenizer build(List<byte[]> newTokens, List<int[]> merges) {
        int[] byteToFinal = new int[256];
        byte[][] tokenBytes = new byte[256 + newTokens.size() + 1][];
        for (int i = 0; i < 256; i++) {
            byteToFinal[BpeTokenizer.BYTE_ORDER[i]] = i;
            tokenBytes[i] = new byte[] {(byte) BpeTokenizer.BYTE_ORDER[i]};
        }
        for (int k = 0; k < newTokens.size(); k++) {
            tokenBytes[256 + k] = newTokens.get(k);
        }
        int eos = tokenBytes.length - 1;
        tokenBytes[eos] = BpeTokenizer.EOS.getBytes(StandardCharsets.US_ASCII);
        int[] left = new int[merges.size()];
        int[] right = new int[merges.size()];
        int[] result = new int[merges.size()];
        for (int r = 0; r < left.length; r++) {
            int[] m = merges.get(r);
            left[r] = m[0] < 256 ? byteToFinal[m[0]] : m[0];
            right[r] = m[1] < 256 ? byteToFinal[m[1]] : m[1];
            result[r] = m[2];
        }
        return new BpeTokenizer(tokenBytes, left, right, result, eos);
    }

    private static long key(int left, int right) {
        return ((long) left << 32) | right;
    }

    private static byte[] tokenBytes(int id, List<byte[]> newTokens) {
        return id < 256 ? new byte[] {(byte) id} : newTokens.get(id - 256);
    }

    private static byte[] concat(byte[] x, byte[] y) {
        byte[] z = Arrays.copyOf(x, x.length + y.length);
        System.arraycopy(y, 0, z, x.length, y.length);
        return z;
    }

    /** UTF-8 with a lone surrogate as U+FFFD, as BpeTokenizer.encode does. */
    private static byte[] utf8(String piece) {
        StringBuilder fixed = null;
        for (int i = 0; i < piece.length(); ) {
            int cp = piece.codePointAt(i);
            int next = i + Character.charCount(cp);
            boolean lone = cp >= Character.MIN_SURROGATE && cp <= Character.MAX_SURROGATE;
            if (lone && fixed == null) {
                fixed = new StringBuilder(piece.substring(0, i));
            }
            if (fixed != null) {
                fixed.appendCodePoint(lone ? 0xFFFD : cp);
            }
            i = next;
        }
        return (fixed == null ? piece : fixed.toString()).getBytes(StandardCharsets.UTF_8);
    }
}
