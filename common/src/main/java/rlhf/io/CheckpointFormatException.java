package rlhf.io;

import java.io.IOException;

/**
 * A checkpoint file exists but its content is wrong: corrupt or truncated safetensors, a
 * config.json missing a key, a tensor of the wrong shape, an incomplete checkpoint directory.
 * The message always names the file and the tensor or key, and what was expected vs found.
 */
public class CheckpointFormatException extends IOException {
    public CheckpointFormatException(String message) {
        super(message);
    }

    public CheckpointFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
