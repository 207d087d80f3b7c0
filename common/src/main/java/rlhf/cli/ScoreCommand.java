package rlhf.cli;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.node.ObjectNode;

import rlhf.config.Args;
import rlhf.model.GptConfig;
import rlhf.model.RewardScorer;
import rlhf.spark.ExecutorStates;

/**
 * {@code bin/rlhf score --model DIR --input IN --output OUT}: with a reward model, rows
 * {"prompt": ..., "response": ...} gain "reward", the score head at the last token of
 * prompt + response (+ EOS when config.json records {@value RewardScorer#APPENDS_EOS_KEY} = true;
 * see {@link RewardScorer}). Prompt and response are tokenized separately and concatenated.
 */
public final class ScoreCommand {

    static final Args.Spec SPEC = ModelCommand.spec("score",
            "rows {\"prompt\", \"response\"} gain \"reward\" from a reward model (score head)");

    private ScoreCommand() {
    }

    public static void main(String[] argv) {
        Cli.main("score", SPEC, argv, (args, cfg, spark) -> {
            int B = ModelCommand.batchSize(cfg, "score.batch_size");
            ModelCommand.run("score", args, Cli.context(spark), B, m -> {
                if (!m.gpt().scoreHead()) {
                    throw new IllegalArgumentException("checkpoint " + m.path + " is not a reward model: config.json has"
                            + " no score head (architectures GPT2ForSequenceClassification)");
                }
                boolean eos = m.config().extraBoolean(RewardScorer.APPENDS_EOS_KEY, false);
                System.err.println("score: reward at the last token of prompt + response" + (eos ? " + EOS" : "")
                        + " (config.json " + RewardScorer.APPENDS_EOS_KEY + (m.config().hasExtra(RewardScorer.APPENDS_EOS_KEY)
                        ? " = " + eos : " not recorded") + ")");
            }, (m, rows) -> scoreBatch(m, rows, B));
        });
    }

    static List<String> scoreBatch(LoadedModel m, List<InputRow> batch, int B) {
        GptConfig g = m.gpt();
        boolean appendEos = m.config().extraBoolean(RewardScorer.APPENDS_EOS_KEY, false);
        int eos = m.eosId();
        int n = batch.size();
        ObjectNode[] rows = new ObjectNode[n];
        int[][] prompts = new int[n][];
        int[][] responses = new int[n][];
        int maxLen = 1;
        for (int i = 0; i < n; i++) {
            InputRow r = batch.get(i);
            rows[i] = Json.parse(r);
            prompts[i] = m.tokenizer.encode(Json.string(rows[i], "prompt", r));
            responses[i] = m.tokenizer.encode(Json.string(rows[i], "response", r));
            int len = RewardScorer.length(prompts[i], responses[i], appendEos, eos);
            if (len == 0) {
                throw new RowException(r, "prompt and response are both empty: nothing to score");
            }
            ModelCommand.checkContext(r, "prompt + response" + (appendEos ? " + EOS" : ""), len, g.maxSeqLen());
            maxLen = Math.max(maxLen, len);
        }
        ModelCommand.WorkspaceKey key = new ModelCommand.WorkspaceKey("score", g, B, ModelCommand.bucket(maxLen, g.maxSeqLen()), 0);
        RewardScorer scorer = ExecutorStates.borrow(key, () -> new RewardScorer(g, key.maxB(), key.maxT()));
        float[] rewards = new float[n];
        try {
            scorer.score(m.params, prompts, responses, n, appendEos, eos, rewards);
        } finally {
            ExecutorStates.release(key, scorer);
        }
        List<String> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            rows[i].put("reward", rewards[i]);
            out.add(Json.write(rows[i]));
        }
        return out;
    }
}
