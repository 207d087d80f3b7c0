package rlhf.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import rlhf.data.PromptTemplate;
import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;

class RewardModelEvaluationTest {

    @TempDir
    Path tmp;

    /**
     * A reward model that scores a sequence by its last byte: the blocks add nothing (output
     * projections 0), positions are 0, so the last hidden state is LayerNorm(wte[last]); rows of
     * the bytes in {@code liked} are (1, -1, 0, 0), the others (-1, 1, 0, 0); LayerNorm maps them
     * to (+-sqrt 2, -+sqrt 2, 0, 0) and score.weight = (1, 0, 0, 0) reads +-sqrt 2.
     */
    String lastByteModel(String liked) throws Exception {
        GptConfig g = GptConfig.gpt2(257, 32, 1, 1, 4).withScoreHead(true);
        ParamLayout l = ParamLayout.of(g);
        float[] p = new float[l.size()];
        rlhf.model.Gpt.init(g, p, 1);
        for (String n : List.of("h.0.attn.c_proj.weight", "h.0.attn.c_proj.bias", "h.0.mlp.c_proj.weight",
                "h.0.mlp.c_proj.bias", "wpe.weight", "score.weight")) {
            Arrays.fill(p, l.offset(n), l.offset(n) + l.view(n).size(), 0f);
        }
        int wte = l.offset("wte.weight");
        for (int v = 0; v < 257; v++) {
            float s = v < 256 && liked.indexOf((char) v) >= 0 ? 1f : -1f;
            p[wte + 4 * v] = s;
            p[wte + 4 * v + 1] = -s;
            p[wte + 4 * v + 2] = 0f;
            p[wte + 4 * v + 3] = 0f;
        }
        p[l.offset("score.weight")] = 1f;
        ByteArrayOutputStream vocab = new ByteArrayOutputStream(), merges = new ByteArrayOutputStream();
        PolicyEvaluationTest.BYTES.save(vocab, merges);
        String dir = tmp.resolve("rm").toString();
        new Checkpoint(ModelConfigJson.of(g, PolicyEvaluationTest.EOS), p,
                new Checkpoint.Tokenizer(vocab.toByteArray(), merges.toByteArray()), null).save(dir, new Configuration());
        return dir;
    }

    @Test
    void accuracyCountsPairsWhoseChosenScoresHigherAndTiesAsWrong() throws Exception {
        String rm = lastByteModel("5c");
        List<RewardModelEvaluation.Pair> pairs = List.of(
                new RewardModelEvaluation.Pair("add 7 and 8", "15", "14"),                 // liked vs not: right
                new RewardModelEvaluation.Pair("add 1 and 1", "2", "3"),                   // a tie: wrong
                new RewardModelEvaluation.Pair("reverse the word cat", "tac", "cat"),      // right
                new RewardModelEvaluation.Pair("add 4 and 5", "9", "answer: 5"));          // wrong way round
        for (int batch : new int[] {1, 3, 8}) {
            RewardModelEvaluation.Result r = RewardModelEvaluation.evaluate(rm, pairs, PromptTemplate.plain(), batch,
                    new Configuration());
            assertEquals(4, r.n());
            assertEquals(2, r.correct(), "batch " + batch);
            assertEquals(0.5, r.accuracy());
            // margins 2s, 0, 2s, -2s with s = sqrt 2 (LayerNorm eps 1e-5 aside): mean s / 2
            assertEquals(Math.sqrt(2) / 2, r.meanMargin(), 1e-4, "batch " + batch);
        }
    }
}
