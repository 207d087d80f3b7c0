package rlhf.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;

/** Preference rows as a user writes them (pairs, rankings), and JSON-lines files of them, for the jobs' tests. */
public final class PreferenceRows {

    private static final ObjectMapper JSON = new ObjectMapper();

    private PreferenceRows() {
    }

    public static Map<String, Object> pair(String prompt, String chosen, String rejected) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("prompt", prompt);
        m.put("chosen", chosen);
        m.put("rejected", rejected);
        return m;
    }

    /** A K-wise row: {@code order} lists the answer indices best first. */
    public static Map<String, Object> ranking(String prompt, List<String> responses, int... order) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("prompt", prompt);
        m.put("responses", responses);
        m.put("ranking", order);
        return m;
    }

    /** Writes JSON lines, one object per row (creating the directory); returns the file. */
    public static String writeJsonl(Path file, List<Map<String, Object>> rows) throws java.io.IOException {
        List<String> lines = new ArrayList<>();
        for (Map<String, Object> r : rows) {
            lines.add(JSON.writeValueAsString(r));
        }
        Files.createDirectories(file.getParent());
        Files.write(file, lines);
        return file.toString();
    }
}
