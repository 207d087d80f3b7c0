package rlhf.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Where a run is, for checkpoints: resuming from it (with the same data, seed, global batch and
 * the saved parameters and optimizer state) continues bit-identically.
 *
 * @param step     optimizer steps done so far (the next step has this 0-based number)
 * @param epoch    epoch of the next step
 * @param position examples of that epoch's order already consumed
 * @param seed     the run seed
 */
public record TrainerState(int step, long epoch, long position, long seed) {

    private static final String[] KEYS = {"step", "epoch", "position", "seed"};

    /**
     * As the JSON object of the checkpoint's trainer_state.json ({@code rlhf.io.Checkpoint.TrainingState});
     * a job may add its own keys (metrics) to it.
     */
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("step", step);
        o.put("epoch", epoch);
        o.put("position", position);
        o.put("seed", seed);
        return o;
    }

    /**
     * Reads the keys of {@link #toJson()}, ignoring others.
     *
     * @param where names the file in messages
     */
    public static TrainerState fromJson(JsonNode o, String where) {
        for (String k : KEYS) {
            JsonNode v = o.get(k);
            if (v == null || !v.isIntegralNumber()) {
                throw new IllegalArgumentException(where + ": key '" + k + "' must be an integer, found "
                        + (v == null ? "nothing" : v.toString()));
            }
        }
        long step = o.get("step").asLong();
        if (step < 0 || step > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(where + ": key 'step' must be in [0, 2^31), found " + step);
        }
        return new TrainerState((int) step, o.get("epoch").asLong(), o.get("position").asLong(),
                o.get("seed").asLong());
    }

    /**
     * A resume must find the number {@code key} of trainer_state.json equal to this run's
     * {@code now}, or its data position would mean other examples.
     *
     * @param what the setting or data it stands for, named in the message
     */
    public static void requireSame(ObjectNode st, String key, long now, String dir, String what) {
        if (!st.has(key) || st.get(key).asLong() != now) {
            throw new IllegalArgumentException("--resume: checkpoint " + dir + " was trained with " + key + "="
                    + st.path(key).asText("(missing)") + " but this run has " + now + " (" + what
                    + "); resume with the settings and data of that run");
        }
    }
}
