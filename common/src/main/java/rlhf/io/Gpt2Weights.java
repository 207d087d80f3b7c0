package rlhf.io;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;

/**
 * Our flat parameter buffer to and from a Hugging Face GPT-2 {@code model.safetensors}.
 *
 * <p>Names. The hub's {@code gpt2} file (GPT2LMHeadModel) uses the base model's names without
 * prefix ({@code wte.weight}, {@code h.0.attn.c_attn.weight}) and no {@code lm_head.weight}
 * (tied to wte); {@code from_pretrained} adds the {@code transformer.} prefix itself when a
 * checkpoint of the base model is loaded into a model with a head. For
 * GPT2ForSequenceClassification this only works if the file already has the prefix: the head
 * {@code score.weight} is not part of the base model, so an unprefixed file would make Hugging
 * Face look for {@code transformer.score.weight}. Hence we write plain names without a score head
 * and {@code transformer.*} + {@code score.weight} with one, and accept either on load (some hub
 * models, e.g. DialoGPT, are saved prefixed with their {@code masked_bias} buffers; see the
 * discussions in vllm-project/vllm#271, onnxruntime/mobius#113, ml-explore/mlx-examples#798).
 *
 * <p>Layout. Conv1D weights ({@link ParamLayout.View#transposedInHf()}) are {@code [in, out]} in
 * the file and {@code [out, in]} in our buffer: transposed while streaming, both ways.
 *
 * <p>Load rules: every tensor of our layout must be present with its Hugging Face shape (errors
 * name tensor, expected and found shape, file); the causal-mask buffers {@code h.N.attn.bias} and
 * {@code h.N.attn.masked_bias} are ignored; {@code lm_head.weight}, if present, must equal
 * {@code wte.weight} exactly after conversion, else it is an error, not a warning: our LM head is
 * tied, and silently dropping an untied head would change what the model computes; any other
 * tensor is an error.
 */
public final class Gpt2Weights {

    public static final String FILE = "model.safetensors";
    static final String PREFIX = "transformer.";
    private static final String LM_HEAD = "lm_head.weight";
    private static final String SCORE = "score.weight";
    private static final Pattern BUFFER = Pattern.compile("(transformer\\.)?h\\.\\d+\\.attn\\.(bias|masked_bias)");

    private Gpt2Weights() {
    }

    /** Writes {@code params} (our layout of {@code cfg}) as a Hugging Face GPT-2 safetensors file. */
    public static void save(FileSystem fs, Path file, GptConfig cfg, float[] params, Safetensors.Dtype dtype)
            throws IOException {
        ParamLayout layout = ParamLayout.of(cfg);
        if (params.length != layout.size()) {
            throw new IllegalArgumentException("params has " + params.length + " floats, the layout of this config "
                    + layout.size());
        }
        boolean prefixed = cfg.scoreHead();
        List<Safetensors.Tensor> tensors = new ArrayList<>();
        for (ParamLayout.View v : layout.views()) {
            tensors.add(new Safetensors.Tensor(hfName(v.name(), prefixed), dtype, hfShape(v), params, v.offset(),
                    v.transposedInHf()));
        }
        Safetensors.write(fs, file, tensors, Map.of("format", "pt"));
    }

    /** Reads a Hugging Face GPT-2 safetensors file into a new buffer of our layout of {@code cfg}. */
    public static float[] load(FileSystem fs, Path file, GptConfig cfg) throws IOException {
        try (Safetensors.Reader r = Safetensors.open(fs, file)) {
            float[] params = new float[ParamLayout.of(cfg).size()];
            load(r, cfg, params);
            return params;
        }
    }

