package rlhf.io;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * UTF-8 text files on any Hadoop file system (JSON lines, reports, written configurations): the one
 * way the jobs write text, replacing an older file and creating the directory it goes in.
 */
public final class TextFiles {

    private TextFiles() {
    }

    /** A buffered UTF-8 writer on {@code file}; close it to finish the file. */
    public static Writer writer(String file, Configuration hconf) throws IOException {
        Path p = new Path(file);
        FileSystem fs = p.getFileSystem(hconf);
        if (p.getParent() != null) {
            fs.mkdirs(p.getParent());
        }
        return new BufferedWriter(new OutputStreamWriter(fs.create(p, true), StandardCharsets.UTF_8), 1 << 16);
    }

    /** {@code file} := {@code text}. */
    public static void write(String file, String text, Configuration hconf) throws IOException {
        try (Writer w = writer(file, hconf)) {
            w.write(text);
        }
    }
}
