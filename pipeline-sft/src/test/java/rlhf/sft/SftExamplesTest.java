package rlhf.sft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import rlhf.data.Demonstration;
import rlhf.tokenizer.BpeTokenizer;

/** Tokenization, prompt masking, end-of-text, the over-long policies and packing, on byte tokens. */
class SftExamplesTest {

    private static final int EOS = 256;

    private static Demonstration demo(String prompt, String response) {
        return new Demonstration(prompt, response, "test.jsonl", 7);
    }

    @Test
    void promptIsMaskedAndEndOfTextIsAppended() throws Exception {
        BpeTokenizer tok = SftFixtures.byteTokenizer();
        SftExamples.Outcome o = SftExamples.tokenize(tok, demo("ab", "xy"), 16, SftExamples.Overlong.FAIL,
                SftExamples.LossOn.RESPONSE);
        // ids = a b x y EOS; inputs a b x y; targets: (b masked) x y EOS
        assertEquals(SftExamples.Kind.KEPT, o.kind());
        assertEquals(5, o.fullLength());
        assertArrayEquals(new int[] {'a', 'b', 'x', 'y'}, o.sequence().tokens());
        assertArrayEquals(new int[] {-1, 'x', 'y', EOS}, o.sequence().targets());

        SftExamples.Outcome all = SftExamples.tokenize(tok, demo("ab", "xy"), 16, SftExamples.Overlong.FAIL,
                SftExamples.LossOn.ALL);
        assertArrayEquals(new int[] {'b', 'x', 'y', EOS}, all.sequence().targets());
    }

    @Test
    void overlongExamplesAreTruncatedOrDroppedByPolicy() throws Exception {
        BpeTokenizer tok = SftFixtures.byteTokenizer();
        // 3 + 5 + 1 = 9 tokens in a context of 6
        SftExamples.Outcome t = SftExamples.tokenize(tok, demo("abc", "vwxyz"), 6, SftExamples.Overlong.TRUNCATE,
                SftExamples.LossOn.RESPONSE);
        assertEquals(SftExamples.Kind.TRUNCATED, t.kind());
        assertEquals(9, t.fullLength());
        assertArrayEquals(new int[] {'a', 'b', 'c', 'v', 'w'}, t.sequence().tokens());
        assertArrayEquals(new int[] {-1, -1, 'v', 'w', 'x'}, t.sequence().targets(), "cut at T tokens, no EOS");

        SftExamples.Outcome d = SftExamples.tokenize(tok, demo("abc", "vwxyz"), 6, SftExamples.Overlong.DROP,
                SftExamples.LossOn.RESPONSE);
        assertEquals(SftExamples.Kind.DROPPED_OVERLONG, d.kind());
        assertNull(d.sequence());

        SftExamples.Outcome p = SftExamples.tokenize(tok, demo("abcdefgh", "xy"), 6, SftExamples.Overlong.TRUNCATE,
                SftExamples.LossOn.RESPONSE);
        assertEquals(SftExamples.Kind.DROPPED_NO_RESPONSE, p.kind(), "the prompt alone fills the context");

        SftExamples.Outcome exact = SftExamples.tokenize(tok, demo("abc", "xy"), 6, SftExamples.Overlong.FAIL,
                SftExamples.LossOn.RESPONSE);
        assertEquals(SftExamples.Kind.KEPT, exact.kind(), "3 + 2 + 1 = 6 tokens fit a context of 6");
    }

    @Test
    void packingConcatenatesWithRestartingPositionsAndSegments() throws Exception {
        BpeTokenizer tok = SftFixtures.byteTokenizer();
        List<Sequence> in = new ArrayList<>();
        for (String[] pr : new String[][] {{"a", "b"}, {"cd", "e"}, {"fgh", "ijk"}, {"l", "m"}}) {
            in.add(SftExamples.tokenize(tok, demo(pr[0], pr[1]), 8, SftExamples.Overlong.FAIL,
                    SftExamples.LossOn.RESPONSE).sequence());
        }
        // lengths (inputs): 2, 3, 6, 2; capacity 7 inputs -> [2+3], [6], [2]
        List<Sequence> packs = new ArrayList<>();
        SftExamples.pack(in.iterator(), 8).forEachRemaining(packs::add);
        assertEquals(3, packs.size());
        Sequence first = packs.get(0);
        assertArrayEquals(new int[] {'a', 'b', 'c', 'd', 'e'}, first.tokens());
        assertArrayEquals(new int[] {'b', EOS, -1, 'e', EOS}, first.targets());
        assertArrayEquals(new int[] {0, 1, 0, 1, 2}, first.positions());
        assertArrayEquals(new int[] {0, 0, 1, 1, 1}, first.segments());
        assertEquals(2, first.examples());
        assertEquals(6, packs.get(1).length());
        assertEquals(1, packs.get(2).examples());
    }
}
