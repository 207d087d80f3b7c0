package rlhf.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import rlhf.config.Args;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.spark.ExecutorStates;

/**
 * {@code bin/rlhf logprobs --model DIR --input IN --output OUT}: per-token log-probabilities
 * (natural log) under a language model.
 *
 * <ul>
 *   <li>Rows {"text": ...} gain "ids" (the text's tokens), "logprobs" with
 *       {@code logprobs[i-1] = log p(ids[i] | ids[<i])} for {@code i >= 1} (so one fewer than the
 *       ids; the first token has no context) and "sum_logprob", their sum.</li>
 *   <li>Rows {"prompt": ..., "response": ...} (without "text") gain "response_ids" and
 *       "response_logprobs" with {@code response_logprobs[j] = log p(response_ids[j] | prompt ids,
 *       response_ids[<j])}, and "sum_response_logprob". Prompt and response are tokenized
 *       separately and concatenated; the prompt must not be empty.</li>
 * </ul>
 * A sequence longer than the model's context (n_positions) is an error naming the row; nothing
 * is truncated silently.
 */
public final class LogprobsCommand {

    static final Args.Spec SPEC = ModelCommand.spec("logprobs",
            "rows {\"text\"} gain \"ids\", \"logprobs\", \"sum_logprob\"; rows {\"prompt\", \"response\"} gain "
                    + "\"response_logprobs\"");

    private LogprobsCommand() {
    }

    public static void main(String[] argv) {
        Cli.main("logprobs", SPEC, argv, (args, cfg, spark) -> {
            int B = ModelCommand.batchSize(cfg, "logprobs.batch_size");
            ModelCommand.run("logprobs", args, Cli.context(spark), B,
                    m -> ModelCommand.requireCausal(m, "next-token log-probabilities need a causal model"),
                    (m, rows) -> logprobsBatch(m, rows, B));
        });
    }

    /** A Gpt and its token buffers, sized (maxB, maxT). */
    static final class Workspace {
        final Gpt gpt;
        final int[] tokens;
        final int[] targets;
        final float[] logp;

        Workspace(GptConfig cfg, int maxB, int maxT) {
            gpt = new Gpt(cfg, maxB, maxT);
            tokens = new int[maxB * maxT];
            targets = new int[maxB * maxT];
            logp = new float[maxB * maxT];
        }
    }

    static List<String> logprobsBatch(LoadedModel m, List<InputRow> batch, int B) {
        GptConfig g = m.gpt();
        int n = batch.size();
        ObjectNode[] rows = new ObjectNode[n];
        int[][] seqs = new int[n][];
        int[] first = new int[n]; // index of the first token that gets a log-probability
        boolean[] isText = new boolean[n];
        int T = 1;
        for (int i = 0; i < n; i++) {
            InputRow r = batch.get(i);
            ObjectNode o = Json.parse(r);
            rows[i] = o;
            isText[i] = Json.has(o, "text") || !Json.has(o, "prompt") || !Json.has(o, "response");
            if (isText[i]) {
                seqs[i] = m.tokenizer.encode(Json.string(o, "text", r));
                first[i] = 1;
                ModelCommand.checkContext(r, "text", seqs[i].length, g.maxSeqLen());
            } else {
                int[] p = m.tokenizer.encode(Json.string(o, "prompt", r));
                int[] s = m.tokenizer.encode(Json.string(o, "response", r));
                if (p.length == 0) {
                    throw new RowException(r, "empty prompt: the first response token would have no context");
                }
                seqs[i] = Arrays.copyOf(p, p.length + s.length);
                System.arraycopy(s, 0, seqs[i], p.length, s.length);
                first[i] = p.length;
                ModelCommand.checkContext(r, "prompt + response", seqs[i].length, g.maxSeqLen());
            }
            T = Math.max(T, seqs[i].length);
        }
        ModelCommand.WorkspaceKey key = new ModelCommand.WorkspaceKey("lm", g, B, ModelCommand.bucket(T, g.maxSeqLen()), 0);
        Workspace w = ExecutorStates.borrow(key, () -> new Workspace(g, key.maxB(), key.maxT()));
        try {
            int eos = m.eosId();
            for (int i = 0; i < n; i++) {
                int[] s = seqs[i];
                int row = i * T;
                System.arraycopy(s, 0, w.tokens, row, s.length);
                Arrays.fill(w.tokens, row + s.length, row + T, eos);
                Arrays.fill(w.targets, row, row + T, -1);
                // position t predicts token t+1
                for (int t = first[i]; t < s.length; t++) {
                    w.targets[row + t - 1] = s[t];
                }
            }
            w.gpt.forward(m.params, w.tokens, null, null, n, T, false, 0L);
            w.gpt.lmHeadForward(m.params, w.targets, 1f, w.logp, null);
            List<String> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                ObjectNode o = rows[i];
                int[] s = seqs[i];
                boolean text = isText[i];
                String prefix = text ? "" : "response_";
                Json.ints(o, text ? "ids" : "response_ids", s, text ? 0 : first[i], s.length);
                ArrayNode lp = o.putArray(prefix + "logprobs");
                double sum = 0;
                for (int t = first[i]; t < s.length; t++) {
                    float v = w.logp[i * T + t - 1];
                    lp.add(v);
                    sum += v;
                }
                o.put("sum_" + prefix + "logprob", sum);
                out.add(Json.write(o));
            }
            return out;
        } finally {
            ExecutorStates.release(key, w);
        }
    }
}
