package rlhf.cli;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.node.ObjectNode;

import rlhf.config.Args;
import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.model.BatchSampler;
import rlhf.model.Generation;
import rlhf.model.GenerationConfig;
import rlhf.model.GptConfig;
import rlhf.spark.ExecutorStates;

/**
 * {@code bin/rlhf generate --model DIR --input IN --output OUT [--set gen.temperature=0 ...]}:
 * rows {"prompt": ...} gain "completion" (its text), "completion_ids" (its tokens, without the
 * EOS that ended it) and "finish_reason" ("stop": the model produced EOS; "length":
 * gen.max_new_tokens or the context ran out). A character cut in two by the length limit decodes
 * as U+FFFD in "completion"; "completion_ids" are exact.
 *
 * <p>Reproducible: token i of a row is drawn with the uniform (gen.seed, row id, i), where the
 * row id is the row's global line number ({@link InputRow}), so the output depends on the input,
 * the model and the seed only — not on partitioning, batch size or the other rows of a batch.
 * An empty prompt starts from EOS (GPT-2's unconditional start); a prompt longer than the context
 * is an error naming its row. Generation stops early when prompt + completion fill n_positions.
 */
public final class GenerateCommand {

    static final Args.Spec SPEC = ModelCommand.spec("generate",
            "rows {\"prompt\"} gain \"completion\", \"completion_ids\" and \"finish_reason\"");

    private GenerateCommand() {
    }

    public static void main(String[] argv) {
        Cli.main("generate", SPEC, argv, (args, cfg, spark) -> {
            int B = ModelCommand.batchSize(cfg, "gen.batch_size");
            Settings s = Settings.of(cfg);
            ModelCommand.run("generate", args, Cli.context(spark), B,
                    m -> ModelCommand.requireCausal(m, "generation needs a causal model"),
                    (m, rows) -> generateBatch(m, rows, B, s));
        });
    }

    /** The gen.* keys (GenerationConfig is built per model, since EOS comes from its config). */
    record Settings(int maxNewTokens, float temperature, int topK, float topP, long seed, boolean stopAtEos)
            implements java.io.Serializable {
        static Settings of(JobConfig cfg) {
            cfg.requireIn("gen.max_new_tokens", 1, 1 << 20);
            cfg.requireIn("gen.top_k", 0, 1 << 30);
            Settings s = new Settings(cfg.getInt("gen.max_new_tokens"),
                    (float) cfg.requireIn("gen.temperature", 0, 1e6), cfg.getInt("gen.top_k"),
                    cfg.getFloat("gen.top_p"), cfg.getLong("gen.seed"), cfg.getBoolean("gen.stop_at_eos"));
            try {
                s.config(0); // validates top_p and the rest now, on the driver
            } catch (IllegalArgumentException e) {
                throw new ConfigException("config key gen." + e.getMessage());
            }
            return s;
        }

        GenerationConfig config(int eosId) {
            return new GenerationConfig(maxNewTokens, temperature, topK, topP, stopAtEos ? eosId : -1, seed);
        }
    }

    static List<String> generateBatch(LoadedModel m, List<InputRow> batch, int B, Settings s) {
        GptConfig g = m.gpt();
        int eos = m.eosId();
        int n = batch.size();
        ObjectNode[] rows = new ObjectNode[n];
        int[][] prompts = new int[n][];
        long[] keys = new long[n];
        int T = 1;
        for (int i = 0; i < n; i++) {
            InputRow r = batch.get(i);
            rows[i] = Json.parse(r);
            int[] p = m.tokenizer.encode(Json.string(rows[i], "prompt", r));
            prompts[i] = p.length > 0 ? p : new int[] {eos};
            ModelCommand.checkContext(r, "prompt", prompts[i].length, g.maxSeqLen());
            keys[i] = r.id();
            T = Math.max(T, prompts[i].length);
        }
        ModelCommand.WorkspaceKey key = new ModelCommand.WorkspaceKey("generate", g, B, ModelCommand.bucket(T, g.maxSeqLen()),
                s.maxNewTokens());
        BatchSampler sampler = ExecutorStates.borrow(key, () -> new BatchSampler(g, key.maxB(), key.maxT(), key.extra()));
        try {
            Generation gen = sampler.sample(m.params, prompts, keys, n, eos, s.config(eos));
            List<String> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                int[] ids = gen.completion(i);
                int len = gen.endedWithEos(i) ? ids.length - 1 : ids.length;
                ObjectNode o = rows[i];
                o.put("completion", m.tokenizer.decode(ids, 0, len));
                Json.ints(o, "completion_ids", ids, 0, len);
                o.put("finish_reason", gen.endedWithEos(i) ? "stop" : "length");
                out.add(Json.write(o));
            }
            return out;
        } finally {
            ExecutorStates.release(key, sampler);
        }
    }
}
