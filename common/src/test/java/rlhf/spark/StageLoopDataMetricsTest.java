package rlhf.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;

class StageLoopDataMetricsTest {

    @Test
    void theDataCountsOpenMetricsJsonlWithOneCountPerKindOfBadRow() {
        Map<String, Long> bad = new TreeMap<>(Map.of("'response' is null", 3L, "malformed JSON", 1L));
        Map<String, Double> m = StageLoop.dataMetrics(new StageLoop.DataCounts(400, bad),
                new StageLoop.DataCounts(50, Map.of()));
        Map<String, Double> expected = new LinkedHashMap<>();
        expected.put("train_rows", 400.0);
        expected.put("train_bad_rows", 4.0);
        expected.put("train_bad_rows['response' is null]", 3.0);
        expected.put("train_bad_rows[malformed JSON]", 1.0);
        expected.put("eval_rows", 50.0);
        expected.put("eval_bad_rows", 0.0);
        assertEquals(List.copyOf(expected.entrySet()), List.copyOf(m.entrySet()));
        assertEquals(List.of("train_rows", "train_bad_rows"),
                List.copyOf(StageLoop.dataMetrics(new StageLoop.DataCounts(1, Map.of()), null).keySet()));
    }
}
