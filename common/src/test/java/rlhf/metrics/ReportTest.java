package rlhf.metrics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportTest {

    @TempDir
    Path tmp;

    private static int countColour(BufferedImage img, int rgb) {
        int n = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                if ((img.getRGB(x, y) & 0xFFFFFF) == rgb) {
                    n++;
                }
            }
        }
        return n;
    }

    @Test
    void reportDrawsOneChartPerMetricWithASeriesPerRun() throws Exception {
        String a = tmp.resolve("run1/metrics.jsonl").toString();
        String b = tmp.resolve("run2/metrics.jsonl").toString();
        try (MetricsLog la = MetricsLog.create(a); MetricsLog lb = MetricsLog.create(b)) {
            for (int s = 1; s <= 200; s++) {
                la.log(s, Map.of("loss", 4 * Math.exp(-s / 50.0) + 0.1 * Math.sin(s / 3.0), "lr", 3e-4 * Math.min(1, s / 20.0)));
                lb.log(s, Map.of("loss", 3.5 * Math.exp(-s / 80.0) + 0.5));
            }
        }
        String index = new Report("Test <run>")
                .metricCharts(List.of(a, b), List.of("loss", "lr"))
                .table("Samples", List.of("prompt", "completion"), List.of(List.of("2+2=", "<b>4</b> & more")))
                .text("Config", "train.lr = 3e-4\n")
                .write(tmp.resolve("report").toString());
        String html = Files.readString(Path.of(index.replace("file:", "")));
        assertTrue(html.contains("<title>Test &lt;run&gt;</title>"), html);
        assertTrue(html.contains("<td>&lt;b&gt;4&lt;/b&gt; &amp; more</td>"), html);
        assertTrue(html.contains("<img src=\"chart-1.png\"") && html.contains("<img src=\"chart-2.png\""), html);
        assertTrue(html.contains("<pre>train.lr = 3e-4\n</pre>"), html);

        BufferedImage loss = ImageIO.read(tmp.resolve("report/chart-1.png").toFile());
        assertEquals(800, loss.getWidth());
        assertEquals(400, loss.getHeight());
        int first = Chart.PALETTE[0].getRGB() & 0xFFFFFF;
        int second = Chart.PALETTE[1].getRGB() & 0xFFFFFF;
        assertTrue(countColour(loss, first) > 500, "run1 curve pixels: " + countColour(loss, first));
        assertTrue(countColour(loss, second) > 500, "run2 curve pixels: " + countColour(loss, second));
        assertTrue(countColour(loss, 0x000000) > 1000, "axes and text pixels: " + countColour(loss, 0x000000));
        BufferedImage lr = ImageIO.read(tmp.resolve("report/chart-2.png").toFile());
        assertTrue(countColour(lr, first) > 500);
        assertEquals(0, countColour(lr, second), "run2 logged no lr");
    }

    @Test
    void curveIsDrawnWhereTheDataIs() {
        // y = x on [0, 10]: the rising line's pixels must go from the bottom-left to the top-right of the plot.
        double[] x = new double[11];
        for (int i = 0; i <= 10; i++) {
            x[i] = i;
        }
        BufferedImage img = Chart.render("t", "x", "y", List.of(new Chart.Series("y=x", x, x.clone())), 600, 300);
        int c = Chart.PALETTE[0].getRGB() & 0xFFFFFF;
        int minX = Integer.MAX_VALUE, maxX = -1, yAtMinX = -1, yAtMaxX = -1;
        for (int py = 60; py < img.getHeight(); py++) { // below the legend
            for (int px = 0; px < img.getWidth(); px++) {
                if ((img.getRGB(px, py) & 0xFFFFFF) == c) {
                    if (px < minX) {
                        minX = px;
                        yAtMinX = py;
                    }
                    if (px > maxX) {
                        maxX = px;
                        yAtMaxX = py;
                    }
                }
            }
        }
        assertTrue(yAtMinX > yAtMaxX, "line rises left to right: y at left " + yAtMinX + ", at right " + yAtMaxX);
        assertTrue(maxX - minX > 300, "line spans the plot: " + minX + ".." + maxX);
    }

    @Test
    void niceTicksAreMultiplesOfOneTwoFive() {
        assertArrayEquals(new double[] {0, 50, 100, 150, 200}, Chart.niceTicks(1, 200, 8), 1e-9);
        assertArrayEquals(new double[] {0, 1, 2, 3, 4, 5}, Chart.niceTicks(0.1, 4.1, 6), 1e-9);
        assertArrayEquals(new double[] {0, 1e-4, 2e-4, 3e-4}, Chart.niceTicks(0, 3e-4, 6), 1e-12);
        assertEquals("0.5", Chart.tickLabel(0.5, new double[] {0, 0.5, 1}));
        assertEquals("20", Chart.tickLabel(20, new double[] {0, 20, 40}));
    }
}
