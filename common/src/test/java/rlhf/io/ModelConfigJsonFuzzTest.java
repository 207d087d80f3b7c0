package rlhf.io;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import rlhf.model.GptConfig;
import rlhf.testing.Fuzz;
import rlhf.testing.Fuzz.Invalid;
import rlhf.testing.Mutate;

/**
 * Seeded fuzzing of the {@code config.json} reader: 10,000 mutations of the hub's GPT-2 config and
 * of a small reward-model config (keys removed, renamed, retyped, set to edge values, duplicated,
 * deep nesting, invalid UTF-8, truncation, byte flips), each parsed by
 * {@link ModelConfigJson#parse}. Proves that each one is either refused with a
 * {@link CheckpointFormatException} naming the file, or read to exactly the fields an independent
 * reading of the same JSON with Jackson gives under the rules the class documents (required shape
 * keys, GPT2Config's defaults, integers that are integers, the variants' spellings). A wrong field
 * read silently (a truncated number, a string taken for an integer) would build another model than
 * the checkpoint's and load its weights into it.
 */
class ModelConfigJsonFuzzTest {

    private static final long SEED = 20261208L;
    private static final int CASES = 10_000;
    private static final String FILE = "run/config.json";
    private static final String CLS = "GPT2ForSequenceClassification";

    /** Every key the reader looks at: the targets of the typed edits. */
    private static final String[] KEYS = {"model_type", "architectures", "num_labels", "id2label", "n_inner",
        "scale_attn_by_inverse_layer_idx", "scale_attn_weights", "add_cross_attention", "activation_function",
        "rlhf_positions", "rlhf_norm", "rlhf_causal", "vocab_size", "n_positions", "n_layer", "n_head", "n_embd",
        "layer_norm_epsilon", "embd_pdrop", "attn_pdrop", "resid_pdrop", "bos_token_id", "eos_token_id",
        "pad_token_id", "rlhf_reward_mean", "rlhf_stage"};

    private static final Set<String> VARIANTS = Set.of("rlhf_causal", "rlhf_positions", "rlhf_norm");

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private static final String REWARD_CONFIG = "{\"model_type\":\"gpt2\",\"architectures\":[\"" + CLS + "\"],"
            + "\"n_layer\":1,\"n_head\":2,\"n_embd\":8,\"n_positions\":16,\"n_ctx\":16,\"vocab_size\":50,"
            + "\"n_inner\":null,\"layer_norm_epsilon\":1e-5,\"activation_function\":\"relu\",\"embd_pdrop\":0.0,"
            + "\"attn_pdrop\":0.05,\"resid_pdrop\":0.2,\"bos_token_id\":49,\"eos_token_id\":49,\"pad_token_id\":0,"
            + "\"num_labels\":1,\"id2label\":{\"0\":\"LABEL_0\"},\"rlhf_causal\":false,\"rlhf_positions\":\"sinusoidal\","
            + "\"rlhf_norm\":\"post_ln\",\"rlhf_reward_mean\":-0.25,\"rlhf_stage\":\"reward\",\"rlhf_step\":12}";

    @Test
    void everyMutatedConfigIsRefusedNamingTheFileOrReadAsJacksonReadsIt() throws Exception {
        List<byte[]> bases = List.of(ModelConfigJsonTest.gpt2ConfigJson(), Mutate.utf8(REWARD_CONFIG));
        for (byte[] b : bases) {
            assertEquals(Fuzz.Outcome.LOADED, check(b), "the unmutated config loads");
        }
        Fuzz.run("config.json", SEED, CASES,
                (caseNo, r) -> check(mutate(bases.get(r.nextInt(bases.size())), r)));
    }

    private static byte[] mutate(byte[] base, Random r) throws IOException {
        ObjectNode o = (ObjectNode) JSON.readTree(base);
        switch (r.nextInt(12)) {
            case 0, 1, 2 -> {
                for (int k = 1 + r.nextInt(3); k > 0; k--) {
                    Mutate.editObject(o, r);
                }
            }
            case 3, 4, 5 -> {
                String key = Mutate.pick(r, KEYS);
                JsonNode old = o.get(key);
                o.set(key, old != null && r.nextBoolean() ? Mutate.retype(old, r) : Mutate.anyValue(r));
            }
            case 6 -> {
                o.putArray("architectures").add(Mutate.pick(r, CLS, "GPT2LMHeadModel", "GPT2Model"));
                if (r.nextBoolean()) {
                    o.set(Mutate.pick(r, "num_labels", "id2label"), Mutate.anyValue(r));
                }
            }
            case 7 -> {
                if (r.nextBoolean()) {
                    // the MLP width the reader checks, written as the right number in the wrong type
                    JsonNode width = o.numberNode(4 * o.path("n_embd").asInt());
                    o.set("n_inner", r.nextBoolean() ? width : Mutate.retype(width, r));
                    break;
                }
                return Mutate.utf8(Mutate.withDuplicateKey(o, r));
            }
            case 8, 9 -> {
                return Mutate.bytes(base, r);
            }
            case 10 -> {
                String deep = Mutate.deepArray(Mutate.pick(r, 50, 999, 1001, 3000));
                o.set("task_specific_params", null);
                return Mutate.utf8(r.nextBoolean() ? o.toString().replace("null", deep) : deep);
            }
            default -> {
                return Mutate.utf8(o + Mutate.pick(r, " ", "\n", "x", "{}", ",", "]"));
            }
        }
        return Mutate.utf8(o.toString());
    }

