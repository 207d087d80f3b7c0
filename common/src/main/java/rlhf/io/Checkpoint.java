package rlhf.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import rlhf.model.ParamLayout;

/**
 * A checkpoint directory on any Hadoop FileSystem ({@code file://}, {@code hdfs://}, {@code s3a://}),
 * laid out so that Hugging Face's {@code from_pretrained} loads the model:
 *
 * <pre>
 * config.json              {@link ModelConfigJson}
 * model.safetensors        {@link Gpt2Weights}: HF names, Conv1D transposed, F32 (or F16/BF16)
 * vocab.json, merges.txt   tokenizer files, bytes as given
 * trainer_state.json       resume only: step, RNG, data position, metrics... (the trainer's JSON)
 * optimizer.safetensors    resume only: AdamW moments as two flat F32 tensors "m" and "v" of shape
 *                          [P], in the order of {@link ParamLayout} of config.json (the same flat
 *                          layout as the parameter buffer, so the optimizer is one loop)
 * checkpoint_complete.json written last: {"files": {name: bytes}}
 * </pre>
 *
 * <p>Why a marker with sizes: everything is written into a sibling {@code <dir>.tmp-<uuid>} and
 * renamed to {@code <dir>} when complete, but rename is a copy on object stores and may be cut
 * half-way; the marker is written after the rename, and {@link #load} checks that it is there and
 * that every file it lists has its size. A directory failing that check is never loaded by
 * {@link #load} and never chosen by {@link RunCheckpoints#newestComplete}. Nothing is Java-serialized.
 *
 * @param tokenizer null when the checkpoint has no tokenizer files
 * @param training null for a model-only checkpoint (or when loaded without training state)
 */
public record Checkpoint(ModelConfigJson config, float[] params, Tokenizer tokenizer, TrainingState training) {

    public static final String CONFIG = ModelConfigJson.FILE;
    public static final String MODEL = Gpt2Weights.FILE;
    public static final String VOCAB = "vocab.json";
    public static final String MERGES = "merges.txt";
    public static final String TRAINER_STATE = "trainer_state.json";
    public static final String OPTIMIZER = "optimizer.safetensors";
    public static final String MARKER = "checkpoint_complete.json";

    public Checkpoint {
        if (config == null || params == null) {
            throw new IllegalArgumentException("a checkpoint needs a config and params");
        }
        int expected = ParamLayout.of(config.model()).size();
        if (params.length != expected) {
            throw new IllegalArgumentException("params has " + params.length + " floats, config.json's model has "
                    + expected);
        }
    }

    /** The two byte-level BPE files, as bytes (another package parses them). */
    public record Tokenizer(byte[] vocabJson, byte[] mergesTxt) {
        public Tokenizer {
            if (vocabJson == null || mergesTxt == null) {
                throw new IllegalArgumentException("tokenizer needs both vocab.json and merges.txt");
            }
        }

        /** The files of {@code tok}, as they will be written. */
        public static Tokenizer of(rlhf.tokenizer.BpeTokenizer tok) throws IOException {
            java.io.ByteArrayOutputStream v = new java.io.ByteArrayOutputStream();
            java.io.ByteArrayOutputStream m = new java.io.ByteArrayOutputStream();
            tok.save(v, m);
            return new Tokenizer(v.toByteArray(), m.toByteArray());
        }

        /** The tokenizer these files describe; errors name the files under {@code dir}. */
        public rlhf.tokenizer.BpeTokenizer load(String dir) throws IOException {
            return rlhf.tokenizer.BpeTokenizer.load(new java.io.ByteArrayInputStream(vocabJson),
                    new java.io.ByteArrayInputStream(mergesTxt), dir + "/" + VOCAB, dir + "/" + MERGES);
        }

        /** Reads vocab.json and merges.txt from a directory on any Hadoop FileSystem. */
        public static Tokenizer fromDir(String dir, Configuration conf) throws IOException {
            Path d = new Path(dir);
            FileSystem fs = d.getFileSystem(conf);
            return new Tokenizer(readBytes(fs, new Path(d, VOCAB)), readBytes(fs, new Path(d, MERGES)));
        }
    }

    /**
     * What a trainer needs to resume: its own JSON (step, RNG state, data position, metrics; the
     * trainer decides the keys) and the AdamW moments in our flat layout (both null, e.g. for SGD,
     * or both of the params' size).
     */
    public record TrainingState(ObjectNode trainerState, float[] adamM, float[] adamV) {
        public TrainingState {
            if (trainerState == null) {
                throw new IllegalArgumentException("trainer state JSON must be set");
            }
            if ((adamM == null) != (adamV == null)) {
                throw new IllegalArgumentException("AdamW moments m and v must be both set or both null");
            }
        }
    }

