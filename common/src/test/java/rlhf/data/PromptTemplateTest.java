package rlhf.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;

import org.junit.jupiter.api.Test;

class PromptTemplateTest {

    @Test
    void alpacaWithInputIsTheStanfordText() {
        assertEquals("Below is an instruction that describes a task, paired with an input that provides further "
                        + "context. Write a response that appropriately completes the request.\n\n"
                        + "### Instruction:\nTranslate to French.\n\n### Input:\nGood morning\n\n### Response:",
                PromptTemplate.alpaca().format("Translate to French.", "Good morning"));
    }

    @Test
    void alpacaWithoutInputIsTheStanfordText() {
        String expected = "Below is an instruction that describes a task. Write a response that appropriately "
                + "completes the request.\n\n### Instruction:\nName a colour.\n\n### Response:";
        assertEquals(expected, PromptTemplate.alpaca().format("Name a colour.", ""));
        assertEquals(expected, PromptTemplate.alpaca().format("Name a colour.", null));
        assertEquals(expected, PromptTemplate.alpaca().format("Name a colour."));
    }

    @Test
    void plainKeepsThePromptAndPutsInputAfterABlankLine() {
        assertEquals("2+2=", PromptTemplate.plain().format("2+2="));
        assertEquals("Sum:\n\n1 2", PromptTemplate.plain().format("Sum:", "1 2"));
        assertEquals("plain", PromptTemplate.of("plain").name());
        assertEquals(PromptTemplate.alpaca().format("x"), PromptTemplate.of("alpaca").format("x"));
    }

    @Test
    void userTemplateFillsPlaceholdersAndEscapes() {
        PromptTemplate t = PromptTemplate.of("Q: {prompt}\\n{{ctx}}: {input}\\nA:");
        assertEquals("Q: why?\n{ctx}: sky\nA:", t.format("why?", "sky"));
        assertEquals("Q: why?\n{ctx}: \nA:", t.format("why?"));
        assertEquals("[x|y]", PromptTemplate.of("[{instruction}|{input}]").format("x", "y"));
    }

    @Test
    void unknownPlaceholderIsAnError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PromptTemplate.of("Q: {question}\nA:"));
        assertEquals("unknown placeholder {question} in prompt template \"Q: {question}\nA:\"; "
                + "expected {instruction}, {prompt} or {input}", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PromptTemplate.of("Q: {prompt"));
    }

    @Test
    void fewShotPrefixesFormattedExamplesWithTheirOutputs() {
        PromptTemplate t = PromptTemplate.of("Q: {prompt}\\nA:").withFewShot(List.of(
                new PromptTemplate.Shot("1+1", "", " 2"), new PromptTemplate.Shot("2+3", "", " 5")));
        assertEquals("Q: 1+1\nA: 2\n\nQ: 2+3\nA: 5\n\nQ: 4+4\nA:", t.format("4+4"));
        PromptTemplate a = PromptTemplate.alpaca().withFewShot(List.of(new PromptTemplate.Shot("Add.", "1 2", "3")));
        assertEquals(PromptTemplate.alpaca().format("Add.", "1 2") + "3\n\n" + PromptTemplate.alpaca().format("Mul.", "2 3"),
                a.format("Mul.", "2 3"));
    }

    @Test
    void chatTurnsUseRoleHeaders() {
        assertEquals("<|user|>\nHi\n", ChatTemplate.turn("user", "Hi"));
        assertEquals("<|assistant|>\n", ChatTemplate.assistantHeader());
    }
}
