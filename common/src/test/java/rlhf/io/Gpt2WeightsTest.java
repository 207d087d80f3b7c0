package rlhf.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;

class Gpt2WeightsTest {

    @TempDir
    java.nio.file.Path tmp;

    /** V=11, T=5, L=2, NH=2, C=4: every tensor kind, small enough to spell out. */
    static final GptConfig TINY = GptConfig.gpt2(11, 5, 2, 2, 4);

    private FileSystem fs() throws IOException {
        return FileSystem.getLocal(new Configuration());
    }

    private Path path(String name) {
        return new Path(tmp.resolve(name).toUri());
    }

    /** A value per (tensor, index in the Hugging Face layout), exact in F16: k/16 with |k| < 128. */
    static float hubValue(String name, int index) {
        int k = Math.floorMod(name.hashCode() * 31 + index * 7, 255) - 127;
        return k / 16f;
    }

    static long[] longs(int... s) {
        long[] out = new long[s.length];
        for (int i = 0; i < s.length; i++) {
            out[i] = s[i];
        }
        return out;
    }

    /**
     * A file laid out as the hub's gpt2 model.safetensors, written by the independent test writer:
     * names without prefix, Conv1D weights [in, out], causal-mask buffers h.N.attn.bias (1,1,T,T)
     * and h.N.attn.masked_bias (), in F32 or F16.
     */
    static RawSafetensors hubStyle(GptConfig cfg, boolean f16) {
        return hubStyle(cfg, f16, null, 0, 0f);
    }

    /** The same, with element {@code index} (file order) of tensor {@code poisoned} set to {@code value}. */
    static RawSafetensors hubStyle(GptConfig cfg, boolean f16, String poisoned, int index, float value) {
        int V = cfg.vocabSize();
        int T = cfg.maxSeqLen();
        int C = cfg.nEmbd();
        RawSafetensors w = new RawSafetensors();
        add(w, f16, poisoned, index, value, "wte.weight", V, C);
        add(w, f16, poisoned, index, value, "wpe.weight", T, C);
        for (int l = 0; l < cfg.nLayer(); l++) {
            String p = "h." + l + ".";
            float[] mask = new float[T * T];
            for (int i = 0; i < T; i++) {
                for (int j = 0; j <= i; j++) {
                    mask[i * T + j] = 1f;
                }
            }
            w.f32(p + "attn.bias", longs(1, 1, T, T), mask);
            w.f32(p + "attn.masked_bias", longs(), new float[] {-1e4f});
            add(w, f16, poisoned, index, value, p + "ln_1.weight", C);
            add(w, f16, poisoned, index, value, p + "ln_1.bias", C);
            add(w, f16, poisoned, index, value, p + "attn.c_attn.weight", C, 3 * C);
            add(w, f16, poisoned, index, value, p + "attn.c_attn.bias", 3 * C);
            add(w, f16, poisoned, index, value, p + "attn.c_proj.weight", C, C);
            add(w, f16, poisoned, index, value, p + "attn.c_proj.bias", C);
            add(w, f16, poisoned, index, value, p + "ln_2.weight", C);
            add(w, f16, poisoned, index, value, p + "ln_2.bias", C);
            add(w, f16, poisoned, index, value, p + "mlp.c_fc.weight", C, 4 * C);
            add(w, f16, poisoned, index, value, p + "mlp.c_fc.bias", 4 * C);
            add(w, f16, poisoned, index, value, p + "mlp.c_proj.weight", 4 * C, C);
            add(w, f16, poisoned, index, value, p + "mlp.c_proj.bias", C);
        }
        add(w, f16, poisoned, index, value, "ln_f.weight", C);
        add(w, f16, poisoned, index, value, "ln_f.bias", C);
        return w;
    }

    static void add(RawSafetensors w, boolean f16, String name, int... shape) {
        add(w, f16, null, 0, 0f, name, shape);
    }

