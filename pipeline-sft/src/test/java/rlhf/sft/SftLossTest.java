package rlhf.sft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import rlhf.data.Demonstration;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.spark.LossStats;
import rlhf.tokenizer.BpeTokenizer;

/** The SFT loss on a tiny model: packing changes nothing, the loss is a per-token mean of -log p. */
class SftLossTest {

    private static final GptConfig MODEL = GptConfig.gpt2(257, 32, 2, 2, 32);

    private static List<Sequence> examples() throws Exception {
        BpeTokenizer tok = SftFixtures.byteTokenizer();
        List<Sequence> out = new ArrayList<>();
        for (String[] pr : new String[][] {{"Q: 2+2?", " 4"}, {"hi", " there!"}, {"abc", " cba"}}) {
            out.add(SftExamples.tokenize(tok, new Demonstration(pr[0], pr[1], "t", 1), 32,
                    SftExamples.Overlong.FAIL, SftExamples.LossOn.RESPONSE).sequence());
        }
        return out;
    }

    private static float[] params() {
        float[] p = new float[ParamLayout.of(MODEL).size()];
        Gpt.init(MODEL, p, 42);
        return p;
    }

    @Test
    void packedBatchGivesTheLossAndGradientOfItsExamplesUnpacked() throws Exception {
        List<Sequence> ex = examples();
        float[] params = params();
        SftLoss loss = new SftLoss(MODEL, 4, 32, 256);

        float[] gUnpacked = new float[params.length];
        LossStats unpacked = new LossStats(SftLoss.STATS.length);
        loss.accumulate(loss.newState(), params, ex, new long[] {1, 2, 3}, gUnpacked, unpacked);

        int n = ex.stream().mapToInt(Sequence::length).sum();
        Sequence packed = SftExamples.concat(ex, n);
        float[] gPacked = new float[params.length];
        LossStats packedStats = new LossStats(SftLoss.STATS.length);
        loss.accumulate(loss.newState(), params, List.of(packed), new long[] {1}, gPacked, packedStats);

        assertEquals(unpacked.weight(), packedStats.weight(), "same target tokens");
        assertEquals(unpacked.loss(), packedStats.loss(), 1e-4 * Math.abs(unpacked.loss()),
                "packed loss sum equals unpacked (relative tolerance 1e-4)");
        assertEquals(3, packedStats.extra(1), "examples counted inside the pack");
        double scale = 0;
        for (float g : gUnpacked) {
            scale = Math.max(scale, Math.abs(g));
        }
        double diff = SftFixtures.maxAbsDiff(gUnpacked, gPacked);
        assertTrue(diff <= 1e-4 * scale, "gradients equal within 1e-4 of the largest: "
                + SftFixtures.firstDifferences(gUnpacked, gPacked));

        // The same pack with one segment and running positions lets attention cross examples:
        // the loss must change, or the comparison above proves nothing.
        int[] pos = new int[n];
        for (int i = 0; i < n; i++) {
            pos[i] = i;
        }
        Sequence leaky = new Sequence(packed.tokens(), packed.targets(), pos, new int[n], 3);
        LossStats leakyStats = new LossStats(SftLoss.STATS.length);
        loss.evaluate(loss.newState(), params, List.of(leaky), leakyStats);
        assertTrue(Math.abs(leakyStats.loss() - unpacked.loss()) > 1e-3 * Math.abs(unpacked.loss()),
                "attention across examples changes the loss: " + leakyStats.loss() + " vs " + unpacked.loss());
    }

    @Test
    void lossIsMinusLogProbabilityOfTheResponseTokens() throws Exception {
        List<Sequence> ex = examples();
        float[] params = params();
        SftLoss loss = new SftLoss(MODEL, 4, 32, 256);
        LossStats stats = new LossStats(SftLoss.STATS.length);
        loss.evaluate(loss.newState(), params, ex.subList(0, 1), stats);

        // Reference: softmax of the logits of the same forward, computed here in double.
        Sequence s = ex.get(0);
        Gpt gpt = new Gpt(MODEL, 1, s.length());
        gpt.forward(params, s.tokens(), null, null, 1, s.length(), false, 0L);
        int[] none = new int[s.length()];
        java.util.Arrays.fill(none, -1);
        gpt.lmHeadForward(params, none, 1f, new float[s.length()], null);
        float[] logits = gpt.logits();
        double expected = 0;
        int count = 0;
        for (int t = 0; t < s.length(); t++) {
            if (s.targets()[t] < 0) {
                continue;
            }
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < 257; v++) {
                max = Math.max(max, logits[t * 257 + v]);
            }
            double z = 0;
            for (int v = 0; v < 257; v++) {
                z += Math.exp(logits[t * 257 + v] - max);
            }
            expected -= logits[t * 257 + s.targets()[t]] - max - Math.log(z);
            count++;
        }
        assertEquals(3, count, "' 4' and EOS after the prompt: 3 target tokens");
        assertEquals(count, stats.weight());
        assertEquals(expected, stats.loss(), 1e-4, "loss sum vs double-precision reference");
        assertEquals(Math.log(257) * count, stats.loss(), 0.5, "a fresh model is near uniform");
    }
}
