package rlhf.sft;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;

import rlhf.config.JobConfig;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.tokenizer.BpeTokenizer;

/** Shared pieces of the SFT tests: a byte-level tokenizer, data files, settings, greedy completion. */
final class SftFixtures {

    private static final ObjectMapper JSON = new ObjectMapper();

    private SftFixtures() {
    }

    /** GPT-2's printable form of each byte (bytes_to_unicode of OpenAI's encoder.py). */
    static String[] byteStrings() {
        List<Integer> bs = new ArrayList<>();
        for (int b = '!'; b <= '~'; b++) {
            bs.add(b);
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            bs.add(b);
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            bs.add(b);
        }
        String[] out = new String[256];
        for (int b : bs) {
            out[b] = String.valueOf((char) b);
        }
        int n = 0;
        for (int b = 0; b < 256; b++) {
            if (out[b] == null) {
                out[b] = String.valueOf((char) (256 + n++));
            }
        }
        return out;
    }

    /** vocab.json of a byte-level tokenizer without merges: 256 byte tokens (id = byte) and EOS = 256. */
    static byte[] byteVocabJson() throws IOException {
        Map<String, Integer> v = new java.util.LinkedHashMap<>();
        String[] s = byteStrings();
        for (int b = 0; b < 256; b++) {
            v.put(s[b], b);
        }
        v.put(BpeTokenizer.EOS, 256);
        return JSON.writeValueAsBytes(v);
    }

    static BpeTokenizer byteTokenizer() throws IOException {
        return BpeTokenizer.load(new ByteArrayInputStream(byteVocabJson()),
                new ByteArrayInputStream("#version: 0.2\n".getBytes(StandardCharsets.UTF_8)), "vocab.json", "merges.txt");
    }

    /** Writes the byte-level tokenizer's files into dir; returns dir as a string. */
    static String writeByteTokenizer(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.write(dir.resolve("vocab.json"), byteVocabJson());
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\n");
        return dir.toString();
    }

    /** JSON lines of {prompt, response}. */
    static String writePairs(Path file, List<String[]> pairs) throws IOException {
        List<String> lines = new ArrayList<>();
        for (String[] p : pairs) {
            lines.add(JSON.writeValueAsString(Map.of("prompt", p[0], "response", p[1])));
        }
        Files.createDirectories(file.getParent());
        Files.write(file, lines);
        return file.toString();
    }

    /** Defaults of conf/sft.properties (from the class path) with the given key=value overrides. */
    static SftSettings settings(String... sets) {
        JobConfig c = JobConfig.defaults("sft");
        c.applySets(Arrays.asList(sets));
        return SftSettings.from(c);
    }

    /** Greedy completion without a KV cache (tiny models only): up to maxNew tokens, stops at EOS. */
    static String greedy(GptConfig cfg, float[] params, BpeTokenizer tok, String prompt, int maxNew) {
        int[] p = tok.encode(prompt);
        int maxT = p.length + maxNew;
        Gpt gpt = new Gpt(cfg, 1, maxT);
        int[] ids = Arrays.copyOf(p, maxT);
        int[] targets = new int[maxT];
        Arrays.fill(targets, -1);
        float[] logp = new float[maxT];
        int n = p.length;
        List<Integer> out = new ArrayList<>();
        int V = cfg.vocabSize();
        while (n < maxT) {
            gpt.forward(params, ids, null, null, 1, n, false, 0L);
            gpt.lmHeadForward(params, targets, 1f, logp, null);
            float[] logits = gpt.logits();
            int row = (n - 1) * V;
            int best = 0;
            for (int v = 1; v < V; v++) {
                if (logits[row + v] > logits[row + best]) {
                    best = v;
                }
            }
            if (best == tok.eosId()) {
                break;
            }
            out.add(best);
            ids[n++] = best;
        }
        return tok.decode(out.stream().mapToInt(Integer::intValue).toArray());
    }

    /** Index and values of the first difference, and the largest absolute difference. */
    static String firstDifferences(float[] a, float[] b) {
        double max = 0;
        int first = -1;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs((double) a[i] - b[i]);
            if (d > 0 && first < 0) {
                first = i;
            }
            max = Math.max(max, d);
        }
        return first < 0 ? "identical" : "first difference at " + first + ": " + a[first] + " vs " + b[first]
                + ", max abs difference " + max;
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs((double) a[i] - b[i]));
        }
        return max;
    }
}
