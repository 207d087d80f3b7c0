package rlhf.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Test;

/** The per-line parsing of {@link JsonLineRows}, driven without Spark. */
class JsonLineRowsTest {

    private static Row parse(String line) throws Exception {
        return JsonLineRows.parser(List.of("prompt"), Map.of(), "_problem", "_file")
                .call(List.of(RowFactory.create(line.getBytes(StandardCharsets.UTF_8), "f.jsonl")).iterator())
                .next();
    }

    @Test
    void aLineHoldingMoreThanTheOneObjectIsMalformedNotTheFirstObjectsRow() throws Exception {
        // two records on one line (a lost newline) used to give the first one's row, the second dropped
        for (String line : List.of("{\"prompt\": \"a\"} {\"prompt\": \"b\"}", "{\"prompt\": \"a\"}x",
                "{\"prompt\": \"a\"},")) {
            Row row = parse(line);
            assertTrue(row.getString(1).startsWith("malformed JSON (expected one object per line): "), line);
            assertNull(row.get(0), line);
        }
        Row spaced = parse(" {\"prompt\": \"a\"} \t");
        assertEquals("a", spaced.get(0));
        assertNull(spaced.get(1), "whitespace around the object is fine");
    }
}
