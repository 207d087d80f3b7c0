package rlhf.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import rlhf.model.GptConfig;

class ModelConfigJsonTest {

    static byte[] gpt2ConfigJson() throws IOException {
        try (InputStream in = ModelConfigJsonTest.class.getResourceAsStream("/io/gpt2-config.json")) {
            return in.readAllBytes();
        }
    }

    @Test
    void readsTheHubGpt2ConfigAsGpt2SmallWithItsDropoutIgnoringUnknownFields() throws IOException {
        ModelConfigJson c = ModelConfigJson.parse(gpt2ConfigJson(), "gpt2/config.json");
        assertEquals(GptConfig.gpt2Small().withDropout(0.1f, 0.1f, 0.1f), c.model());
        assertEquals(50256, c.bosTokenId());
        assertEquals(50256, c.eosTokenId());
        assertNull(c.padTokenId());
        assertEquals(List.of(), c.extraKeys(), "HF fields such as task_specific_params are not extras");
    }

    @Test
    void writesHuggingFaceFieldNamesAndRoundTripsVariantsScoreHeadAndExtras() throws IOException {
        GptConfig m = new GptConfig(300, 32, 2, 4, 16, 1e-6f, GptConfig.Activation.RELU, false,
                GptConfig.Positions.SINUSOIDAL, GptConfig.Norm.POST_LN, 0.05f, 0f, 0.2f, true);
        ModelConfigJson c = new ModelConfigJson(m, 1, 2, 0)
                .withExtra("rlhf_reward_appends_eos", true)
                .withExtra("rlhf_reward_mean", -0.25)
                .withExtra("rlhf_reward_std", 1.5f)
                .withExtra("rlhf_stage", "reward")
                .withExtra("rlhf_step", 1200);
        JsonNode j = c.toJson();
        assertEquals("gpt2", j.get("model_type").asText());
        assertEquals("GPT2ForSequenceClassification", j.get("architectures").get(0).asText());
        assertEquals(1, j.get("num_labels").asInt());
        assertEquals("LABEL_0", j.get("id2label").get("0").asText());
        assertEquals("relu", j.get("activation_function").asText());
        assertEquals(32, j.get("n_ctx").asInt());
        assertEquals(1e-6, j.get("layer_norm_epsilon").asDouble(), 0.0, "written as the float's shortest decimal");
        assertEquals(0, j.get("pad_token_id").asInt());

        ModelConfigJson back = ModelConfigJson.parse(c.toBytes(), "x/config.json");
        assertEquals(m, back.model());
        assertEquals(1, back.bosTokenId());
        assertEquals(2, back.eosTokenId());
        assertEquals(0, back.padTokenId());
        assertTrue(back.extraBoolean("rlhf_reward_appends_eos"));
        assertEquals(-0.25, back.extraDouble("rlhf_reward_mean"));
        assertEquals(1.5, back.extraDouble("rlhf_reward_std"));
        assertEquals(7.0, back.extraDouble("rlhf_missing", 7.0));
        assertEquals("reward", back.extraString("rlhf_stage"));
        assertEquals(List.of("rlhf_reward_appends_eos", "rlhf_reward_mean", "rlhf_reward_std", "rlhf_stage",
                "rlhf_step"), back.extraKeys());
        assertEquals(1200, back.extraLong("rlhf_step"));
        var wrong = assertThrows(IllegalArgumentException.class, () -> back.extraDouble("rlhf_stage"));
        assertTrue(wrong.getMessage().contains("'rlhf_stage' must be a number"), wrong.getMessage());
        assertThrows(IllegalArgumentException.class, () -> c.withExtra("n_layer", 3));
        assertEquals(GptConfig.gpt2(300, 32, 2, 4, 16),
                ModelConfigJson.parse(ModelConfigJson.of(GptConfig.gpt2(300, 32, 2, 4, 16), 299).toBytes(), "f")
                        .model());
    }

    private static String parseError(String json) {
        var e = assertThrows(CheckpointFormatException.class,
                () -> ModelConfigJson.parse(json.getBytes(StandardCharsets.UTF_8), "run/config.json"));
        assertTrue(e.getMessage().startsWith("run/config.json: "), e.getMessage());
        return e.getMessage();
    }

