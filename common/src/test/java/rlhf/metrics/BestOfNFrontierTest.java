package rlhf.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BestOfNFrontierTest {

    @TempDir
    Path tmp;

    @Test
    void scoreAtInterpolatesBetweenThePointsAndHoldsBeyondThem() throws Exception {
        Path f = tmp.resolve("report.json");
        Files.writeString(f, "{\"n\": 4, \"frontier\": [{\"k\": 1, \"kl_bound\": 0, \"score\": 0.5},"
                + " {\"k\": 2, \"kl_bound\": 0.2, \"score\": 1.0}, {\"k\": 3, \"kl_bound\": 0.4, \"score\": 1.2},"
                + " {\"k\": 4, \"kl_bound\": 0.6, \"score\": 1.3}]}");
        BestOfNFrontier b = BestOfNFrontier.read(f.toString(), new Configuration());
        assertEquals(4, b.n());
        assertEquals(0.5, b.scoreAt(-0.1), 1e-12);
        assertEquals(0.5, b.scoreAt(0), 1e-12);
        assertEquals(0.75, b.scoreAt(0.1), 1e-12);   // halfway from (0, 0.5) to (0.2, 1.0)
        assertEquals(1.1, b.scoreAt(0.3), 1e-12);    // halfway from (0.2, 1.0) to (0.4, 1.2)
        assertEquals(1.3, b.scoreAt(0.6), 1e-12);
        assertEquals(1.3, b.scoreAt(5), 1e-12);
        assertEquals(null, b.gold(), "a report without a gold rule");
        assertThrows(IllegalStateException.class, () -> b.goldAtScore(1.0));
    }

    @Test
    void aFileThatIsNotABestOfNReportIsNamed() throws Exception {
        Path f = tmp.resolve("metrics.json");
        Files.writeString(f, "{\"loss\": 1}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BestOfNFrontier.read(f.toString(), new Configuration()));
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("'frontier'"), e.getMessage());
        Files.writeString(f, "{\"frontier\": [{\"k\": 1, \"kl_bound\": 0, \"score\": 1}, {\"k\": 3, \"kl_bound\": 1,"
                + " \"score\": 2}]}");
        e = assertThrows(IllegalArgumentException.class, () -> BestOfNFrontier.read(f.toString(), new Configuration()));
        assertTrue(e.getMessage().contains("frontier[1]"), e.getMessage());
    }
}