    /** Parses {@code bytes} and checks the outcome against the reference reading. */
    private static Fuzz.Outcome check(byte[] bytes) {
        Fuzz.Expectation<Expected> expectation = Fuzz.expect(() -> expected(bytes));
        Expected expected = expectation.value();
        String whyNot = expectation.whyNot();
        ModelConfigJson c;
        try {
            c = ModelConfigJson.parse(bytes, FILE);
        } catch (CheckpointFormatException e) {
            if (!e.getMessage().startsWith(FILE + ": ")) {
                throw new AssertionError("the error does not name the file: " + e.getMessage(), e);
            }
            return Fuzz.Outcome.REFUSED;
        }
        if (expected == null) {
            throw new AssertionError("read a config the rules refuse (" + whyNot + ") as " + c.model());
        }
        GptConfig m = c.model();
        assertEquals(expected.model(), List.of(m.vocabSize(), m.maxSeqLen(), m.nLayer(), m.nHead(), m.nEmbd(),
                Float.floatToIntBits(m.layerNormEpsilon()), m.activation(), m.causal(), m.positions(), m.norm(),
                Float.floatToIntBits(m.embdDropout()), Float.floatToIntBits(m.attnDropout()),
                Float.floatToIntBits(m.residDropout()), m.scoreHead()), "model fields");
        assertEquals(expected.tokens(), java.util.Arrays.asList(c.bosTokenId(), c.eosTokenId(), c.padTokenId()),
                "bos, eos, pad");
        ObjectNode written = c.toJson();
        List<JsonNode> extras = new ArrayList<>();
        for (String k : c.extraKeys()) {
            extras.add(written.get(k));
        }
        assertEquals(expected.extraKeys(), c.extraKeys(), "extra keys");
        assertEquals(expected.extraValues(), extras, "extra values");
        return Fuzz.Outcome.LOADED;
    }

    // ---------------------------------------------------------------- the reference reading

    /** The fields of an accepted config, as lists so that one assertion shows every difference. */
    private record Expected(List<Object> model, List<Integer> tokens, List<String> extraKeys,
            List<JsonNode> extraValues) {
    }

