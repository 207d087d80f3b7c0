package rlhf.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoDataTest {

    private static final DemoData.Config SMALL =
            new DemoData.Config(42, 1200, 200, 600, 200, 300, 4, 300, 300, 0.2, 0.5, MistakeModel.DEFAULT);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final DemoData.Generated GENERATED = DemoData.generate(SMALL);
    private final Oracle oracle = new Oracle();

    @Test
    void sameSeedGivesTheSameBytesAndAnotherSeedDoesNot() {
        Map<String, byte[]> a = DemoData.toJsonLines(GENERATED);
        Map<String, byte[]> b = DemoData.toJsonLines(DemoData.generate(SMALL));
        assertEquals(a.keySet(), b.keySet());
        for (String f : a.keySet()) assertArrayEquals(a.get(f), b.get(f), f);
        DemoData.Config other = new DemoData.Config(43, 1200, 200, 600, 200, 300, 4, 300, 300, 0.2, 0.5,
                MistakeModel.DEFAULT);
        assertFalse(Arrays.equals(a.get("sft_train.jsonl"),
                DemoData.toJsonLines(DemoData.generate(other)).get("sft_train.jsonl")));
    }

    @Test
    void trainAndHeldOutPromptsAreDisjointAndFollowTheSeededHash() {
        DemoData.Generated g = GENERATED;
        Set<String> train = new HashSet<>(), held = new HashSet<>();
        g.sftTrain().forEach(s -> train.add(s.prompt()));
        g.prefsTrain().forEach(s -> train.add(s.prompt()));
        g.rankingsTrain().forEach(s -> train.add(s.prompt()));
        g.ppoPrompts().forEach(s -> train.add(s.prompt()));
        g.sftEval().forEach(s -> held.add(s.prompt()));
        g.prefsEval().forEach(s -> held.add(s.prompt()));
        g.heldoutPrompts().forEach(s -> held.add(s.prompt()));
        Set<String> both = new HashSet<>(train);
        both.retainAll(held);
        assertTrue(both.isEmpty(), "prompts in both splits: " + both);
        for (String p : held) assertTrue(DemoData.isHeldout(p, 42, 0.2), p);
        assertTrue(held.size() > 100, "distinct held-out prompts " + held.size());
        // every family and sub-family is represented in the held-out prompts
        Set<String> subs = new HashSet<>();
        g.heldoutPrompts().forEach(p -> subs.add(p.subfamily()));
        assertEquals(2 * Family.DEMO.size(), subs.size(), subs.toString());
    }

    @Test
    void filesAreJsonLinesWithTheDocumentedFields(@TempDir java.nio.file.Path dir) throws Exception {
        DemoData.Generated g = GENERATED;
        DemoData.write(g, dir.toString());
        Map<String, List<String>> fields = Map.of(
                "sft_train.jsonl", List.of("prompt", "response"),
                "sft_eval.jsonl", List.of("prompt", "response"),
                "prefs_train.jsonl", List.of("prompt", "chosen", "rejected"),
                "prefs_eval.jsonl", List.of("prompt", "chosen", "rejected"),
                "rankings_train.jsonl", List.of("prompt", "responses", "ranking", "scores"),
                "ppo_prompts.jsonl", List.of("prompt", "family", "subfamily", "answer"),
                "heldout_prompts.jsonl", List.of("prompt", "family", "subfamily", "answer"));
        Map<String, Integer> sizes = Map.of("sft_train.jsonl", 1200, "sft_eval.jsonl", 200,
                "prefs_train.jsonl", 600, "prefs_eval.jsonl", 200, "rankings_train.jsonl", 300,
                "ppo_prompts.jsonl", 300, "heldout_prompts.jsonl", 300);
        try (var listing = Files.list(dir)) {
            assertEquals(fields.keySet(), new HashSet<>(listing.map(p -> p.getFileName().toString()).toList()),
                    "files written (no checksum files)");
        }
        Map<String, byte[]> expected = DemoData.toJsonLines(g);
        for (var e : fields.entrySet()) {
            byte[] bytes = Files.readAllBytes(dir.resolve(e.getKey()));
            assertArrayEquals(expected.get(e.getKey()), bytes, e.getKey());
            List<String> lines = Arrays.asList(new String(bytes, StandardCharsets.UTF_8).split("\n"));
            assertEquals(sizes.get(e.getKey()), lines.size(), e.getKey());
            for (int i = 0; i < lines.size(); i++) {
                JsonNode n = JSON.readTree(lines.get(i));
                List<String> names = new ArrayList<>();
                for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) names.add(it.next());
                assertEquals(e.getValue(), names, e.getKey() + " row " + (i + 1));
                oracle.problem(n.get("prompt").asText()); // every prompt parses
            }
        }
        JsonNode held = JSON.readTree(new String(expected.get("heldout_prompts.jsonl"), StandardCharsets.UTF_8)
                .split("\n")[0]);
        Problem p = oracle.problem(held.get("prompt").asText());
        assertEquals(p.answer(), held.get("answer").asText());
        assertEquals(p.family().id(), held.get("family").asText());
    }

    @Test
    void preferencesHaveAnExactlyRightChosenAndAWrongRejected() {
        DemoData.Generated g = GENERATED;
        int hardMain = 0, hard = 0;
        for (List<DemoData.Pref> ps : List.of(g.prefsTrain(), g.prefsEval())) {
            for (DemoData.Pref p : ps) {
                assertEquals(1.0, oracle.score(p.prompt(), p.chosen()), p.toString());
                assertTrue(oracle.score(p.prompt(), p.rejected()) < 1.0, p.toString());
                assertNotEquals(p.chosen(), p.rejected());
                Problem pr = oracle.problem(p.prompt());
                if (pr.hard()) {
                    hard++;
                    if (p.rejected().contains(pr.mistakes().get(0))) hardMain++;
                }
            }
        }
        // rejected answers come from the demonstrators' mistakes: mostly the systematic one on hard prompts
        assertTrue(hardMain > 0.6 * hard, hardMain + " of " + hard);
    }

    @Test
    void rankingsArePermutationsStrictlyOrderedByOracleScore() {
        for (DemoData.Ranking r : GENERATED.rankingsTrain()) {
            int k = r.responses().size();
            assertEquals(4, k);
            assertEquals(k, new HashSet<>(r.responses()).size(), "distinct responses " + r.responses());
            int[] sorted = r.ranking().clone();
            Arrays.sort(sorted);
            assertArrayEquals(new int[] {0, 1, 2, 3}, sorted, "ranking is a permutation");
            for (int i = 0; i < k; i++) {
                assertEquals(oracle.score(r.prompt(), r.responses().get(i)), r.scores()[i], 0.0);
            }
            for (int i = 1; i < k; i++) {
                assertTrue(r.scores()[r.ranking()[i - 1]] > r.scores()[r.ranking()[i]],
                        () -> "not strictly ordered: " + r.responses() + " " + Arrays.toString(r.ranking()));
            }
        }
        DemoData.Config k2 = new DemoData.Config(1, 0, 0, 0, 0, 50, 2, 0, 0, 0.2, 0.5, MistakeModel.DEFAULT);
        for (DemoData.Ranking r : DemoData.generate(k2).rankingsTrain()) {
            assertEquals(2, r.responses().size());
            assertTrue(r.scores()[r.ranking()[0]] > r.scores()[r.ranking()[1]]);
        }
    }

    @Test
    void corpusHoldsEveryPromptAndResponse() {
        DemoData.Generated g = GENERATED;
        Set<String> corpus = new HashSet<>(g.corpus());
        assertTrue(corpus.contains(g.sftTrain().get(0).response()));
        assertTrue(corpus.contains(g.rankingsTrain().get(3).responses().get(2)));
        assertTrue(corpus.contains(g.heldoutPrompts().get(5).prompt()));
        assertEquals(2 * (1200 + 200) + 3 * (600 + 200) + 5 * 300 + 300 + 300, g.corpus().size());
    }

    @Test
    void badConfigAndArgumentsNameTheKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new DemoData.Config(1, -1, 0, 0, 0, 0, 4, 0, 0, 0.2, 0.5, MistakeModel.DEFAULT));
        assertTrue(e.getMessage().contains("sft-train"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DemoData.main(new String[] {"--out", "x", "--bogus", "1"}));
        assertTrue(e.getMessage().contains("--bogus"), e.getMessage());
    }
}
