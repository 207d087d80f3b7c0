package rlhf.config;

/**
 * A mistake in a job's configuration or command line that the user can fix: an unknown or
 * mistyped key, a value of the wrong type or out of range, a missing or unknown option. The
 * message names the key or option, where it came from, what was found and what was expected.
 */
public class ConfigException extends IllegalArgumentException {
    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
