package rlhf.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsTest {

    @TempDir
    Path tmp;

    @Test
    void metricsFileRoundTripsAndEachLineIsFlushedAsWritten() throws Exception {
        String path = tmp.resolve("run/metrics.jsonl").toString();
        double before = System.currentTimeMillis() / 1000.0;
        try (MetricsLog log = MetricsLog.create(path)) {
            log.log(1, Map.of("loss", 2.5));
            // readable before close: flushed per line
            assertEquals(1, MetricsLog.read(path).size());
            Map<String, Number> m = new LinkedHashMap<>();
            m.put("loss", 2.25f);
            m.put("lr", 3e-4);
            m.put("kl", Double.NaN);
            log.log(2, m);
        }
        List<String> lines = Files.readAllLines(Path.of(path));
        assertEquals(2, lines.size());
        assertTrue(lines.get(1).matches("\\{\"step\":2,\"time\":[0-9]{10}\\.[0-9]{1,3},\"loss\":2.25,\"lr\":3.0E-4,\"kl\":null}"), lines.get(1));
        List<MetricsLog.Record> r = MetricsLog.read(path);
        assertEquals(1, r.get(0).step());
        assertEquals(2.5, r.get(0).get("loss"));
        assertTrue(Double.isNaN(r.get(0).get("lr")), "metric absent at step 1");
        assertEquals(List.of("loss", "lr", "kl"), List.copyOf(r.get(1).values().keySet()));
        assertEquals(3e-4, r.get(1).get("lr"));
        assertTrue(Double.isNaN(r.get(1).get("kl")));
        assertTrue(r.get(1).time() >= before - 1 && r.get(1).time() <= System.currentTimeMillis() / 1000.0 + 1);
    }

    @Test
    void resumeKeepsStepsUpToTheCheckpointAndAppends() throws Exception {
        String path = tmp.resolve("m.jsonl").toString();
        try (MetricsLog log = MetricsLog.create(path)) {
            for (int s = 1; s <= 5; s++) {
                log.log(s, Map.of("loss", 10.0 - s));
            }
        }
        try (MetricsLog log = MetricsLog.resume(path, 3)) {
            log.log(4, Map.of("loss", 0.5));
        }
        List<MetricsLog.Record> r = MetricsLog.read(path);
        assertEquals(List.of(1L, 2L, 3L, 4L), r.stream().map(MetricsLog.Record::step).toList());
        assertEquals(7.0, r.get(2).get("loss"));
        assertEquals(0.5, r.get(3).get("loss"));
    }

    @Test
    void malformedMetricsLineNamesFileAndLine() throws Exception {
        Path p = tmp.resolve("bad.jsonl");
        Files.writeString(p, "{\"step\":1,\"loss\":1}\n{\"loss\":2}\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MetricsLog.read(p.toString()));
        assertEquals("metrics file " + p + " line 2 has no integer \"step\"", e.getMessage());
    }

    @Test
    void progressLineShowsStepMetricsRateElapsedAndEta() {
        long[] now = {0};
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8);
        ConsoleProgress p = new ConsoleProgress("sft", 100, 0, List.of("loss", "lr", "absent"), out, false, 30, () -> now[0]);
        now[0] = 10_000_000_000L; // 10 s: step 1
        p.update(1, 5000, Map.of("loss", 2.34567, "lr", 3e-4, "other", 1));
        now[0] = 20_000_000_000L; // 20 s: step 2, within 30 s of the last line: not printed
        p.update(2, 5000, Map.of("loss", 2.0));
        now[0] = 45_000_000_000L; // 45 s: step 3, printed
        p.update(3, 5000, Map.of("loss", 1.5));
        now[0] = 50_000_000_000L;
        p.update(100, 5000, Map.of("loss", 1.0)); // last step always printed
        List<String> lines = buf.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(List.of(
                "sft 1/100 1% | loss 2.3457 lr 3.000e-04 | 500 tok/s | 10s elapsed, eta 16m30s",
                "sft 3/100 3% | loss 1.5000 | 333 tok/s | 45s elapsed, eta 24m15s",
                "sft 100/100 100% | loss 1.0000 | 400 tok/s | 50s elapsed"), lines);
    }

    @Test
    void progressOnATerminalRedrawsOneLine() {
        long[] now = {0};
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        ConsoleProgress p = new ConsoleProgress("ppo", 2, 0, List.of(), new PrintStream(buf, true, StandardCharsets.UTF_8),
                true, 30, () -> now[0]);
        now[0] = 3_700_000_000_000L;
        p.update(1, 0, Map.of());
        now[0] = 3_800_000_000_000L;
        p.update(2, 0, Map.of());
        assertEquals("\rppo 1/2 50% | 1h01m40s elapsed, eta 1h01m40s\rppo 2/2 100% | 1h03m20s elapsed"
                + " ".repeat(13) + "\n", buf.toString(StandardCharsets.UTF_8));
    }
}
