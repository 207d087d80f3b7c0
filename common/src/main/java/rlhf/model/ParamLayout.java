package rlhf.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The table of named views into the one flat parameter buffer of a model.
 *
 * <p>Parameters, gradients and both AdamW moments are {@code float[]}s of {@link #size()} with
 * this layout. Names follow Hugging Face GPT-2 without the {@code transformer.} prefix. Linear
 * weights are stored {@code [out, in]} (forward is a dot product per output); Hugging Face's
 * Conv1D stores {@code [in, out]}, so checkpoints transpose the tensors whose
 * {@link View#transposedInHf()} is true, once, at load and save.
 *
 * <pre>
 * wte.weight              (V, C)
 * wpe.weight              (maxT, C)        learned positions only
 * h.{i}.ln_1.weight/bias  (C)
 * h.{i}.attn.c_attn.weight (3C, C)  bias (3C)     HF: [C, 3C]
 * h.{i}.attn.c_proj.weight (C, C)   bias (C)      HF: [C, C]
 * h.{i}.ln_2.weight/bias  (C)
 * h.{i}.mlp.c_fc.weight   (4C, C)   bias (4C)     HF: [C, 4C]
 * h.{i}.mlp.c_proj.weight (C, 4C)   bias (C)      HF: [4C, C]
 * ln_f.weight/bias        (C)
 * score.weight            (1, C)           score head only (GPT2ForSequenceClassification)
 * </pre>
 */
public final class ParamLayout {

    /**
     * One named tensor: its shape in our layout, its offset in the flat buffer, whether
     * Hugging Face stores it transposed (Conv1D), and whether AdamW decays it by default
     * (matrices yes; biases, LayerNorm and embeddings no).
     */
    public record View(String name, int[] shape, int offset, int size, boolean transposedInHf, boolean decay) {
        public int rows() {
            return shape[0];
        }

        public int cols() {
            return shape.length > 1 ? shape[1] : 1;
        }
    }

    private final List<View> views;
    private final Map<String, View> byName;
    private final int size;

    private ParamLayout(List<View> views) {
        this.views = Collections.unmodifiableList(views);
        Map<String, View> m = new LinkedHashMap<>();
        int total = 0;
        for (View v : views) {
            m.put(v.name(), v);
            total = v.offset() + v.size();
        }
        this.byName = Collections.unmodifiableMap(m);
        this.size = total;
    }

    /** The layout of a model of the given configuration, in the fixed order above. */
    public static ParamLayout of(GptConfig cfg) {
        Builder b = new Builder();
        int C = cfg.nEmbd();
        b.add("wte.weight", false, false, cfg.vocabSize(), C);
        if (cfg.positions() == GptConfig.Positions.LEARNED) {
            b.add("wpe.weight", false, false, cfg.maxSeqLen(), C);
        }
        for (int l = 0; l < cfg.nLayer(); l++) {
            String p = "h." + l + ".";
            b.add(p + "ln_1.weight", false, false, C);
            b.add(p + "ln_1.bias", false, false, C);
            b.add(p + "attn.c_attn.weight", true, true, 3 * C, C);
            b.add(p + "attn.c_attn.bias", false, false, 3 * C);
            b.add(p + "attn.c_proj.weight", true, true, C, C);
            b.add(p + "attn.c_proj.bias", false, false, C);
            b.add(p + "ln_2.weight", false, false, C);
            b.add(p + "ln_2.bias", false, false, C);
            b.add(p + "mlp.c_fc.weight", true, true, 4 * C, C);
            b.add(p + "mlp.c_fc.bias", false, false, 4 * C);
            b.add(p + "mlp.c_proj.weight", true, true, C, 4 * C);
            b.add(p + "mlp.c_proj.bias", false, false, C);
        }
        b.add("ln_f.weight", false, false, C);
        b.add("ln_f.bias", false, false, C);
        if (cfg.scoreHead()) {
            b.add("score.weight", false, true, 1, C);
        }
        return new ParamLayout(b.views);
    }

    public List<View> views() {
        return views;
    }

    /** Total number of floats in the flat buffer. */
    public int size() {
        return size;
    }

    public boolean has(String name) {
        return byName.containsKey(name);
    }

    /** The view of that name; an error naming it when the layout has no such tensor. */
    public View view(String name) {
        View v = byName.get(name);
        if (v == null) {
            throw new IllegalArgumentException("no parameter named '" + name + "' in this model");
        }
        return v;
    }

    /** Offset of the named tensor in the flat buffer. */
    public int offset(String name) {
        return view(name).offset();
    }

    private static final class Builder {
        final List<View> views = new ArrayList<>();
        int offset;

        void add(String name, boolean transposedInHf, boolean decay, int... shape) {
            long n = 1;
            for (int d : shape) {
                n *= d;
            }
            if (offset + n > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("model too large for one float[]: " + name);
            }
            views.add(new View(name, shape.clone(), offset, (int) n, transposedInHf, decay));
            offset += (int) n;
        }
    }
}