    /** What config.json holds by the documented rules, read from Jackson's tree of strict UTF-8 text. */
    private static Expected expected(byte[] bytes) throws Invalid {
        String text = new TextFiles.StrictUtf8().decode(bytes);
        if (text == null) {
            throw new Invalid("not UTF-8");
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (IOException e) {
            throw new Invalid("not JSON");
        }
        if (root == null || !root.isObject()) {
            throw new Invalid("not an object");
        }
        if (!text(root, "model_type", "gpt2").equals("gpt2")) {
            throw new Invalid("model_type");
        }
        boolean score = false;
        if (root.path("architectures").isArray()) {
            for (JsonNode a : root.get("architectures")) {
                score |= a.isTextual() && a.textValue().equals(CLS);
            }
        }
        if (score) {
            JsonNode id2label = root.get("id2label");
            int labels = root.has("num_labels") ? integer(root, "num_labels", 1)
                    : id2label != null && id2label.isObject() ? id2label.size() : 1;
            if (labels != 1) {
                throw new Invalid("num_labels");
            }
        }
        int nEmbd = required(root, "n_embd");
        JsonNode inner = root.get("n_inner");
        if (inner != null && !inner.isNull() && !(inner.isIntegralNumber() && inner.canConvertToInt()
                && inner.intValue() == 4 * nEmbd)) {
            throw new Invalid("n_inner");
        }
        if (bool(root, "scale_attn_by_inverse_layer_idx", false) || !bool(root, "scale_attn_weights", true)
                || bool(root, "add_cross_attention", false)) {
            throw new Invalid("unsupported attention option");
        }
        GptConfig.Activation act = switch (text(root, "activation_function", "gelu_new")) {
            case "gelu_new", "gelu_pytorch_tanh" -> GptConfig.Activation.GELU;
            case "relu" -> GptConfig.Activation.RELU;
            default -> throw new Invalid("activation_function");
        };
        GptConfig.Positions pos = switch (text(root, "rlhf_positions", "learned")) {
            case "learned" -> GptConfig.Positions.LEARNED;
            case "sinusoidal" -> GptConfig.Positions.SINUSOIDAL;
            default -> throw new Invalid("rlhf_positions");
        };
        GptConfig.Norm norm = switch (text(root, "rlhf_norm", "pre_ln")) {
            case "pre_ln" -> GptConfig.Norm.PRE_LN;
            case "post_ln" -> GptConfig.Norm.POST_LN;
            default -> throw new Invalid("rlhf_norm");
        };
        int vocab = positive(required(root, "vocab_size"));
        int positions = positive(required(root, "n_positions"));
        int layers = positive(required(root, "n_layer"));
        int heads = positive(required(root, "n_head"));
        if (positive(nEmbd) % heads != 0) {
            throw new Invalid("n_embd % n_head");
        }
        float eps = (float) number(root, "layer_norm_epsilon", 1e-5);
        if (!(eps > 0f)) {
            throw new Invalid("layer_norm_epsilon");
        }
        float[] dropouts = new float[3];
        String[] dropoutKeys = {"embd_pdrop", "attn_pdrop", "resid_pdrop"};
        for (int i = 0; i < 3; i++) {
            dropouts[i] = (float) number(root, dropoutKeys[i], 0.1);
            if (!(dropouts[i] >= 0f && dropouts[i] < 1f)) {
                throw new Invalid(dropoutKeys[i]);
            }
        }
        boolean causal = bool(root, "rlhf_causal", true);
        int bos = token(integer(root, "bos_token_id", ModelConfigJson.GPT2_EOS), vocab);
        int eos = token(integer(root, "eos_token_id", ModelConfigJson.GPT2_EOS), vocab);
        Integer pad = root.path("pad_token_id").isMissingNode() || root.get("pad_token_id").isNull() ? null
                : token(integer(root, "pad_token_id", 0), vocab);
        List<String> extraKeys = new ArrayList<>();
        List<JsonNode> extraValues = new ArrayList<>();
        root.fields().forEachRemaining(e -> {
            if (e.getKey().startsWith("rlhf_") && !VARIANTS.contains(e.getKey())) {
                extraKeys.add(e.getKey());
                extraValues.add(e.getValue());
            }
        });
        return new Expected(List.of(vocab, positions, layers, heads, nEmbd, Float.floatToIntBits(eps), act, causal,
                pos, norm, Float.floatToIntBits(dropouts[0]), Float.floatToIntBits(dropouts[1]),
                Float.floatToIntBits(dropouts[2]), score), java.util.Arrays.asList(bos, eos, pad), extraKeys, extraValues);
    }

    private static int required(JsonNode root, String key) throws Invalid {
        if (root.path(key).isMissingNode() || root.get(key).isNull()) {
            throw new Invalid("missing " + key);
        }
        return integer(root, key, 0);
    }

    /** The value of {@code key} when it has the right JSON type, {@code fallback} when absent or null. */
    private static <T> T field(JsonNode root, String key, T fallback, Predicate<JsonNode> typed,
            Function<JsonNode, T> value) throws Invalid {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!typed.test(v)) {
            throw new Invalid(key + " of another type");
        }
        return value.apply(v);
    }

    private static int integer(JsonNode root, String key, int fallback) throws Invalid {
        return field(root, key, fallback, v -> v.isIntegralNumber() && v.canConvertToInt(), JsonNode::intValue);
    }

    /** A JSON number; one too large for a double (1e400) is no number a config can mean. */
    private static double number(JsonNode root, String key, double fallback) throws Invalid {
        return field(root, key, fallback, v -> v.isNumber() && Double.isFinite(v.doubleValue()), JsonNode::doubleValue);
    }

    private static boolean bool(JsonNode root, String key, boolean fallback) throws Invalid {
        return field(root, key, fallback, JsonNode::isBoolean, JsonNode::booleanValue);
    }

    private static String text(JsonNode root, String key, String fallback) throws Invalid {
        return field(root, key, fallback, JsonNode::isTextual, JsonNode::textValue);
    }

    private static int positive(int v) throws Invalid {
        if (v <= 0) {
            throw new Invalid("not positive");
        }
        return v;
    }

    private static int token(int id, int vocab) throws Invalid {
        if (id < 0 || id >= vocab) {
            throw new Invalid("token id outside the vocabulary");
        }
        return id;
    }
}