    // ---------------------------------------------------------------- save

    /** {@link #save(String, Safetensors.Dtype, Configuration)} in F32. */
    public void save(String dir, Configuration conf) throws IOException {
        save(dir, Safetensors.Dtype.F32, conf);
    }

    /**
     * Writes this checkpoint to {@code dir}, replacing one already there only once the new one is
     * complete. The weights are written in {@code dtype}; optimizer moments always in F32.
     * On failure the temporary directory is removed and {@code dir} is as it was.
     */
    public void save(String dir, Safetensors.Dtype dtype, Configuration conf) throws IOException {
        Path target = new Path(dir);
        FileSystem fs = target.getFileSystem(conf);
        target = fs.makeQualified(target);
        Path parent = target.getParent();
        fs.mkdirs(parent);
        Path tmp = new Path(parent, target.getName() + ".tmp-" + UUID.randomUUID());
        Path old = null;
        try {
            if (!fs.mkdirs(tmp)) {
                throw new IOException("cannot create " + tmp);
            }
            config.write(fs, new Path(tmp, CONFIG));
            Gpt2Weights.save(fs, new Path(tmp, MODEL), config.model(), params, dtype);
            if (tokenizer != null) {
                writeBytes(fs, new Path(tmp, VOCAB), tokenizer.vocabJson());
                writeBytes(fs, new Path(tmp, MERGES), tokenizer.mergesTxt());
            }
            if (training != null) {
                writeBytes(fs, new Path(tmp, TRAINER_STATE),
                        Safetensors.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(training.trainerState()));
                if (training.adamM() != null) {
                    writeMoments(fs, new Path(tmp, OPTIMIZER), training.adamM(), training.adamV());
                }
            }
            ObjectNode marker = Safetensors.JSON.createObjectNode();
            marker.put("format", "rlhf-checkpoint-1");
            ObjectNode files = marker.putObject("files");
            for (FileStatus st : fs.listStatus(tmp)) {
                files.put(st.getPath().getName(), st.getLen());
            }
            if (fs.exists(target)) {
                old = new Path(parent, target.getName() + ".old-" + UUID.randomUUID());
                rename(fs, target, old);
            }
            rename(fs, tmp, target);
            writeBytes(fs, new Path(target, MARKER),
                    Safetensors.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(marker));
        } catch (IOException | RuntimeException e) {
            try {
                fs.delete(tmp, true);
                if (old != null && !fs.exists(target)) {
                    rename(fs, old, target); // put the previous checkpoint back
                }
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        if (old != null) {
            fs.delete(old, true);
        }
    }

    private static void rename(FileSystem fs, Path from, Path to) throws IOException {
        if (!fs.rename(from, to)) {
            throw new IOException("could not rename " + from + " to " + to);
        }
    }

    private static void writeMoments(FileSystem fs, Path file, float[] m, float[] v) throws IOException {
        if (m.length != v.length) {
            throw new IllegalArgumentException("AdamW moments m (" + m.length + ") and v (" + v.length
                    + ") differ in size");
        }
        int[] shape = {m.length};
        Safetensors.write(fs, file, List.of(
                Safetensors.Tensor.of("m", Safetensors.Dtype.F32, shape, m, 0),
                Safetensors.Tensor.of("v", Safetensors.Dtype.F32, shape, v, 0)),
                Map.of("format", "pt", "layout", "rlhf-flat"));
    }

    // ---------------------------------------------------------------- load

    /**
     * Loads one of our checkpoints: the completion marker must be present and agree with the files.
     * {@code withTraining} also reads trainer_state.json and the optimizer moments (for --resume).
     */
    public static Checkpoint load(String dir, boolean withTraining, Configuration conf) throws IOException {
        return load(dir, true, withTraining, conf);
    }

    /**
     * Loads any Hugging Face GPT-2 directory (config.json + model.safetensors, tokenizer files if
     * present), e.g. the hub's {@code gpt2}; the marker is checked only if present.
     */
    public static Checkpoint loadPretrained(String dir, Configuration conf) throws IOException {
        return load(dir, false, false, conf);
    }

    private static Checkpoint load(String dir, boolean requireMarker, boolean withTraining, Configuration conf)
            throws IOException {
        Path d = new Path(dir);
        FileSystem fs = d.getFileSystem(conf);
        if (!fs.exists(d)) {
            throw new FileNotFoundException("checkpoint directory " + d + " does not exist");
        }
        if (requireMarker || fs.exists(new Path(d, MARKER))) {
            String problem = incompleteReason(fs, d);
            if (problem != null) {
                throw new CheckpointFormatException("checkpoint " + d + " is incomplete: " + problem);
            }
        }
        Path model = new Path(d, MODEL);
        if (!fs.exists(model)) {
            String why = fs.exists(new Path(d, "model.safetensors.index.json"))
                    ? " (sharded checkpoints are not supported: GPT-2 sizes fit one file)"
                    : fs.exists(new Path(d, "pytorch_model.bin"))
                    ? " (only safetensors is read; pytorch_model.bin is a pickle)" : "";
            throw new CheckpointFormatException("checkpoint " + d + " has no " + MODEL + why);
        }
        ModelConfigJson config = ModelConfigJson.read(fs, new Path(d, CONFIG));
        float[] params = Gpt2Weights.load(fs, model, config.model());
        Tokenizer tok = null;
        boolean hasVocab = fs.exists(new Path(d, VOCAB));
        boolean hasMerges = fs.exists(new Path(d, MERGES));
        if (hasVocab != hasMerges) {
            throw new CheckpointFormatException("checkpoint " + d + " has " + (hasVocab ? VOCAB : MERGES)
                    + " but not " + (hasVocab ? MERGES : VOCAB));
        }
        if (hasVocab) {
            tok = new Tokenizer(readBytes(fs, new Path(d, VOCAB)), readBytes(fs, new Path(d, MERGES)));
        }
        TrainingState training = null;
        Path state = new Path(d, TRAINER_STATE);
        if (withTraining && fs.exists(state)) {
            JsonNode node;
            try {
                node = Safetensors.JSON.readTree(readBytes(fs, state));
            } catch (IOException e) {
                throw new CheckpointFormatException(state + ": not valid JSON: " + e.getMessage());
            }
            if (node == null || !node.isObject()) {
                throw new CheckpointFormatException(state + ": expected a JSON object");
            }
            float[] m = null;
            float[] v = null;
            Path opt = new Path(d, OPTIMIZER);
            if (fs.exists(opt)) {
                try (Safetensors.Reader r = Safetensors.open(fs, opt)) {
                    m = readMoment(r, "m", params.length);
                    v = readMoment(r, "v", params.length);
                }
            }
            training = new TrainingState((ObjectNode) node, m, v);
        }
        return new Checkpoint(config, params, tok, training);
    }

    private static float[] readMoment(Safetensors.Reader r, String name, int size) throws IOException {
        Safetensors.TensorInfo t = r.info(name);
        if (t.shape().length != 1 || t.shape()[0] != size) {
            throw r.error("tensor '" + name + "': expected shape [" + size + "] (the model's parameter count), found "
                    + t.shapeString());
        }
        float[] moment = r.read(name);
        Gpt2Weights.requireFinite(r, name, moment, 0, moment.length, false);
        return moment;
    }

    /** Whether {@code dir} holds a checkpoint whose marker is present and agrees with its files. */
    public static boolean isComplete(FileSystem fs, Path dir) throws IOException {
        return incompleteReason(fs, dir) == null;
    }

    /** Null when complete, else what is wrong. */
    private static String incompleteReason(FileSystem fs, Path dir) throws IOException {
        Path marker = new Path(dir, MARKER);
        if (!fs.exists(marker)) {
            return "no " + MARKER + " (the write was interrupted, or this is not one of our checkpoints)";
        }
        JsonNode files;
        try {
            files = Safetensors.JSON.readTree(readBytes(fs, marker)).get("files");
        } catch (IOException | RuntimeException e) {
            return MARKER + " is unreadable: " + e.getMessage();
        }
        if (files == null || !files.isObject() || !files.has(CONFIG) || !files.has(MODEL)) {
            return MARKER + " does not list " + CONFIG + " and " + MODEL;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = files.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Path f = new Path(dir, e.getKey());
            if (!fs.exists(f)) {
                return e.getKey() + " is missing";
            }
            long len = fs.getFileStatus(f).getLen();
            if (len != e.getValue().asLong(-1)) {
                return e.getKey() + " has " + len + " bytes, " + MARKER + " says " + e.getValue();
            }
        }
        return null;
    }

    // ---------------------------------------------------------------- bytes

    static byte[] readBytes(FileSystem fs, Path file) throws IOException {
        try (InputStream in = fs.open(file)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toByteArray();
        }
    }

    static void writeBytes(FileSystem fs, Path file, byte[] bytes) throws IOException {
        try (OutputStream out = fs.create(file, false)) {
            out.write(bytes);
        }
    }
}
