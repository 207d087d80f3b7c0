package rlhf.tokenizer;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BpeTrainerTest {

    static SparkSession spark;
    static JavaSparkContext jsc;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("BpeTrainerTest")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
        jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    static final String[] WORDS = {"the", "the", "the", "model", "model", "reward", "policy", "token", "and", "and",
        "of", "is", "learning", "human", "feedback", "Spark", "value", "gradient", "step", "we", "it's", "don't"};

    /** Seeded sentences over a small vocabulary, with some digits, punctuation and CJK. */
    static List<String> corpus(int lines) {
        SplittableRandom rnd = new SplittableRandom(11);
        List<String> out = new ArrayList<>();
        for (int l = 0; l < lines; l++) {
            StringBuilder sb = new StringBuilder();
            for (int i = 3 + rnd.nextInt(12); i > 0; i--) {
                if (sb.length() > 0) {
                    sb.append(' ');
                }
                sb.append(WORDS[rnd.nextInt(WORDS.length)]);
            }
            sb.append(rnd.nextInt(4) == 0 ? " " + rnd.nextInt(1000) + "." : rnd.nextBoolean() ? "." : "!\n");
            if (l % 17 == 0) {
                sb.append(" \u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8");
            }
            out.add(sb.toString());
        }
        return out;
    }

    static byte[][] files(BpeTokenizer tok) throws Exception {
        ByteArrayOutputStream v = new ByteArrayOutputStream();
        ByteArrayOutputStream m = new ByteArrayOutputStream();
        tok.save(v, m);
        return new byte[][] {v.toByteArray(), m.toByteArray()};
    }

    @Test
    void trainsOnSparkDeterministicallyToTheAskedSize() throws Exception {
        List<String> lines = corpus(1500);
        BpeTokenizer a = BpeTrainer.train(jsc.parallelize(lines, 2), 400);
        BpeTokenizer b = BpeTrainer.train(spark.createDataset(jsc.parallelize(lines, 3).rdd(), Encoders.STRING()), 400);

        assertEquals(400, a.vocabSize());
        assertEquals(399, a.eosId());
        assertEquals("<|endoftext|>", a.tokenString(399));
        byte[][] fa = files(a);
        assertArrayEquals(fa[0], files(b)[0], "vocab.json: RDD of 2 partitions vs Dataset of 3");
        assertArrayEquals(fa[1], files(b)[1], "merges.txt: RDD of 2 partitions vs Dataset of 3");

        // GPT-2's format: the same 256 byte tokens first, loadable by the same loader
        BpeTokenizer gpt2 = Gpt2Files.gpt2();
        for (int i = 0; i < 256; i++) {
            assertEquals(gpt2.tokenString(i), a.tokenString(i), "byte token " + i);
        }
        BpeTokenizer loaded = BpeTokenizer.load(new ByteArrayInputStream(fa[0]), new ByteArrayInputStream(fa[1]), "v", "m");
        assertEquals(400, loaded.vocabSize());

        // frequent words became single tokens; everything round trips, seen or not
        for (String w : new String[] {" the", " model", " reward", " policy", " learning", " feedback", "the"}) {
            assertEquals(1, a.encode(w).length, "tokens of \"" + w + "\"");
        }
        // the tokenizer itself travels in a Spark closure (Java serialization)
        int onExecutors = jsc.parallelize(lines, 2).map(s -> a.encode(s).length).reduce(Integer::sum);
        assertEquals(lines.stream().mapToInt(s -> a.encode(s).length).sum(), onExecutors, "tokens counted on executors");

        List<String> texts = new ArrayList<>(lines.subList(0, 200));
        texts.addAll(List.of("unseen words \u4e2d\u6587 \ud83d\udc68\u200d\ud83d\udcbb\tx\r\n  ", "", "<|endoftext|>"));
        for (String s : texts) {
            int[] ids = a.encode(s);
            assertEquals(s, a.decode(ids));
            assertArrayEquals(ids, loaded.encode(s));
        }
    }

    /**
     * Sennrich et al.'s example, merges worked out by hand: pair counts are lo 7, ow 7, we 8,
     * es 9, st 9, ...; ties go to the smaller pair of byte values ('e','s' before 's','t').
     */
    @Test
    void learnsTheHandComputedMergesOfTheClassicExample() throws Exception {
        Map<String, Long> counts = new LinkedHashMap<>();
        counts.put("low", 5L);
        counts.put("lower", 2L);
        counts.put("newest", 6L);
        counts.put("widest", 3L);
        BpeTokenizer tok = BpeTrainer.trainOnCounts(counts, 257 + 8, 2);
        String merges = new String(files(tok)[1], StandardCharsets.UTF_8);
        assertEquals("#version: 0.2\ne s\nes t\nl o\nlo w\ne w\nn ew\nnew est\nd est\n", merges);
        assertEquals(1, tok.encode("newest").length);
        assertEquals(3, tok.encode("widest").length); // w, i, dest ("wi" is never merged)
    }

    @Test
    void stopsEarlyWhenNoPairIsFrequentEnoughAndRejectsTinySizes() {
        Map<String, Long> counts = Map.of("ab", 1L, "cd", 1L);
        assertEquals(257, BpeTrainer.trainOnCounts(counts, 300, 2).vocabSize());
        assertEquals(259, BpeTrainer.trainOnCounts(counts, 300, 1).vocabSize());
        assertThrows(IllegalArgumentException.class, () -> BpeTrainer.trainOnCounts(counts, 256, 2));
    }
}