    /** Reads every tensor of our layout of {@code cfg} from {@code r} into {@code params}. */
    public static void load(Safetensors.Reader r, GptConfig cfg, float[] params) throws IOException {
        ParamLayout layout = ParamLayout.of(cfg);
        if (params.length != layout.size()) {
            throw new IllegalArgumentException("params has " + params.length + " floats, the layout of this config "
                    + layout.size());
        }
        Map<String, String> fileNameOf = new HashMap<>();
        List<String> unexpected = new ArrayList<>();
        String lmHead = null;
        for (String name : r.tensors().keySet()) {
            if (BUFFER.matcher(name).matches()) {
                continue;
            }
            if (name.equals(LM_HEAD)) {
                lmHead = name;
                continue;
            }
            String ours = name.startsWith(PREFIX) ? name.substring(PREFIX.length()) : name;
            boolean misplacedScore = ours.equals(SCORE) && !ours.equals(name);
            if (!layout.has(ours) || misplacedScore) {
                unexpected.add(name);
                continue;
            }
            String previous = fileNameOf.put(ours, name);
            if (previous != null) {
                throw r.error("tensor '" + ours + "' is present twice, as '" + previous + "' and '" + name + "'");
            }
        }
        if (!unexpected.isEmpty()) {
            String hint = unexpected.contains(SCORE) ? " (the file has a score head but config.json does not"
                    + " declare GPT2ForSequenceClassification)" : "";
            throw r.error(unexpected.size() + " unexpected tensor(s) " + first(unexpected, 8)
                    + " for a model with n_layer=" + cfg.nLayer() + ", positions=" + cfg.positions()
                    + ", score head=" + cfg.scoreHead() + hint);
        }
        for (ParamLayout.View v : layout.views()) {
            String name = fileNameOf.get(v.name());
            long[] expected = longs(hfShape(v));
            if (name == null) {
                throw r.error("missing tensor '" + v.name() + "' (expected shape " + Arrays.toString(expected) + ")");
            }
            Safetensors.TensorInfo t = r.info(name);
            if (!Arrays.equals(t.shape(), expected)) {
                throw r.error("tensor '" + name + "': expected shape " + Arrays.toString(expected) + ", found "
                        + t.shapeString());
            }
            if (v.transposedInHf()) {
                r.readTransposed(name, params, v.offset());
            } else {
                r.read(name, params, v.offset());
            }
            requireFinite(r, name, params, v.offset(), v.size(), v.transposedInHf());
        }
        if (lmHead != null) {
            checkTied(r, lmHead, layout.view("wte.weight"), params);
        }
    }

    /**
     * A weight (or optimizer moment) that is NaN or infinite makes every output NaN, or trains to
     * it, with no word of why: refused by tensor name and element index in the file's (row-major) order.
     *
     * @param transposed whether the tensor was read transposed: file [a, b] into our [b, a]
     */
    static void requireFinite(Safetensors.Reader r, String name, float[] a, int from, int n,
            boolean transposed) throws CheckpointFormatException {
        for (int k = 0; k < n; k++) {
            float x = a[from + k];
            if (!Float.isFinite(x)) {
                long index = k;
                if (transposed) {
                    long[] shape = r.info(name).shape(); // our element k = file element (k % rows, k / rows)
                    index = (k % shape[0]) * shape[1] + k / shape[0];
                }
                throw r.error("tensor '" + name + "' holds " + x + " at element " + index + " of " + n
                        + "; a checkpoint's tensors must be finite");
            }
        }
    }

    /** The untied head must equal wte, compared in chunks so that no V*C copy is made. */
    private static void checkTied(Safetensors.Reader r, String name, ParamLayout.View wte, float[] params)
            throws IOException {
        Safetensors.TensorInfo t = r.info(name);
        long[] expected = longs(wte.shape());
        if (!Arrays.equals(t.shape(), expected)) {
            throw r.error("tensor '" + name + "': expected shape " + Arrays.toString(expected) + " (tied to wte), found "
                    + t.shapeString());
        }
        float[] chunk = new float[1 << 18];
        for (int done = 0; done < wte.size(); ) {
            int k = Math.min(chunk.length, wte.size() - done);
            r.readRange(name, done, k, chunk, 0);
            for (int i = 0; i < k; i++) {
                float w = params[wte.offset() + done + i];
                if (Float.floatToIntBits(chunk[i]) != Float.floatToIntBits(w)) {
                    throw r.error("tensor '" + name + "' differs from wte.weight at element " + (done + i) + " ("
                            + chunk[i] + " vs " + w + "): an untied LM head is not supported, our LM head is tied"
                            + " to the token embedding");
                }
            }
            done += k;
        }
    }

    static String hfName(String ours, boolean prefixed) {
        return prefixed && !ours.equals(SCORE) ? PREFIX + ours : ours;
    }

    /** Shape in the Hugging Face file: Conv1D weights are [in, out], the transpose of ours. */
    static int[] hfShape(ParamLayout.View v) {
        return v.transposedInHf() ? new int[] {v.cols(), v.rows()} : v.shape().clone();
    }

    private static long[] longs(int[] shape) {
        long[] out = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            out[i] = shape[i];
        }
        return out;
    }

    private static String first(List<String> names, int n) {
        return names.size() <= n ? names.toString() : names.subList(0, n) + "...";
    }
}
