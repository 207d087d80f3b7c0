package rlhf.metrics;

import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The metrics of one run as a JSON-lines file on any Hadoop path, one line per step:
 * {@code {"step":12,"time":1764170000.123,"loss":2.31,"lr":0.0003}}. {@code time} is seconds
 * since the epoch. Each line is flushed (hflush) as it is written, so a crash loses nothing
 * already logged and the report can be drawn while the run goes on. Non-finite values are
 * written as {@code null} (JSON has no NaN) and read back as NaN.
 */
public final class MetricsLog implements Closeable {

    /** One line: the step, its wall time, and its metrics in the order logged. */
    public record Record(long step, double time, Map<String, Double> values) {
        /** The metric, or NaN when this step did not log it. */
        public double get(String metric) {
            Double v = values.get(metric);
            return v == null ? Double.NaN : v;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String path;
    private final FSDataOutputStream out;

    private MetricsLog(String path, FSDataOutputStream out) {
        this.path = path;
        this.out = out;
    }

    /** A new, empty log (an existing file is replaced). */
    public static MetricsLog create(String path) {
        try {
            Path p = new Path(path);
            return new MetricsLog(path, fs(p).create(p, true));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create metrics file " + path, e);
        }
    }

    /**
     * Continues the log of a resumed run: keeps the lines with step <= {@code lastStep} (those of
     * the checkpoint resumed from) and drops later ones, which the resumed run logs again.
     * The kept lines are rewritten into a new file, since object stores cannot append.
     */
    public static MetricsLog resume(String path, long lastStep) {
        try {
            Path p = new Path(path);
            FileSystem fs = fs(p);
            if (!fs.exists(p)) {
                return create(path);
            }
            List<Record> keep = new ArrayList<>();
            for (Record r : read(path)) {
                if (r.step() <= lastStep) {
                    keep.add(r);
                }
            }
            FSDataOutputStream o = fs.create(p, true);
            for (Record r : keep) {
                o.write(line(r.step(), r.time(), r.values()));
            }
            o.hflush();
            return new MetricsLog(path, o);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot resume metrics file " + path, e);
        }
    }

    /** Appends one line for {@code step} and flushes it. */
    public void log(long step, Map<String, ? extends Number> metrics) {
        Map<String, Double> values = new LinkedHashMap<>();
        metrics.forEach((k, v) -> values.put(k, v.doubleValue()));
        try {
            out.write(line(step, System.currentTimeMillis() / 1000.0, values));
            out.hflush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write metrics file " + path, e);
        }
    }

    private static byte[] line(long step, double time, Map<String, Double> values) {
        ObjectNode n = JSON.createObjectNode();
        n.put("step", step);
        // plain decimal seconds with millisecond precision (not 1.7957E9)
        n.put("time", Double.isFinite(time) ? new BigDecimal(Math.round(time * 1000)).movePointLeft(3) : null);
        values.forEach((k, v) -> {
            if (k.equals("step") || k.equals("time")) {
                throw new IllegalArgumentException("metric name '" + k + "' is reserved");
            }
            if (Double.isFinite(v)) {
                n.put(k, v);
            } else {
                n.putNull(k);
            }
        });
        try {
            return (JSON.writeValueAsString(n) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every line of a metrics file; a malformed line is an error naming file and line. */
    public static List<Record> read(String path) {
        List<Record> out = new ArrayList<>();
        Path p = new Path(path);
        try (BufferedReader r = new BufferedReader(new InputStreamReader(fs(p).open(p), StandardCharsets.UTF_8))) {
            String s;
            int n = 0;
            while ((s = r.readLine()) != null) {
                n++;
                if (s.isBlank()) {
                    continue;
                }
                JsonNode j;
                try {
                    j = JSON.readTree(s);
                } catch (IOException e) {
                    throw new IllegalArgumentException("metrics file " + path + " line " + n + " is not JSON: " + s);
                }
                if (j == null || !j.has("step") || !j.get("step").canConvertToLong()) {
                    throw new IllegalArgumentException("metrics file " + path + " line " + n + " has no integer \"step\"");
                }
                Map<String, Double> values = new LinkedHashMap<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = j.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    if (e.getKey().equals("step") || e.getKey().equals("time")) {
                        continue;
                    }
                    JsonNode v = e.getValue();
                    values.put(e.getKey(), v.isNumber() ? v.asDouble() : Double.NaN);
                }
                out.add(new Record(j.get("step").asLong(), j.path("time").asDouble(Double.NaN), values));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read metrics file " + path, e);
        }
        return out;
    }

    /** The file system of {@code p}; the raw local one for local files (no .crc side files, readable while written). */
    static FileSystem fs(Path p) throws IOException {
        FileSystem fs = p.getFileSystem(new Configuration());
        return fs instanceof LocalFileSystem l ? l.getRaw() : fs;
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close metrics file " + path, e);
        }
    }
}
