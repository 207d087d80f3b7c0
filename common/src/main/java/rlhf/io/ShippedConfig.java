package rlhf.io;

import java.io.IOException;
import java.io.Serializable;

import rlhf.model.GptConfig;

/**
 * A model's config.json on its way to the executors inside a task's closure: {@link GptConfig} is
 * not serializable, so the JSON travels as bytes and is parsed once per deserialized copy.
 */
public final class ShippedConfig implements Serializable {

    private static final long serialVersionUID = 1L;

    private final byte[] json;
    private final String what;
    private transient GptConfig model;

    /** @param what names the model in a parse error ("policy", "reward model") */
    public ShippedConfig(ModelConfigJson config, String what) {
        this.json = config.toBytes();
        this.what = what;
    }

    /** The shipped config, or null for a null one. */
    public static ShippedConfig of(ModelConfigJson config, String what) {
        return config == null ? null : new ShippedConfig(config, what);
    }

    public synchronized GptConfig model() {
        if (model == null) {
            try {
                model = ModelConfigJson.parse(json, what + " config.json").model();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
        return model;
    }
}
