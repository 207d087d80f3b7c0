package rlhf.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import rlhf.model.GptConfig;

/**
 * {@code config.json} of a checkpoint, in Hugging Face GPT2Config field names so that
 * {@code AutoConfig} / {@code from_pretrained} read it, plus our own {@code rlhf_*} fields.
 *
 * <p>Written: {@code model_type "gpt2"}, {@code architectures} ({@code GPT2LMHeadModel}, or
 * {@code GPT2ForSequenceClassification} with {@code num_labels 1} when the model has a score head),
 * {@code n_layer, n_head, n_embd, n_positions, n_ctx, vocab_size, layer_norm_epsilon,
 * activation_function ("gelu_new" | "relu"), embd_pdrop, attn_pdrop, resid_pdrop, bos_token_id,
 * eos_token_id, pad_token_id} (when set), and the variants {@code rlhf_causal} (bool),
 * {@code rlhf_positions} ("learned" | "sinusoidal"), {@code rlhf_norm} ("pre_ln" | "post_ln").
 * Hugging Face's GPT-2 only computes the default variant (causal, learned, pre_ln).
 *
 * <p>Read: the shape keys {@code n_layer, n_head, n_embd, n_positions, vocab_size} are required
 * (a missing one is an error naming the key and file); the others default as in GPT2Config
 * (epsilon 1e-5, "gelu_new", dropouts 0.1, token ids 50256) and the variants default to GPT-2.
 * Unknown Hugging Face fields are ignored.
 *
 * <p>Extras: every other {@code rlhf_*} key is free metadata for the stages (e.g.
 * {@code rlhf_reward_mean}), kept in order, read and written with typed accessors. Keys must
 * start with {@code rlhf_} so they can never shadow a Hugging Face field.
 */
public final class ModelConfigJson {

    public static final String FILE = "config.json";
    /** GPT-2's {@code <|endoftext|>}, its BOS and EOS. */
    public static final int GPT2_EOS = 50256;
    public static final String EXTRA_PREFIX = "rlhf_";

    private static final Set<String> VARIANT_KEYS = Set.of("rlhf_causal", "rlhf_positions", "rlhf_norm");
    private static final String LM = "GPT2LMHeadModel";
    private static final String CLS = "GPT2ForSequenceClassification";

    private final GptConfig model;
    private final int bosTokenId;
    private final int eosTokenId;
    private final Integer padTokenId;
    private final ObjectNode extras;

    /**
     * @param padTokenId null when the tokenizer has no pad token (Hugging Face's gpt2 has none)
     */
    public ModelConfigJson(GptConfig model, int bosTokenId, int eosTokenId, Integer padTokenId) {
        this(model, bosTokenId, eosTokenId, padTokenId, Safetensors.JSON.createObjectNode());
    }

    private ModelConfigJson(GptConfig model, int bos, int eos, Integer pad, ObjectNode extras) {
        if (model == null) {
            throw new IllegalArgumentException("model config must be set");
        }
        requireToken("bos_token_id", bos, model.vocabSize());
        requireToken("eos_token_id", eos, model.vocabSize());
        if (pad != null) {
            requireToken("pad_token_id", pad, model.vocabSize());
        }
        this.model = model;
        this.bosTokenId = bos;
        this.eosTokenId = eos;
        this.padTokenId = pad;
        this.extras = extras;
    }

    /** The config of a model whose tokenizer uses {@code eosTokenId} as BOS and EOS, without pad. */
    public static ModelConfigJson of(GptConfig model, int eosTokenId) {
        return new ModelConfigJson(model, eosTokenId, eosTokenId, null);
    }

    public GptConfig model() {
        return model;
    }

    public int bosTokenId() {
        return bosTokenId;
    }

    public int eosTokenId() {
        return eosTokenId;
    }

    /** The pad token, or null when none. */
    public Integer padTokenId() {
        return padTokenId;
    }

    public ModelConfigJson withModel(GptConfig m) {
        return new ModelConfigJson(m, bosTokenId, eosTokenId, padTokenId, extras.deepCopy());
    }

    public ModelConfigJson withPadTokenId(Integer pad) {
        return new ModelConfigJson(model, bosTokenId, eosTokenId, pad, extras.deepCopy());
    }

