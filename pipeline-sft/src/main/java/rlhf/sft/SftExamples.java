package rlhf.sft;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

import rlhf.data.Demonstration;
import rlhf.tokenizer.BpeTokenizer;

/**
 * From demonstrations to training sequences, on the executors: tokenize, append end-of-text,
 * apply the over-long policy, mask the prompt, and optionally pack. Pure functions.
 *
 * <p>Prompt and response are tokenized separately (as Stanford Alpaca's train.py does), so the
 * boundary between them is a token boundary and the mask is exact.
 */
public final class SftExamples {

    private SftExamples() {
    }

    /** What to do with an example longer than the context. */
    public enum Overlong { TRUNCATE, DROP, FAIL }

    /** Which tokens carry a target. */
    public enum LossOn { RESPONSE, ALL }

    /** What became of one demonstration. */
    public enum Kind { KEPT, TRUNCATED, DROPPED_OVERLONG, DROPPED_NO_RESPONSE }

    /**
     * @param sequence null when dropped
     * @param fullLength tokens of prompt + response + end-of-text before any truncation
     */
    public record Outcome(Sequence sequence, Kind kind, int fullLength) {
    }

    /**
     * The sequence of one demonstration: ids = prompt ++ response ++ [eos], at most T of them
     * (T = contextLength), inputs ids[0..L-2], targets ids[1..L-1] where they fall in the
     * response (or everywhere with {@link LossOn#ALL}). An over-long example is cut to its first T
     * tokens ({@link Overlong#TRUNCATE}) or dropped ({@link Overlong#DROP}, and also FAIL: the
     * caller reports those). A truncated example left without response tokens is dropped.
     */
    public static Outcome tokenize(BpeTokenizer tok, Demonstration d, int contextLength, Overlong policy,
            LossOn lossOn) {
        int[] prompt = tok.encode(d.prompt());
        int[] response = tok.encode(d.response());
        int full = prompt.length + response.length + 1;
        Kind kind = Kind.KEPT;
        if (full > contextLength) {
            if (policy != Overlong.TRUNCATE) {
                return new Outcome(null, Kind.DROPPED_OVERLONG, full);
            }
            kind = Kind.TRUNCATED;
        }
        int L = Math.min(full, contextLength);
        if (L - 1 < Math.max(1, prompt.length)) {
            // no position predicts a response token: nothing to learn from this example
            return new Outcome(null, Kind.DROPPED_NO_RESPONSE, full);
        }
        int[] ids = new int[L];
        int k = Math.min(prompt.length, L);
        System.arraycopy(prompt, 0, ids, 0, k);
        int r = Math.min(response.length, L - k);
        System.arraycopy(response, 0, ids, k, r);
        if (k + r < L) {
            ids[L - 1] = tok.eosId();
        }
        int n = L - 1;
        int[] tokens = Arrays.copyOf(ids, n);
        int[] targets = new int[n];
        for (int i = 0; i < n; i++) {
            targets[i] = lossOn == LossOn.ALL || i + 1 >= prompt.length ? ids[i + 1] : -1;
        }
        return new Outcome(Sequence.of(tokens, targets), kind, full);
    }

    /**
     * Greedy packing in order: sequences are appended to the current pack while its length stays
     * within {@code contextLength - 1} inputs (an example of T tokens has T-1 inputs), then a new
     * pack starts. Each example keeps its own positions (from 0) and gets its own segment id.
     */
    public static Iterator<Sequence> pack(Iterator<Sequence> in, int contextLength) {
        int cap = contextLength - 1;
        return new Iterator<>() {
            private Sequence pending = in.hasNext() ? in.next() : null;

            @Override
            public boolean hasNext() {
                return pending != null;
            }

            @Override
            public Sequence next() {
                if (pending == null) {
                    throw new NoSuchElementException();
                }
                List<Sequence> parts = new ArrayList<>();
                int n = 0;
                while (pending != null && (parts.isEmpty() || n + pending.length() <= cap)) {
                    parts.add(pending);
                    n += pending.length();
                    pending = in.hasNext() ? in.next() : null;
                }
                return concat(parts, n);
            }
        };
    }

    /** Sequences one after another, positions restarting and segments numbered 0, 1, ... */
    static Sequence concat(List<Sequence> parts, int n) {
        int[] tokens = new int[n];
        int[] targets = new int[n];
        int[] positions = new int[n];
        int[] segments = new int[n];
        int o = 0;
        int examples = 0;
        for (int s = 0; s < parts.size(); s++) {
            Sequence p = parts.get(s);
            for (int i = 0; i < p.length(); i++) {
                tokens[o] = p.tokens()[i];
                targets[o] = p.targets()[i];
                positions[o] = p.position(i);
                segments[o] = s;
                o++;
            }
            examples += p.examples();
        }
        return new Sequence(tokens, targets, positions, segments, examples);
    }
}
