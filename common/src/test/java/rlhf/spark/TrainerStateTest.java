package rlhf.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.junit.jupiter.api.Test;

class TrainerStateTest {

    @Test
    void jsonRoundTripKeepsLargeSeedAndIgnoresJobKeys() throws Exception {
        TrainerState s = new TrainerState(120, 3, 4096, -8_000_000_000_123L);
        ObjectNode o = s.toJson();
        o.put("loss", 2.5); // a job's own key next to ours
        String text = new ObjectMapper().writeValueAsString(o);
        assertEquals(s, TrainerState.fromJson(new ObjectMapper().readTree(text), "trainer_state.json"));
    }

    @Test
    void missingOrNonIntegerKeyIsNamedWithTheFile() throws Exception {
        var m = new ObjectMapper();
        var e = assertThrows(IllegalArgumentException.class, () -> TrainerState.fromJson(
                m.readTree("{\"step\": 3, \"epoch\": 0, \"seed\": 1}"), "ckpt/trainer_state.json"));
        assertEquals("ckpt/trainer_state.json: key 'position' must be an integer, found nothing", e.getMessage());
        var f = assertThrows(IllegalArgumentException.class, () -> TrainerState.fromJson(
                m.readTree("{\"step\": 2.5, \"epoch\": 0, \"position\": 0, \"seed\": 1}"), "t.json"));
        assertEquals("t.json: key 'step' must be an integer, found 2.5", f.getMessage());
    }
}