    // ---------------------------------------------------------------- extras

    /** A copy with the extra set; value is a String, Boolean or Number. */
    public ModelConfigJson withExtra(String key, Object value) {
        if (key == null || !key.startsWith(EXTRA_PREFIX) || VARIANT_KEYS.contains(key)) {
            throw new IllegalArgumentException("extra key must start with '" + EXTRA_PREFIX
                    + "' and not be one of " + VARIANT_KEYS + ", found '" + key + "'");
        }
        ObjectNode copy = extras.deepCopy();
        if (value instanceof String s) {
            copy.put(key, s);
        } else if (value instanceof Boolean b) {
            copy.put(key, b);
        } else if (value instanceof Integer || value instanceof Long) {
            copy.put(key, ((Number) value).longValue());
        } else if (value instanceof Number n) {
            copy.put(key, n.doubleValue());
        } else {
            throw new IllegalArgumentException("extra '" + key + "' must be a String, Boolean or Number, found "
                    + (value == null ? "null" : value.getClass().getSimpleName()));
        }
        return new ModelConfigJson(model, bosTokenId, eosTokenId, padTokenId, copy);
    }

    public boolean hasExtra(String key) {
        return extras.has(key);
    }

    /** The extra keys in order. */
    public List<String> extraKeys() {
        List<String> keys = new ArrayList<>();
        extras.fieldNames().forEachRemaining(keys::add);
        return keys;
    }

    public double extraDouble(String key) {
        JsonNode v = extra(key);
        if (!v.isNumber()) {
            throw wrongType(key, "a number", v);
        }
        return v.doubleValue();
    }

    public double extraDouble(String key, double fallback) {
        return hasExtra(key) ? extraDouble(key) : fallback;
    }

