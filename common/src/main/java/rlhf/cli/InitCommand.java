package rlhf.cli;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;

import rlhf.config.Args;
import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.io.Checkpoint;
import rlhf.io.ModelConfigJson;
import rlhf.model.Gpt;
import rlhf.model.GptConfig;
import rlhf.model.ParamLayout;
import rlhf.model.RewardScorer;
import rlhf.tokenizer.BpeTokenizer;
import rlhf.tokenizer.BpeTrainer;

/**
 * {@code bin/rlhf init --config FILE --output DIR}: a randomly initialised model of a configured
 * shape (conf/init.properties lists every key), written as a checkpoint directory with its
 * tokenizer: a given one ({@code tokenizer.path}) or a byte-level BPE trained on a corpus
 * ({@code tokenizer.corpus}). The weights are GPT-2's initialisation, a pure function of
 * {@code init.seed}.
 */
public final class InitCommand {

    static final Args.Spec SPEC = Args.command("init",
                    "a randomly initialised model of a configured shape, with a given or trained tokenizer")
            .required("output", "checkpoint directory to write (any Hadoop path)")
            .flag("overwrite", "replace the output if it exists");

    private InitCommand() {
    }

    public static void main(String[] argv) {
        Cli.main("init", SPEC, argv, (args, cfg, spark) -> {
            JavaSparkContext sc = Cli.context(spark);
            String output = args.get("output");
            JsonLines.prepareOutput(output, args.flag("overwrite"), sc.hadoopConfiguration());
            Checkpoint.Tokenizer files = tokenizer(cfg, sc);
            BpeTokenizer tok = files.load(".");
            GptConfig model = modelConfig(cfg, tok.vocabSize());
            float[] params = new float[ParamLayout.of(model).size()];
            long seed = cfg.getLong("init.seed");
            Gpt.init(model, params, seed);
            ModelConfigJson json = ModelConfigJson.of(model, tok.eosId()).withExtra("rlhf_init_seed", seed);
            String appendsEos = cfg.getString("model.reward_appends_eos");
            if (!appendsEos.isEmpty()) {
                json = json.withExtra(RewardScorer.APPENDS_EOS_KEY, cfg.getBoolean("model.reward_appends_eos"));
            }
            new Checkpoint(json, params, files, null).save(output, sc.hadoopConfiguration());
            System.err.println("init: " + params.length + " parameters (n_layer=" + model.nLayer() + " n_head="
                    + model.nHead() + " n_embd=" + model.nEmbd() + " n_positions=" + model.maxSeqLen() + " vocab_size="
                    + model.vocabSize() + (model.scoreHead() ? ", score head" : "") + ") -> " + output);
        });
    }

    /** The model shape and variants from the model.* keys; vocab_size empty = the tokenizer's. */
    static GptConfig modelConfig(JobConfig cfg, int tokenizerVocab) {
        int vocab = tokenizerVocab;
        if (!cfg.getString("model.vocab_size").isEmpty()) {
            vocab = cfg.getInt("model.vocab_size");
            if (vocab < tokenizerVocab) {
                throw new ConfigException("config key 'model.vocab_size' = " + vocab + " (from "
                        + cfg.source("model.vocab_size") + "): expected at least the tokenizer's " + tokenizerVocab
                        + " tokens, or empty for exactly that");
            }
        }
        try {
            return new GptConfig(vocab, cfg.getInt("model.n_positions"), cfg.getInt("model.n_layer"),
                    cfg.getInt("model.n_head"), cfg.getInt("model.n_embd"), cfg.getFloat("model.layer_norm_epsilon"),
                    cfg.getEnum("model.activation", GptConfig.Activation.class), cfg.getBoolean("model.causal"),
                    cfg.getEnum("model.positions", GptConfig.Positions.class),
                    cfg.getEnum("model.norm", GptConfig.Norm.class), cfg.getFloat("model.embd_pdrop"),
                    cfg.getFloat("model.attn_pdrop"), cfg.getFloat("model.resid_pdrop"),
                    cfg.getBoolean("model.score_head"));
        } catch (ConfigException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            // GptConfig names the field as config.json does (n_embd); ours are model.<field>
            throw new ConfigException("model configuration: " + e.getMessage() + " (keys model.*)", e);
        }
    }

    /** The tokenizer files: copied from tokenizer.path, or trained on tokenizer.corpus. */
    static Checkpoint.Tokenizer tokenizer(JobConfig cfg, JavaSparkContext sc) throws IOException {
        var path = cfg.getOptional("tokenizer.path");
        var corpus = cfg.getOptional("tokenizer.corpus");
        if (path.isPresent() == corpus.isPresent()) {
            throw new ConfigException("set exactly one of tokenizer.path (a directory with vocab.json and merges.txt)"
                    + " and tokenizer.corpus (JSON lines or text to train a BPE on); found "
                    + (path.isPresent() ? "both" : "neither"));
        }
        if (path.isPresent()) {
            Checkpoint.Tokenizer t = Checkpoint.Tokenizer.fromDir(path.get(), sc.hadoopConfiguration());
            t.load(path.get()); // validates the files now
            return t;
        }
        int vocab = (int) cfg.requireIn("tokenizer.vocab_size", 257, 1 << 20);
        int minPairCount = (int) cfg.requireIn("tokenizer.min_pair_count", 1, Integer.MAX_VALUE);
        BpeTokenizer tok = BpeTrainer.train(corpusTexts(cfg, sc, corpus.get()), vocab, minPairCount);
        return Checkpoint.Tokenizer.of(tok);
    }

    /** The training texts: each line (text), or the string fields of each JSON row (jsonl). */
    static JavaRDD<String> corpusTexts(JobConfig cfg, JavaSparkContext sc, String corpus) throws IOException {
        String format = cfg.getString("tokenizer.corpus_format");
        switch (format) {
            case "text":
                return sc.textFile(String.join(",", JsonLines.files(corpus, sc.hadoopConfiguration())));
            case "jsonl":
                List<String> fields = cfg.getList("tokenizer.corpus_fields");
                return JsonLines.read(sc, corpus).flatMap(r -> strings(Json.parse(r), fields).iterator());
            default:
                throw new ConfigException("config key 'tokenizer.corpus_format' = \"" + format + "\" (from "
                        + cfg.source("tokenizer.corpus_format") + "): expected jsonl or text");
        }
    }

    /** The listed top-level string fields, or (none listed) every string value in the row, nested ones too. */
    static List<String> strings(ObjectNode row, List<String> fields) {
        List<String> out = new ArrayList<>();
        if (fields.isEmpty()) {
            addStrings(row, out);
        } else {
            for (String f : fields) {
                JsonNode v = row.get(f);
                if (v != null && v.isTextual()) {
                    out.add(v.textValue());
                }
            }
        }
        return out;
    }

    private static void addStrings(JsonNode n, List<String> out) {
        if (n.isTextual()) {
            out.add(n.textValue());
        } else if (n.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                addStrings(it.next().getValue(), out);
            }
        } else if (n.isArray()) {
            for (JsonNode c : n) {
                addStrings(c, out);
            }
        }
    }
}
