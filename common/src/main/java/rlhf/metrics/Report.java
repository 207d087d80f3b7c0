package rlhf.metrics;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import javax.imageio.ImageIO;

import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A self-contained HTML report written to a directory (any Hadoop path): {@code index.html}
 * with PNG line charts ({@code chart-1.png}, ...) of metrics from one or more runs, and free
 * sections: tables and preformatted text (e.g. sample generations), all HTML-escaped.
 *
 * <pre>
 * new Report("SFT run 3")
 *     .metricCharts(List.of("out/metrics.jsonl"), List.of("loss", "lr"))
 *     .table("Samples", List.of("prompt", "completion"), rows)
 *     .write("out/report");
 * </pre>
 */
public final class Report {

    private static final int WIDTH = 800;
    private static final int HEIGHT = 400;

    private final String title;
    private final StringBuilder body = new StringBuilder();
    private final List<BufferedImage> charts = new ArrayList<>();

    public Report(String title) {
        this.title = title;
    }

    /** One chart per metric, x = step, one series per metrics file (named by its directory and file). */
    public Report metricCharts(List<String> metricsFiles, List<String> metrics) {
        List<List<MetricsLog.Record>> runs = new ArrayList<>();
        for (String f : metricsFiles) {
            runs.add(MetricsLog.read(f));
        }
        for (String m : metrics) {
            List<Chart.Series> series = new ArrayList<>();
            for (int r = 0; r < runs.size(); r++) {
                List<Double> xs = new ArrayList<>();
                List<Double> ys = new ArrayList<>();
                for (MetricsLog.Record rec : runs.get(r)) {
                    if (rec.values().containsKey(m)) {
                        xs.add((double) rec.step());
                        ys.add(rec.get(m));
                    }
                }
                if (!xs.isEmpty()) {
                    series.add(new Chart.Series(label(metricsFiles.get(r)), toArray(xs), toArray(ys)));
                }
            }
            chart(m, "step", m, series);
        }
        return this;
    }

    /** A chart of the given series. */
    public Report chart(String chartTitle, String xLabel, String yLabel, List<Chart.Series> series) {
        charts.add(Chart.render(chartTitle, xLabel, yLabel, series, WIDTH, HEIGHT));
        String file = "chart-" + charts.size() + ".png";
        body.append("<h2>").append(escape(chartTitle)).append("</h2>\n<img src=\"").append(file)
                .append("\" width=\"").append(WIDTH).append("\" height=\"").append(HEIGHT).append("\" alt=\"")
                .append(escape(chartTitle)).append("\">\n");
        return this;
    }

    /** A table; every cell is escaped. */
    public Report table(String heading, List<String> header, List<List<String>> rows) {
        body.append("<h2>").append(escape(heading)).append("</h2>\n<table>\n<tr>");
        for (String h : header) {
            body.append("<th>").append(escape(h)).append("</th>");
        }
        body.append("</tr>\n");
        for (List<String> row : rows) {
            body.append("<tr>");
            for (String c : row) {
                body.append("<td>").append(escape(c)).append("</td>");
            }
            body.append("</tr>\n");
        }
        body.append("</table>\n");
        return this;
    }

    /** Preformatted text (whitespace kept), escaped. */
    public Report text(String heading, String text) {
        body.append("<h2>").append(escape(heading)).append("</h2>\n<pre>").append(escape(text)).append("</pre>\n");
        return this;
    }

    /** The HTML page (without the chart files). */
    public String html() {
        return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + escape(title) + "</title>\n"
                + "<style>body{font-family:sans-serif;margin:2em;max-width:1000px}"
                + "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
                + "vertical-align:top;white-space:pre-wrap;text-align:left}pre{background:#f6f6f6;padding:8px}</style>\n"
                + "</head><body>\n<h1>" + escape(title) + "</h1>\n" + body + "</body></html>\n";
    }

    /** Writes index.html and the chart PNGs into {@code dir} (created if needed); returns index.html's path. */
    public String write(String dir) {
        try {
            Path d = new Path(dir);
            FileSystem fs = MetricsLog.fs(d);
            fs.mkdirs(d);
            for (int i = 0; i < charts.size(); i++) {
                ByteArrayOutputStream png = new ByteArrayOutputStream();
                ImageIO.write(charts.get(i), "png", png);
                try (OutputStream o = fs.create(new Path(d, "chart-" + (i + 1) + ".png"), true)) {
                    png.writeTo(o);
                }
            }
            Path index = new Path(d, "index.html");
            try (OutputStream o = fs.create(index, true)) {
                o.write(html().getBytes(StandardCharsets.UTF_8));
            }
            return index.toString();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write report to " + dir, e);
        }
    }

    /** "run3/metrics.jsonl" for ".../run3/metrics.jsonl". */
    private static String label(String path) {
        Path p = new Path(path);
        Path parent = p.getParent();
        return parent == null || parent.getName().isEmpty() ? p.getName() : parent.getName() + "/" + p.getName();
    }

    private static double[] toArray(List<Double> l) {
        double[] a = new double[l.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = l.get(i);
        }
        return a;
    }

    /** HTML-escapes &, <, >, " and '. */
    public static String escape(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> sb.append("&amp;");
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '"' -> sb.append("&quot;");
                case '\'' -> sb.append("&#39;");
                default -> sb.append(c);
            }
        }
        return sb.toString();
    }
}