    public long extraLong(String key) {
        JsonNode v = extra(key);
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw wrongType(key, "an integer", v);
        }
        return v.longValue();
    }

    public boolean extraBoolean(String key) {
        JsonNode v = extra(key);
        if (!v.isBoolean()) {
            throw wrongType(key, "true or false", v);
        }
        return v.booleanValue();
    }

    public boolean extraBoolean(String key, boolean fallback) {
        return hasExtra(key) ? extraBoolean(key) : fallback;
    }

    public String extraString(String key) {
        JsonNode v = extra(key);
        if (!v.isTextual()) {
            throw wrongType(key, "a string", v);
        }
        return v.textValue();
    }

    private JsonNode extra(String key) {
        JsonNode v = extras.get(key);
        if (v == null) {
            throw new IllegalArgumentException("config.json has no key '" + key + "'");
        }
        return v;
    }

    private static IllegalArgumentException wrongType(String key, String expected, JsonNode found) {
        return new IllegalArgumentException("config.json key '" + key + "' must be " + expected + ", found " + found);
    }

    // ---------------------------------------------------------------- JSON

    /** The JSON object as written to config.json. */
    public ObjectNode toJson() {
        GptConfig m = model;
        ObjectNode o = Safetensors.JSON.createObjectNode();
        o.put("model_type", "gpt2");
        o.putArray("architectures").add(m.scoreHead() ? CLS : LM);
        o.put("n_layer", m.nLayer());
        o.put("n_head", m.nHead());
        o.put("n_embd", m.nEmbd());
        o.put("n_positions", m.maxSeqLen());
        o.put("n_ctx", m.maxSeqLen());
        o.put("vocab_size", m.vocabSize());
        o.put("layer_norm_epsilon", asDouble(m.layerNormEpsilon()));
        o.put("activation_function", m.activation() == GptConfig.Activation.GELU ? "gelu_new" : "relu");
        o.put("embd_pdrop", asDouble(m.embdDropout()));
        o.put("attn_pdrop", asDouble(m.attnDropout()));
        o.put("resid_pdrop", asDouble(m.residDropout()));
        o.put("bos_token_id", bosTokenId);
        o.put("eos_token_id", eosTokenId);
        if (padTokenId != null) {
            o.put("pad_token_id", padTokenId);
        }
        if (m.scoreHead()) {
            // Hugging Face derives num_labels from id2label; both are written so either reader agrees.
            o.put("num_labels", 1);
            o.putObject("id2label").put("0", "LABEL_0");
            o.putObject("label2id").put("LABEL_0", 0);
        }
        o.put("rlhf_causal", m.causal());
        o.put("rlhf_positions", m.positions() == GptConfig.Positions.LEARNED ? "learned" : "sinusoidal");
        o.put("rlhf_norm", m.norm() == GptConfig.Norm.PRE_LN ? "pre_ln" : "post_ln");
        o.setAll(extras);
        return o;
    }

    public byte[] toBytes() {
        try {
            return Safetensors.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(toJson());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parses config.json bytes; {@code file} names the source in messages. */
    public static ModelConfigJson parse(byte[] bytes, String file) throws CheckpointFormatException {
        // decoded strictly first: Jackson takes some invalid UTF-8 (overlong forms, encoded
        // surrogates) as characters, and the mangled text would be read as a key or an extra
        String text = new TextFiles.StrictUtf8().decode(bytes);
        if (text == null) {
            throw new CheckpointFormatException(file + ": not valid UTF-8");
        }
        JsonNode root;
        try {
            root = Safetensors.JSON.readTree(text);
        } catch (IOException e) {
            throw new CheckpointFormatException(file + ": not valid JSON: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointFormatException(file + ": expected a JSON object");
        }
        Reader r = new Reader(root, file);
        String type = r.string("model_type", "gpt2");
        if (!type.equals("gpt2")) {
            throw r.error("model_type", "\"gpt2\"", root.get("model_type"));
        }
        boolean score = false;
        JsonNode arch = root.get("architectures");
        if (arch != null && arch.isArray()) {
            for (JsonNode a : arch) {
                score |= CLS.equals(a.asText());
            }
        }
        if (score) {
            JsonNode labels = root.get("num_labels");
            JsonNode id2label = root.get("id2label");
            int n = labels != null ? r.integer("num_labels", 1) : id2label != null && id2label.isObject()
                    ? id2label.size() : 1;
            if (n != 1) {
                throw r.error("num_labels", "1 (a scalar reward/value head)", labels != null ? labels : id2label);
            }
        }
        // GPT2Config fields that change the math away from what we compute: refuse rather than
        // load a model that would silently give other outputs.
        JsonNode inner = root.get("n_inner");
        if (inner != null && !inner.isNull() && r.integer("n_inner", 0) != 4 * r.requiredInt("n_embd")) {
            throw r.error("n_inner", "null or 4 * n_embd (the MLP width we implement)", inner);
        }
        if (r.bool("scale_attn_by_inverse_layer_idx", false)) {
            throw r.error("scale_attn_by_inverse_layer_idx", "false (not implemented)",
                    root.get("scale_attn_by_inverse_layer_idx"));
        }
        if (!r.bool("scale_attn_weights", true)) {
            throw r.error("scale_attn_weights", "true (attention scaled by 1/sqrt(head size))",
                    root.get("scale_attn_weights"));
        }
        if (r.bool("add_cross_attention", false)) {
            throw r.error("add_cross_attention", "false (decoder-only models)", root.get("add_cross_attention"));
        }
        String act = r.string("activation_function", "gelu_new");
        GptConfig.Activation activation = switch (act) {
            case "gelu_new", "gelu_pytorch_tanh" -> GptConfig.Activation.GELU;
            case "relu" -> GptConfig.Activation.RELU;
            default -> throw r.error("activation_function", "\"gelu_new\", \"gelu_pytorch_tanh\" or \"relu\"",
                    root.get("activation_function"));
        };
        String pos = r.string("rlhf_positions", "learned");
        GptConfig.Positions positions = switch (pos) {
            case "learned" -> GptConfig.Positions.LEARNED;
            case "sinusoidal" -> GptConfig.Positions.SINUSOIDAL;
            default -> throw r.error("rlhf_positions", "\"learned\" or \"sinusoidal\"", root.get("rlhf_positions"));
        };
        String norm = r.string("rlhf_norm", "pre_ln");
        GptConfig.Norm ln = switch (norm) {
            case "pre_ln" -> GptConfig.Norm.PRE_LN;
            case "post_ln" -> GptConfig.Norm.POST_LN;
            default -> throw r.error("rlhf_norm", "\"pre_ln\" or \"post_ln\"", root.get("rlhf_norm"));
        };
        GptConfig model;
        try {
            model = new GptConfig(
                    r.requiredInt("vocab_size"),
                    r.requiredInt("n_positions"),
                    r.requiredInt("n_layer"),
                    r.requiredInt("n_head"),
                    r.requiredInt("n_embd"),
                    (float) r.number("layer_norm_epsilon", 1e-5),
                    activation,
                    r.bool("rlhf_causal", true),
                    positions,
                    ln,
                    (float) r.number("embd_pdrop", 0.1),
                    (float) r.number("attn_pdrop", 0.1),
                    (float) r.number("resid_pdrop", 0.1),
                    score);
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(file + ": " + e.getMessage());
        }
        int bos = r.integer("bos_token_id", GPT2_EOS);
        int eos = r.integer("eos_token_id", GPT2_EOS);
        JsonNode padNode = root.get("pad_token_id");
        Integer pad = padNode == null || padNode.isNull() ? null : r.integer("pad_token_id", 0);
        ObjectNode extras = Safetensors.JSON.createObjectNode();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().startsWith(EXTRA_PREFIX) && !VARIANT_KEYS.contains(e.getKey())) {
                extras.set(e.getKey(), e.getValue());
            }
        }
        try {
            return new ModelConfigJson(model, bos, eos, pad, extras);
        } catch (IllegalArgumentException e) {
            throw new CheckpointFormatException(file + ": " + e.getMessage());
        }
    }

    public static ModelConfigJson read(FileSystem fs, Path path) throws IOException {
        return parse(Checkpoint.readBytes(fs, path), path.toString());
    }

    public void write(FileSystem fs, Path path) throws IOException {
        try (OutputStream out = fs.create(path, true)) {
            out.write(toBytes());
        }
    }

    /** Floats as the shortest decimal that reads back to them (1e-5f is written 1.0E-5). */
    private static double asDouble(float f) {
        return Double.parseDouble(Float.toString(f));
    }

    private static void requireToken(String key, int id, int vocab) {
        if (id < 0 || id >= vocab) {
            throw new IllegalArgumentException(key + " must be in [0, vocab_size=" + vocab + "), found " + id);
        }
    }

    /** Typed field access whose errors name the key and the file. */
    private record Reader(JsonNode root, String file) {
        int requiredInt(String key) throws CheckpointFormatException {
            if (!root.has(key) || root.get(key).isNull()) {
                throw new CheckpointFormatException(file + ": missing required key '" + key + "'");
            }
            return integer(key, 0);
        }

        int integer(String key, int fallback) throws CheckpointFormatException {
            JsonNode v = root.get(key);
            if (v == null || v.isNull()) {
                return fallback;
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw error(key, "an integer", v);
            }
            return v.intValue();
        }

        double number(String key, double fallback) throws CheckpointFormatException {
            JsonNode v = root.get(key);
            if (v == null || v.isNull()) {
                return fallback;
            }
            // a number past the double range (1e400) reads as infinity: no epsilon or dropout
            if (!v.isNumber() || !Double.isFinite(v.doubleValue())) {
                throw error(key, "a finite number", v);
            }
            return v.doubleValue();
        }

        boolean bool(String key, boolean fallback) throws CheckpointFormatException {
            JsonNode v = root.get(key);
            if (v == null || v.isNull()) {
                return fallback;
            }
            if (!v.isBoolean()) {
                throw error(key, "true or false", v);
            }
            return v.booleanValue();
        }

        String string(String key, String fallback) throws CheckpointFormatException {
            JsonNode v = root.get(key);
            if (v == null || v.isNull()) {
                return fallback;
            }
            if (!v.isTextual()) {
                throw error(key, "a string", v);
            }
            return v.textValue();
        }

        CheckpointFormatException error(String key, String expected, JsonNode found) {
            return new CheckpointFormatException(file + ": key '" + key + "' must be " + expected + ", found " + found);
        }
    }
}
