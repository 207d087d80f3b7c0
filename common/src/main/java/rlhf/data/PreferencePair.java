package rlhf.data;

/**
 * A human preference: {@code chosen} is better than {@code rejected} for {@code prompt}, by
 * {@code margin} (0 when the data has none; Llama-2-style margin loss uses it).
 */
public record PreferencePair(String prompt, String chosen, String rejected, float margin, String source, long row)
        implements Preference {
    public String where() {
        return source + " row " + row;
    }
}
