package rlhf.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import rlhf.data.Examples;
import rlhf.spark.TestSpark;
import rlhf.tokenizer.BpeTokenizer;
import rlhf.tokenizer.ByteTokenizer;

/**
 * train.off_prompt_pairs: which row lends its best answer to which, that the pairing does not
 * depend on partitions, and the prompt group an off-prompt answer makes.
 */
class OffPromptPairsTest {

    private static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = TestSpark.local(2, "off-prompt-pairs-test");
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @Test
    void aRowNeverLendsToItselfAndEveryLenderIsARow() {
        for (long n : new long[] {2, 3, 7, 1000}) {
            for (long i = 0; i < n; i++) {
                long j = PreferenceGroups.lender(i, n, 1234);
                assertTrue(j >= 0 && j < n && j != i, "row " + i + " of " + n + " borrows from " + j);
            }
        }
        assertEquals(1, PreferenceGroups.lender(0, 2, 99));
        assertEquals(0, PreferenceGroups.lender(1, 2, 99));
    }

    private static List<PreferenceGroups.TextGroup> rows() {
        List<PreferenceGroups.TextGroup> rows = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            // rows 10 and 11 repeat the prompt of rows 0 and 1: a lender with the same prompt lends nothing
            int p = i < 10 ? i : i - 10;
            rows.add(new PreferenceGroups.TextGroup("prompt " + p + ":", List.of(" good " + i, " bad " + i), new int[] {0, 1},
                    0, "row " + i));
        }
        return rows;
    }

    private static List<PreferenceGroups.TextGroup> borrowed(int partitions, long seed) {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<PreferenceGroups.TextGroup> rows = rows();
        Examples<PreferenceGroups.TextGroup> ex = new Examples<>(sc.parallelize(rows, partitions), rows.size(), 0,
                java.util.Map.of(), List.of());
        return PreferenceGroups.withOffPromptAnswers(ex, seed).rdd().collect();
    }

    @Test
    void eachRowBorrowsTheBestAnswerOfItsLenderWhateverThePartitions() {
        List<PreferenceGroups.TextGroup> one = borrowed(1, 7);
        List<PreferenceGroups.TextGroup> five = borrowed(5, 7);
        List<PreferenceGroups.TextGroup> rows = rows();
        assertEquals(rows.size(), one.size());
        int lent = 0;
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(rows.get(i).where(), one.get(i).where(), "rows keep their order");
            assertEquals(one.get(i).offPrompt(), five.get(i).offPrompt(), "row " + i + ": 1 vs 5 partitions");
            PreferenceGroups.TextGroup lender = rows.get((int) PreferenceGroups.lender(i, rows.size(), 7));
            if (lender.prompt().equals(rows.get(i).prompt())) {
                assertNull(one.get(i).offPrompt(), "row " + i + ": a lender with the same prompt lends nothing");
            } else {
                assertEquals(lender.best(), one.get(i).offPrompt(), "row " + i);
                lent++;
            }
        }
        assertTrue(lent >= 8, "most rows borrow an answer: " + lent);
        List<String> otherSeed = borrowed(2, 8).stream().map(PreferenceGroups.TextGroup::offPrompt).toList();
        assertNotEquals(one.stream().map(PreferenceGroups.TextGroup::offPrompt).toList(), otherSeed,
                "the pairing follows train.seed");
    }

    @Test
    void theOffPromptAnswerFollowsThisPromptAndRanksBelowTheBestAnswer() throws Exception {
        BpeTokenizer tok = ByteTokenizer.of();
        PreferenceGroups.TextGroup text = new PreferenceGroups.TextGroup("Q:", List.of(" no", " yes"), new int[] {1, 0},
                0.5, "row 3", " other");
        PromptGroup g = PreferenceGroups.convert(tok, text, 16).group();
        assertTrue(g.offPrompt());
        assertEquals(3, g.answers());
        assertEquals(2, g.ownAnswers());
        assertEquals(tok.encode("Q:").length, g.promptLength(), "every answer starts with the prompt's tokens");
        int[] off = g.sequences()[2];
        assertArrayEquals(concat(tok.encode("Q:"), tok.encode(" other"), tok.eosId()), off);
        assertArrayEquals(new int[] {1, 1}, g.better(), "the row's best answer (1) in both pairs");
        assertArrayEquals(new int[] {0, 2}, g.worse());
        assertArrayEquals(new double[] {0.5, 0}, g.margin(), "the row's margin on its own pair only");

        // an off-prompt answer longer than the context is left out; the row's own pair stays
        PreferenceGroups.TextGroup longer = new PreferenceGroups.TextGroup("Q:", List.of(" no", " yes"),
                new int[] {1, 0}, 0, "row 4", " a much longer answer than fits");
        PromptGroup kept = PreferenceGroups.convert(tok, longer, 16).group();
        assertFalse(kept.offPrompt());
        assertEquals(2, kept.answers());
    }

    private static int[] concat(int[] a, int[] b, int last) {
        int[] out = new int[a.length + b.length + 1];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        out[out.length - 1] = last;
        return out;
    }
}
