package rlhf.io;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

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

    /**
     * Lines of input decoded as UTF-8 strictly: Hadoop's {@code Text} and Spark's strings turn
     * invalid bytes into U+FFFD without a word, and a mangled line must be a bad row instead. One
     * per partition (it keeps a decoder; not thread-safe).
     */
    public static final class StrictUtf8 {
        private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);

        /** The text of {@code bytes}, or null when they are not UTF-8. */
        public String decode(byte[] bytes) {
            try {
                return decoder.decode(ByteBuffer.wrap(bytes)).toString();
            } catch (CharacterCodingException e) {
                return null;
            }
        }

        /** "invalid UTF-8: byte 14 of the line (0xff)", for bytes {@link #decode} refused. */
        public String whyNot(byte[] bytes) {
            ByteBuffer in = ByteBuffer.wrap(bytes);
            decoder.reset();
            decoder.decode(in, CharBuffer.allocate(bytes.length + 1), true);
            int at = Math.min(in.position(), Math.max(bytes.length - 1, 0));
            return String.format(Locale.ROOT, "invalid UTF-8: byte %d of the line (0x%02x)", at,
                    bytes.length == 0 ? 0 : bytes[at] & 0xff);
        }
    }
}
