package rlhf.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EvaluationTest {

    @Test
    void accuracyAnswerAccuracyAndRewardPerFamilyAndSubfamilyMatchHandCounts() {
        List<String> prompts = List.of("add 7 and 8", "add 2 and 3", "add 9 and 9", "uppercase dog");
        List<String> outs = List.of("15", "answer: 5", "8", "zzz!");
        Evaluation.Result r = Evaluation.evaluate(prompts, outs, new Oracle());
        assertEquals(4, r.overall().n());
        assertEquals(0.25, r.overall().accuracy(), 1e-12);
        assertEquals(0.5, r.overall().answerAccuracy(), 1e-12);
        assertEquals((1.0 + 0.5 + 0.1 + 0.0) / 4, r.overall().meanReward(), 1e-12);
        assertEquals(1.0 / 3, r.byFamily().get("add").accuracy(), 1e-12);
        assertEquals(0.5, r.bySubfamily().get("add.carry").accuracy(), 1e-12);
        assertEquals(0.0, r.bySubfamily().get("add.nocarry").accuracy(), 1e-12);
        assertEquals(1.0, r.bySubfamily().get("add.nocarry").answerAccuracy(), 1e-12);
        Map<String, Double> m = r.metrics();
        assertEquals(0.25, m.get("accuracy"), 1e-12);
        assertEquals(0.0, m.get("accuracy/upper"), 1e-12);
        assertTrue(r.toString().contains("add.carry"), r.toString());
    }

    @Test
    void mismatchedSizesAreRejected() {
        assertThrows(IllegalArgumentException.class,
                () -> Evaluation.evaluate(List.of("add 1 and 2"), List.of(), new Oracle()));
    }
}
