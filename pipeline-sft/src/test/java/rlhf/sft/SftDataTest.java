package rlhf.sft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import rlhf.spark.IndexedData;
import rlhf.spark.TestSpark;
import rlhf.tokenizer.BpeTokenizer;

/**
 * Data preparation on the executors for the row formats and file types: what the model sees is
 * the template-formatted prompt, then the response and end-of-text, with the loss on the response;
 * the global order (index) does not depend on the number of partitions.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class SftDataTest {

    private static SparkSession spark;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() {
        spark = TestSpark.local(2, "sft-data-test");
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** Sequences of the cached data in global index order, decoded as (input text, target text). */
    private static List<String[]> decoded(IndexedData<Sequence> data, BpeTokenizer tok) {
        List<Object[]> rows = new ArrayList<>();
        for (IndexedData.Shard<Sequence> s : data.shards().collect()) {
            for (int j = 0; j < s.size(); j++) {
                rows.add(new Object[] {s.index[j], s.examples.get(j)});
            }
        }
        rows.sort(Comparator.comparingLong(r -> (Long) r[0]));
        List<String[]> out = new ArrayList<>();
        for (Object[] r : rows) {
            Sequence q = (Sequence) r[1];
            StringBuilder targets = new StringBuilder();
            for (int t : q.targets()) {
                if (t >= 0) {
                    targets.append(t == tok.eosId() ? "<EOS>" : tok.decode(new int[] {t}));
                }
            }
            out.add(new String[] {tok.decode(q.tokens()), targets.toString()});
        }
        return out;
    }

    @Test
    void alpacaParquetIsFormattedByTheAlpacaTemplate() throws Exception {
        StructType schema = new StructType().add("instruction", DataTypes.StringType)
                .add("input", DataTypes.StringType).add("output", DataTypes.StringType);
        Dataset<Row> df = spark.createDataFrame(List.of(RowFactory.create("Add.", "2 3", "5"),
                RowFactory.create("Greet.", "", "hi")), schema);
        String path = tmp.resolve("alpaca.parquet").toString();
        df.coalesce(1).write().parquet(path);
        SftSettings s = SftFixtures.settings("data.train=" + path, "data.format=parquet", "data.context_length=512",
                "output.dir=x");
        BpeTokenizer tok = SftFixtures.byteTokenizer();
        SftData.Prepared p = SftData.prepare(JavaSparkContext.fromSparkContext(spark.sparkContext()),
                SftData.read(spark, path, s), tok, s, "alpaca");
        try {
            List<String[]> rows = decoded(p.data(), tok);
            assertEquals(2, rows.size());
            assertTrue(rows.get(0)[0].startsWith("Below is an instruction that describes a task, paired with an input")
                    && rows.get(0)[0].contains("### Instruction:\nAdd.\n\n### Input:\n2 3\n\n### Response:5"),
                    rows.get(0)[0]);
            assertEquals("5<EOS>", rows.get(0)[1], "loss on the response and end-of-text only");
            assertTrue(rows.get(1)[0].contains("### Instruction:\nGreet.\n\n### Response:hi"), rows.get(1)[0]);
        } finally {
            p.release();
        }
    }

    @Test
    void chatRowsLearnTheLastAssistantTurn() throws Exception {
        Path f = tmp.resolve("chat.jsonl");
        java.nio.file.Files.write(f, List.of("{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"},"
                + "{\"role\":\"assistant\",\"content\":\"Hello!\"},{\"role\":\"user\",\"content\":\"Bye\"},"
                + "{\"role\":\"assistant\",\"content\":\"Ciao\"}]}"));
        SftSettings s = SftFixtures.settings("data.train=" + f, "data.context_length=128", "output.dir=x");
        BpeTokenizer tok = SftFixtures.byteTokenizer();
        SftData.Prepared p = SftData.prepare(JavaSparkContext.fromSparkContext(spark.sparkContext()),
                SftData.read(spark, f.toString(), s), tok, s, "chat");
        try {
            List<String[]> rows = decoded(p.data(), tok);
            assertEquals("<|user|>\nHi\n<|assistant|>\nHello!\n<|user|>\nBye\n<|assistant|>\nCiao", rows.get(0)[0]);
            assertEquals("Ciao<EOS>", rows.get(0)[1]);
        } finally {
            p.release();
        }
    }

    @Test
    void globalOrderIsTheSameForAnyNumberOfPartitions() throws Exception {
        List<String[]> pairs = new ArrayList<>();
        for (int i = 0; i < 23; i++) {
            pairs.add(new String[] {"q" + i, " a" + i});
        }
        String f = SftFixtures.writePairs(tmp.resolve("order.jsonl"), pairs);
        BpeTokenizer tok = SftFixtures.byteTokenizer();
        List<List<String>> byParts = new ArrayList<>();
        for (int parts : new int[] {1, 3}) {
            SftSettings s = SftFixtures.settings("data.train=" + f, "data.template=plain", "data.context_length=16",
                    "data.partitions=" + parts, "output.dir=x");
            SftData.Prepared p = SftData.prepare(JavaSparkContext.fromSparkContext(spark.sparkContext()),
                    SftData.read(spark, f, s), tok, s, "order");
            try {
                assertEquals(parts, p.data().partitions());
                byParts.add(decoded(p.data(), tok).stream().map(r -> r[0]).toList());
            } finally {
                p.release();
            }
        }
        assertEquals("q0 a0", byParts.get(0).get(0));
        assertEquals("q22 a22", byParts.get(0).get(22), "file order");
        assertEquals(byParts.get(0), byParts.get(1));
    }
}
