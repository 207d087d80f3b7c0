package rlhf.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** The real GPT-2 tokenizer files from the test resources, loaded once per test JVM. */
final class Gpt2Files {

    static final String DIR = "/gpt2-tokenizer/";
    private static BpeTokenizer gpt2;

    private Gpt2Files() {
    }

    static synchronized BpeTokenizer gpt2() {
        if (gpt2 == null) {
            try (InputStream v = open("vocab.json"); InputStream m = open("merges.txt")) {
                gpt2 = BpeTokenizer.load(v, m, DIR + "vocab.json", DIR + "merges.txt");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return gpt2;
    }

    static InputStream open(String name) {
        InputStream in = Gpt2Files.class.getResourceAsStream(DIR + name);
        if (in == null) {
            throw new IllegalStateException("test resource " + DIR + name + " not found");
        }
        return in;
    }

    static byte[] bytes(String name) {
        try (InputStream in = open(name)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
