package rlhf.data;

/**
 * The chat format: each turn is {@code <|role|>\ncontent\n}, e.g.
 * <pre>
 * &lt;|system|&gt;
 * You are helpful.
 * &lt;|user|&gt;
 * Hi!
 * &lt;|assistant|&gt;
 * </pre>
 * A chat example's prompt is every turn before the last assistant turn followed by the
 * assistant header {@code <|assistant|>\n}; its response is the last assistant content (the
 * tokenizer appends end-of-text). Roles are written as they are in the data.
 */
public final class ChatTemplate {
    private ChatTemplate() {}

    /** One rendered turn. */
    public static String turn(String role, String content) {
        return "<|" + role + "|>\n" + content + "\n";
    }

    /** The header after which the model writes the assistant's reply. */
    public static String assistantHeader() {
        return "<|assistant|>\n";
    }
}