    static void add(RawSafetensors w, boolean f16, String poisoned, int index, float value, String name,
            int... shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = hubValue(name, i);
        }
        if (name.equals(poisoned)) {
            v[index] = value;
            w.f32(name, longs(shape), v);
            return;
        }
        if (f16) {
            w.f16Exact(name, longs(shape), v);
        } else {
            w.f32(name, longs(shape), v);
        }
    }

    /** The flat params the hub-style file must load into, computed element by element from hubValue. */
    static float[] expectedParams(GptConfig cfg) {
        ParamLayout layout = ParamLayout.of(cfg);
        float[] p = new float[layout.size()];
        for (ParamLayout.View v : layout.views()) {
            for (int r = 0; r < v.rows(); r++) {
                for (int c = 0; c < v.cols(); c++) {
                    // ours (r = out, c = in); HF Conv1D stores (in, out) with row length = out = rows
                    int hfIndex = v.transposedInHf() ? c * v.rows() + r : r * v.cols() + c;
                    p[v.offset() + r * v.cols() + c] = hubValue(v.name(), hfIndex);
                }
            }
        }
        return p;
    }

    @Test
    void hubLayoutInF32AndF16LoadsIntoOurFlatLayout() throws IOException {
        float[] expected = expectedParams(TINY);
        for (boolean f16 : new boolean[] {false, true}) {
            hubStyle(TINY, f16).write(tmp.resolve("hub.safetensors"));
            float[] got = Gpt2Weights.load(fs(), path("hub.safetensors"), TINY);
            assertEquals(expected.length, got.length);
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], got[i], 0f, (f16 ? "F16" : "F32") + " param " + i);
            }
        }
    }

    @Test
    void saveWritesPlainNamesForTheLmModelAndPrefixedNamesWithAScoreHeadAndRoundTripsBits() throws IOException {
        for (GptConfig cfg : List.of(TINY, TINY.withScoreHead(true))) {
            float[] params = new float[ParamLayout.of(cfg).size()];
            Random r = new Random(5);
            for (int i = 0; i < params.length; i++) {
                params[i] = (float) r.nextGaussian();
            }
            Gpt2Weights.save(fs(), path("w.safetensors"), cfg, params, Safetensors.Dtype.F32);
            try (Safetensors.Reader reader = Safetensors.open(fs(), path("w.safetensors"))) {
                String cAttn = cfg.scoreHead() ? "transformer.h.1.attn.c_attn.weight" : "h.1.attn.c_attn.weight";
                assertEquals("[4, 12]", reader.info(cAttn).shapeString(), "Conv1D [in, out]");
                assertEquals("pt", reader.metadata().get("format"));
                assertEquals(cfg.scoreHead(), reader.has("score.weight"));
                assertEquals(cfg.scoreHead(), reader.has("transformer.wte.weight"));
                assertFalse(reader.has("lm_head.weight"), "tied head is not saved");
                // the file holds the transpose of our [out, in] view
                ParamLayout.View v = ParamLayout.of(cfg).view("h.1.attn.c_attn.weight");
                float[] file = reader.read(cAttn);
                assertEquals(params[v.offset() + 5 * 4 + 3], file[3 * 12 + 5]);
            }
            float[] back = Gpt2Weights.load(fs(), path("w.safetensors"), cfg);
            for (int i = 0; i < params.length; i++) {
                assertEquals(Float.floatToRawIntBits(params[i]), Float.floatToRawIntBits(back[i]), "param " + i);
            }
        }
    }

    @Test
    void prefixedNamesAndATiedLmHeadAreAccepted() throws IOException {
        float[] expected = expectedParams(TINY);
        ParamLayout layout = ParamLayout.of(TINY);
        // as DialoGPT-style files: transformer.* names, mask buffers (any dtype), lm_head == wte
        RawSafetensors prefixed = new RawSafetensors();
        for (ParamLayout.View v : layout.views()) {
            float[] vals = new float[v.size()];
            for (int i = 0; i < vals.length; i++) {
                vals[i] = hubValue(v.name(), i);
            }
            prefixed.f32("transformer." + v.name(), longs(Gpt2Weights.hfShape(v)), vals);
        }
        float[] wte = new float[11 * 4];
        for (int i = 0; i < wte.length; i++) {
            wte[i] = hubValue("wte.weight", i);
        }
        prefixed.f32("lm_head.weight", longs(11, 4), wte);
        prefixed.f32("transformer.h.1.attn.masked_bias", longs(), new float[] {-1e4f});
        prefixed.raw("transformer.h.0.attn.bias", "BOOL", longs(1, 1, 5, 5), new byte[25]);
        prefixed.write(tmp.resolve("p.safetensors"));
        float[] got = Gpt2Weights.load(fs(), path("p.safetensors"), TINY);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], got[i], 0f, "param " + i);
        }
    }

    private String loadError(RawSafetensors w, GptConfig cfg) throws IOException {
        java.nio.file.Path p = tmp.resolve("bad.safetensors");
        w.write(p);
        var e = assertThrows(CheckpointFormatException.class, () -> Gpt2Weights.load(fs(), path("bad.safetensors"),
                cfg));
        assertTrue(e.getMessage().contains("bad.safetensors"), "names the file: " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void wrongShapeMissingUnexpectedAndUntiedTensorsAreReported() throws IOException {
        String wrong = loadError(hubStyle(TINY, false), TINY.withScoreHead(true));
        assertTrue(wrong.contains("missing tensor 'score.weight' (expected shape [1, 4])"), wrong);

        RawSafetensors w = hubStyle(GptConfig.gpt2(11, 5, 1, 2, 4), false);
        String missing = loadError(w, TINY);
        assertTrue(missing.contains("missing tensor 'h.1.ln_1.weight' (expected shape [4])"), missing);

        String unexpected = loadError(hubStyle(TINY, false).f32("score.weight", longs(1, 4), new float[4]), TINY);
        assertTrue(unexpected.contains("unexpected tensor(s) [score.weight]"), unexpected);
        assertTrue(unexpected.contains("does not declare GPT2ForSequenceClassification"), unexpected);

        RawSafetensors shape = new RawSafetensors();
        for (ParamLayout.View v : ParamLayout.of(TINY).views()) {
            // c_fc stored [out, in], i.e. not transposed to Conv1D
            int[] s = v.name().equals("h.0.mlp.c_fc.weight") ? v.shape() : Gpt2Weights.hfShape(v);
            add(shape, false, v.name(), s);
        }
        String badShape = loadError(shape, TINY);
        assertTrue(badShape.contains("tensor 'h.0.mlp.c_fc.weight': expected shape [4, 16], found [16, 4]"), badShape);

        float[] other = new float[44];
        other[7] = 1f;
        String untied = loadError(hubStyle(TINY, false).f32("lm_head.weight", longs(11, 4), other), TINY);
        assertTrue(untied.contains("'lm_head.weight' differs from wte.weight at element 0"), untied);
    }

    @Test
    void nanOrInfiniteWeightsAreRefusedByTensorAndElement() throws IOException {
        // c_fc is stored [in = 4, out = 16]: file element 9 is (0, 9), read transposed into our [16, 4]
        String nan = loadError(hubStyle(TINY, false, "h.1.mlp.c_fc.weight", 9, Float.NaN), TINY);
        assertTrue(nan.contains("tensor 'h.1.mlp.c_fc.weight' holds NaN at element 9 of 64"), nan);
        String inf = loadError(hubStyle(TINY, true, "ln_f.bias", 3, Float.NEGATIVE_INFINITY), TINY);
        assertTrue(inf.contains("tensor 'ln_f.bias' holds -Infinity at element 3 of 4"), inf);
    }
}
