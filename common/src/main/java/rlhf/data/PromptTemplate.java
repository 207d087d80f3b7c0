package rlhf.data;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * How the prompt text of an example is built from its fields. One template is used for every
 * row of a dataset and must be the same in SFT, reward and PPO so the model sees one format.
 *
 * <ul>
 *   <li>{@code alpaca} (default): the Stanford Alpaca wording, with and without input, exactly as
 *       in Stanford's train.py. As there, the response follows "### Response:" directly.</li>
 *   <li>{@code plain}: the prompt as it is (an Alpaca input, if any, after a blank line).</li>
 *   <li>anything else: a user template with the placeholders {@code {instruction}} (the same as
 *       {@code {prompt}}) and {@code {input}}; {@code {{}} and {@code }}} are literal braces;
 *       {@code \n} and {@code \t} are newline and tab (so they can be written in a .properties
 *       file). An unknown placeholder is an error.</li>
 * </ul>
 *
 * <p>A prompt/response row is formatted with instruction = prompt and an empty input. An
 * optional few-shot prefix ({@link #withFewShot}) puts N formatted examples, each followed by
 * its output and a blank line, before every prompt.
 */
public final class PromptTemplate implements Serializable {

    /** Stanford Alpaca, rows with a non-empty input. */
    public static final String ALPACA_WITH_INPUT =
            "Below is an instruction that describes a task, paired with an input that provides further context. "
                    + "Write a response that appropriately completes the request.\n\n"
                    + "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:";

    /** Stanford Alpaca, rows without input. */
    public static final String ALPACA_NO_INPUT =
            "Below is an instruction that describes a task. "
                    + "Write a response that appropriately completes the request.\n\n"
                    + "### Instruction:\n{instruction}\n\n### Response:";

    /** A few-shot example: the fields of a row and the answer shown after it. */
    public record Shot(String instruction, String input, String output) implements Serializable {}

    private static final int LITERAL = 0;
    private static final int INSTRUCTION = 1;
    private static final int INPUT = 2;

    /** Parsed template: parallel lists of kinds and literal texts. */
    private record Parsed(int[] kinds, String[] texts) implements Serializable {
        String render(String instruction, String input) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < kinds.length; i++) {
                sb.append(switch (kinds[i]) {
                    case INSTRUCTION -> instruction;
                    case INPUT -> input;
                    default -> texts[i];
                });
            }
            return sb.toString();
        }
    }

    private final String name;
    private final Parsed withInput;
    private final Parsed noInput;
    private final String prefix;

    private PromptTemplate(String name, Parsed withInput, Parsed noInput, String prefix) {
        this.name = name;
        this.withInput = withInput;
        this.noInput = noInput;
        this.prefix = prefix;
    }

    public static PromptTemplate alpaca() {
        return new PromptTemplate("alpaca", parse(ALPACA_WITH_INPUT), parse(ALPACA_NO_INPUT), "");
    }

    public static PromptTemplate plain() {
        return new PromptTemplate("plain", parse("{instruction}\n\n{input}"), parse("{instruction}"), "");
    }

    /** "alpaca", "plain", or a user template (see the class comment). */
    public static PromptTemplate of(String spec) {
        if (spec.equals("alpaca")) {
            return alpaca();
        }
        if (spec.equals("plain")) {
            return plain();
        }
        Parsed p = parse(spec.replace("\\n", "\n").replace("\\t", "\t"));
        return new PromptTemplate(spec, p, p, "");
    }

    /** This template with {@code shots} formatted by it and prepended to every prompt. */
    public PromptTemplate withFewShot(List<Shot> shots) {
        StringBuilder sb = new StringBuilder();
        for (Shot s : shots) {
            sb.append(formatWithoutPrefix(s.instruction(), s.input())).append(s.output()).append("\n\n");
        }
        return new PromptTemplate(name, withInput, noInput, sb.toString());
    }

    /** The prompt for an Alpaca row; {@code input} may be null or empty. */
    public String format(String instruction, String input) {
        return prefix + formatWithoutPrefix(instruction, input);
    }

    /** The prompt for a prompt-only row. */
    public String format(String prompt) {
        return format(prompt, "");
    }

    private String formatWithoutPrefix(String instruction, String input) {
        boolean hasInput = input != null && !input.isEmpty();
        return (hasInput ? withInput : noInput).render(instruction, hasInput ? input : "");
    }

    public String name() {
        return name;
    }

    private static Parsed parse(String t) {
        List<Integer> kinds = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        StringBuilder lit = new StringBuilder();
        int i = 0;
        while (i < t.length()) {
            char c = t.charAt(i);
            if (c == '{' && i + 1 < t.length() && t.charAt(i + 1) == '{') {
                lit.append('{');
                i += 2;
            } else if (c == '}' && i + 1 < t.length() && t.charAt(i + 1) == '}') {
                lit.append('}');
                i += 2;
            } else if (c == '{') {
                int end = t.indexOf('}', i);
                if (end < 0) {
                    throw new IllegalArgumentException("prompt template has an unclosed '{' at character " + i
                            + ": \"" + t + "\" (write {{ for a literal brace)");
                }
                String field = t.substring(i + 1, end);
                int kind = switch (field) {
                    case "instruction", "prompt" -> INSTRUCTION;
                    case "input" -> INPUT;
                    default -> throw new IllegalArgumentException("unknown placeholder {" + field
                            + "} in prompt template \"" + t + "\"; expected {instruction}, {prompt} or {input}");
                };
                if (lit.length() > 0) {
                    kinds.add(LITERAL);
                    texts.add(lit.toString());
                    lit.setLength(0);
                }
                kinds.add(kind);
                texts.add(null);
                i = end + 1;
            } else {
                lit.append(c);
                i++;
            }
        }
        if (lit.length() > 0) {
            kinds.add(LITERAL);
            texts.add(lit.toString());
        }
        return new Parsed(kinds.stream().mapToInt(Integer::intValue).toArray(), texts.toArray(new String[0]));
    }
}
