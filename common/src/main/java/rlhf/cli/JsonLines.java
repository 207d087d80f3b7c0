package rlhf.cli;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.UUID;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.LongWritable;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.mapred.TextInputFormat;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;

import rlhf.config.ConfigException;
import rlhf.io.TextFiles;

/**
 * JSON-lines files in and out, on any Hadoop file system.
 *
 * <p>In: a file, a directory (every file in it and below, except names starting with "_" or ".",
 * as Spark and Hadoop write them) or a glob, read in path order. Each non-blank line is one
 * {@link InputRow} numbered by its line in its file and by its global position; a first pass
 * counts the lines of each partition (only the counts come back to the driver) so that the second
 * can number them without a shuffle.
 *
 * <p>Out: a directory of part files, one per partition, in input order.
 */
final class JsonLines {

    private JsonLines() {
    }

    /** The input files in path order; an error naming the input when there are none. */
    static List<String> files(String input, Configuration conf) throws IOException {
        Path p = new Path(input);
        FileSystem fs = p.getFileSystem(conf);
        FileStatus[] matches = fs.globStatus(p);
        if (matches == null || matches.length == 0) {
            throw new FileNotFoundException("input " + input + " does not exist");
        }
        List<String> out = new ArrayList<>();
        for (FileStatus st : matches) {
            collect(fs, st, out);
        }
        out.sort(null);
        if (out.isEmpty()) {
            throw new FileNotFoundException("input " + input + " has no files (names starting with _ or . are skipped)");
        }
        return out;
    }

    private static void collect(FileSystem fs, FileStatus st, List<String> out) throws IOException {
        String name = st.getPath().getName();
        if (name.startsWith("_") || name.startsWith(".")) {
            return;
        }
        if (st.isDirectory()) {
            for (FileStatus c : fs.listStatus(st.getPath())) {
                collect(fs, c, out);
            }
        } else {
            out.add(st.getPath().toString());
        }
    }

    /** The rows of the input, numbered (see the class comment). */
    static JavaRDD<InputRow> read(JavaSparkContext sc, String input) throws IOException {
        List<String> files = files(input, sc.hadoopConfiguration());
        List<JavaRDD<byte[]>> parts = new ArrayList<>();
        List<Integer> partFile = new ArrayList<>();
        for (int f = 0; f < files.size(); f++) {
            // bytes, decoded strictly below: sc.textFile would turn invalid UTF-8 into U+FFFD
            JavaRDD<byte[]> lines = sc.hadoopFile(files.get(f), TextInputFormat.class, LongWritable.class, Text.class)
                    .map(kv -> Arrays.copyOf(kv._2().getBytes(), kv._2().getLength()));
            parts.add(lines);
            for (int i = 0; i < lines.getNumPartitions(); i++) {
                partFile.add(f);
            }
        }
        JavaRDD<byte[]> all = parts.size() == 1 ? parts.get(0) : sc.union(parts.toArray(new JavaRDD[0]));
        sc.setJobDescription("count the lines of " + input + " (" + files.size() + " files) to number the rows");
        List<Long> counts = all.mapPartitions(it -> {
            long n = 0;
            for (; it.hasNext(); it.next()) {
                n++;
            }
            return List.of(n).iterator();
        }).collect();
        int P = counts.size();
        long[] start = new long[P];     // global index of each partition's first line
        long[] fileStart = new long[P]; // global index of the first line of that partition's file
        String[] fileOf = new String[P];
        long total = 0;
        for (int p = 0; p < P; p++) {
            int f = partFile.get(p);
            start[p] = total;
            fileStart[p] = p > 0 && partFile.get(p - 1) == f ? fileStart[p - 1] : total;
            fileOf[p] = files.get(f);
            total += counts.get(p);
        }
        return all.mapPartitionsWithIndex((p, lines) -> new Numbered(lines, start[p], fileStart[p], fileOf[p]), true);
    }

    /** Non-blank lines of one partition as rows; a line that is not UTF-8 is an error naming it. */
    private static final class Numbered implements Iterator<InputRow> {
        private final Iterator<byte[]> lines;
        private final TextFiles.StrictUtf8 utf8 = new TextFiles.StrictUtf8();
        private final long fileStart;
        private final String file;
        private long index;
        private InputRow next;

        Numbered(Iterator<byte[]> lines, long start, long fileStart, String file) {
            this.lines = lines;
            this.index = start;
            this.fileStart = fileStart;
            this.file = file;
        }

        @Override
        public boolean hasNext() {
            while (next == null && lines.hasNext()) {
                byte[] b = lines.next();
                long i = index++;
                String s = utf8.decode(b);
                if (s == null) {
                    throw new RowException(new InputRow(i, file, i - fileStart + 1, ""), utf8.whyNot(b));
                }
                if (!s.isBlank()) {
                    next = new InputRow(i, file, i - fileStart + 1, s);
                }
            }
            return next != null;
        }

        @Override
        public InputRow next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            InputRow r = next;
            next = null;
            return r;
        }
    }

    /**
     * Checks before any work is done that {@code output} can be written: an existing path is an
     * error unless {@code overwrite}. Nothing is deleted here: {@link #write} replaces it once the
     * new output is complete.
     */
    static void prepareOutput(String output, boolean overwrite, Configuration conf) throws IOException {
        Path p = new Path(output);
        if (!overwrite && p.getFileSystem(conf).exists(p)) {
            throw new ConfigException("output " + output + " already exists; remove it or pass --overwrite");
        }
    }

    /**
     * Writes the lines as a directory of part files; {@code description} names the job in the Spark
     * UI. They go to a hidden sibling first, renamed to {@code output} (replacing what is there,
     * --overwrite) only once complete: a failed run leaves neither a partial directory nor a
     * changed {@code output}.
     */
    static void write(JavaRDD<String> lines, String output, String description) throws IOException {
        lines.context().setJobDescription(description);
        Path target = new Path(output);
        FileSystem fs = target.getFileSystem(lines.context().hadoopConfiguration());
        target = fs.makeQualified(target);
        Path tmp = new Path(target.getParent(), "." + target.getName() + ".tmp-" + UUID.randomUUID());
        try {
            lines.saveAsTextFile(tmp.toString());
            fs.delete(target, true);
            if (!fs.rename(tmp, target)) {
                throw new IOException("could not rename " + tmp + " to " + output);
            }
        } finally {
            fs.delete(tmp, true);
        }
    }
}
