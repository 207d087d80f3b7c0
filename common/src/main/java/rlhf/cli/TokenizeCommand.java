package rlhf.cli;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.LongAccumulator;

import rlhf.config.Args;
import rlhf.tokenizer.BpeTokenizer;

/**
 * {@code bin/rlhf tokenize --tokenizer DIR --input IN --output OUT}: rows {"text": ...} gain
 * "ids", the text's token ids. Every other field of the row is kept.
 */
public final class TokenizeCommand {

    static final Args.Spec SPEC = Args.command("tokenize", "rows {\"text\": ...} gain \"ids\", the token ids of the text")
            .required("tokenizer", "directory with vocab.json and merges.txt (a checkpoint directory will do)")
            .required("input", "JSON lines: a file, a directory of files, or a glob (any Hadoop path)")
            .required("output", "directory of JSON-lines part files to write")
            .flag("overwrite", "replace the output if it exists");

    private TokenizeCommand() {
    }

    public static void main(String[] argv) {
        Cli.main("tokenize", SPEC, argv, (args, cfg, spark) -> {
            JavaSparkContext sc = Cli.context(spark);
            JsonLines.prepareOutput(args.get("output"), args.flag("overwrite"), sc.hadoopConfiguration());
            BpeTokenizer tok = LoadedModel.loadTokenizer(args.get("tokenizer"), sc.hadoopConfiguration());
            boolean eosInText = cfg.getBoolean("tokenize.eos_in_text");
            Broadcast<BpeTokenizer> btok = sc.broadcast(tok);
            LongAccumulator rows = sc.sc().longAccumulator("rows");
            JavaRDD<String> out = JsonLines.read(sc, args.get("input")).mapPartitions(it ->
                    new Batches(it, 256, batch -> {
                        BpeTokenizer t = btok.value();
                        List<String> lines = new ArrayList<>(batch.size());
                        for (InputRow r : batch) {
                            ObjectNode o = Json.parse(r);
                            int[] ids = t.encode(Json.string(o, "text", r), eosInText);
                            Json.ints(o, "ids", ids, 0, ids.length);
                            lines.add(Json.write(o));
                        }
                        rows.add(batch.size());
                        return lines;
                    }));
            JsonLines.write(out, args.get("output"), "tokenize " + args.get("input") + " -> " + args.get("output"));
            System.err.println("tokenize: " + rows.value() + " rows -> " + args.get("output"));
        });
    }
}
