package rlhf.reward;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;

import rlhf.config.JobConfig;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.tokenizer.BpeTokenizer;

/** Shared pieces of the reward tests: a byte-level tokenizer, tiny models, data files, settings. */
final class RewardFixtures {

    static final ObjectMapper JSON = new ObjectMapper();

    private RewardFixtures() {
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
        Map<String, Integer> v = new LinkedHashMap<>();
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

    static String writeByteTokenizer(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.write(dir.resolve("vocab.json"), byteVocabJson());
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\n");
        return dir.toString();
    }

    /** A tiny reward model: GPT-2 shape, score head, GPT-2 init and a score head of std 0.5. */
    static float[] tinyModel(GptConfig cfg, long seed) {
        float[] lm = new float[ParamLayout.of(cfg.withScoreHead(false)).size()];
        Gpt.init(cfg.withScoreHead(false), lm, seed);
        return ScoreHead.extend(cfg.withScoreHead(false), lm, 0.5f, seed);
    }

    static RewardSettings settings(String... sets) {
        JobConfig c = JobConfig.defaults("reward");
        c.applySets(Arrays.asList(sets));
        return RewardSettings.from(c);
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs((double) a[i] - b[i]));
        }
        return d;
    }

    /** The first few differing indices with both values, for failure messages. */
    static String firstDifferences(float[] a, float[] b) {
        if (a.length != b.length) {
            return "lengths " + a.length + " vs " + b.length;
        }
        StringBuilder sb = new StringBuilder();
        int n = 0;
        for (int i = 0; i < a.length && n < 5; i++) {
            if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(b[i])) {
                sb.append("[").append(i).append("] ").append(a[i]).append(" vs ").append(b[i]).append("; ");
                n++;
            }
        }
        return n == 0 ? "identical" : sb + "max |diff| " + maxAbsDiff(a, b);
    }
}