    @Test
    void missingOrWrongFieldsNameTheKeyAndFile() throws IOException {
        String full = new String(gpt2ConfigJson(), StandardCharsets.UTF_8);
        assertTrue(parseError(full.replace("\"n_embd\": 768,", ""))
                .contains("missing required key 'n_embd'"));
        assertTrue(parseError(full.replace("\"n_layer\": 12", "\"n_layer\": \"12\""))
                .contains("'n_layer' must be an integer, found \"12\""));
        assertTrue(parseError(full.replace("gelu_new", "gelu"))
                .contains("'activation_function' must be \"gelu_new\""));
        assertTrue(parseError(full.replace("\"model_type\": \"gpt2\"", "\"model_type\": \"llama\""))
                .contains("'model_type'"));
        assertTrue(parseError(full.replace("\"n_head\": 12", "\"n_head\": 7")).contains("n_head"));
        assertTrue(parseError(full.replace("\"eos_token_id\": 50256", "\"eos_token_id\": 50257"))
                .contains("eos_token_id must be in [0, vocab_size=50257)"));
        String cls = full.replace("GPT2LMHeadModel", "GPT2ForSequenceClassification");
        assertTrue(parseError(cls.replace("\"n_ctx\"", "\"num_labels\": 2, \"n_ctx\""))
                .contains("'num_labels' must be 1"));
        assertTrue(ModelConfigJson.parse(cls.getBytes(StandardCharsets.UTF_8), "f").model().scoreHead());
        assertTrue(parseError("{\"n_layer\": ").contains("not valid JSON"));
    }

    @Test
    void configFieldsThatChangeTheMathAreRefusedNamingTheKey() {
        String base = "{\"n_layer\":1,\"n_head\":2,\"n_embd\":8,\"n_positions\":16,\"vocab_size\":50,\"bos_token_id\":0,\"eos_token_id\":0,";
        String[][] cases = {
            {"\"n_inner\":64}", "n_inner"},
            {"\"scale_attn_by_inverse_layer_idx\":true}", "scale_attn_by_inverse_layer_idx"},
            {"\"scale_attn_weights\":false}", "scale_attn_weights"},
            {"\"add_cross_attention\":true}", "add_cross_attention"},
        };
        for (String[] c : cases) {
            var e = assertThrows(CheckpointFormatException.class,
                    () -> ModelConfigJson.parse((base + c[0]).getBytes(StandardCharsets.UTF_8), "m/config.json"));
            assertTrue(e.getMessage().contains("m/config.json") && e.getMessage().contains("'" + c[1] + "'"),
                    e.getMessage());
        }
        // the defaults, written out as the hub does, are accepted
        assertEquals(8, assertDoesNotThrowParse(base + "\"n_inner\":null,\"scale_attn_weights\":true}").model().nEmbd());
        assertEquals(8, assertDoesNotThrowParse(base + "\"n_inner\":32}").model().nEmbd());
    }

    @Test
    void nInnerMustBeAnIntegerNotTheRightWidthWrittenAsAStringOrAFraction() {
        String base = "{\"n_layer\":1,\"n_head\":2,\"n_embd\":8,\"n_positions\":16,\"vocab_size\":50,"
                + "\"bos_token_id\":0,\"eos_token_id\":0,\"n_inner\":";
        for (String inner : new String[] {"\"32\"", "32.5", "true"}) {
            assertTrue(parseError(base + inner + "}").contains("'n_inner' must be an integer, found " + inner));
        }
    }

    @Test
    void numbersPastTheDoubleRangeAreRefusedNotReadAsInfinity() {
        String json = "{\"n_layer\":1,\"n_head\":2,\"n_embd\":8,\"n_positions\":16,\"vocab_size\":50,"
                + "\"bos_token_id\":0,\"eos_token_id\":0,\"layer_norm_epsilon\":1e400}";
        assertTrue(parseError(json).contains("'layer_norm_epsilon' must be a finite number"));
    }

    @Test
    void bytesThatAreNotUtf8AreRefusedEvenWhereJacksonWouldDecodeThem() {
        // an overlong "a" (C1 A1) in an extra's value: Jackson reads it as "a"
        byte[] json = "{\"n_layer\":1,\"n_head\":2,\"n_embd\":8,\"n_positions\":16,\"vocab_size\":50,\"bos_token_id\":0,\"eos_token_id\":0,\"rlhf_stage\":\"~~\"}"
                .getBytes(StandardCharsets.UTF_8);
        int at = new String(json, StandardCharsets.ISO_8859_1).indexOf("~~");
        json[at] = (byte) 0xc1;
        json[at + 1] = (byte) 0xa1;
        var e = assertThrows(CheckpointFormatException.class, () -> ModelConfigJson.parse(json, "run/config.json"));
        assertEquals("run/config.json: not valid UTF-8", e.getMessage());
    }

    private static ModelConfigJson assertDoesNotThrowParse(String json) {
        try {
            return ModelConfigJson.parse(json.getBytes(StandardCharsets.UTF_8), "m/config.json");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
