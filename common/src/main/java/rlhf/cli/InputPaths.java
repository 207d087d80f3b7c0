package rlhf.cli;

import java.io.IOException;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import rlhf.config.JobConfig;

/**
 * The inputs a job's configuration names, checked before Spark starts: a missing local dataset or
 * model is one line in a second, not after Spark's start-up. Only paths on the local file system
 * (no scheme, or {@code file:}) are checked here; a table or a path on another file system is
 * checked where it is read, with the session's Hadoop configuration.
 */
public final class InputPaths {

    /** The keys that name datasets (files, directories or globs), and what each is in messages. */
    private static final Map<String, String> INPUTS = new LinkedHashMap<>();

    static {
        for (String k : new String[] {"data.train", "data.eval", "data.prompts", "data.ptx", "data.few_shot.path"}) {
            INPUTS.put(k, "dataset");
        }
        for (String k : new String[] {"model.init", "model.policy", "model.reward", "model.critic"}) {
            INPUTS.put(k, "checkpoint directory");
        }
        INPUTS.put("tokenizer.path", "tokenizer directory");
    }

    private InputPaths() {
    }

    /** Throws, naming the key, for the first local input of {@code cfg} that does not exist. */
    static void requireLocalInputs(JobConfig cfg) throws IOException {
        Map<String, String> values = new LinkedHashMap<>();
        for (String key : INPUTS.keySet()) {
            if (cfg.isDeclared(key)) {
                values.put(key, cfg.getString(key));
            }
        }
        requireLocalInputs(values, "");
    }

    /**
     * The same for configuration values given by key ({@code data.train} -> path; keys that name no
     * input are ignored); {@code keyPrefix} is put before the key in the message ("sft.").
     */
    public static void requireLocalInputs(Map<String, String> values, String keyPrefix) throws IOException {
        FileSystem local = null;
        for (Map.Entry<String, String> v : values.entrySet()) {
            String what = INPUTS.get(v.getKey());
            String path = v.getValue() == null ? "" : v.getValue().trim();
            if (what == null || path.isEmpty() || path.startsWith("table:") || !isLocal(path)) {
                continue;
            }
            if (local == null) {
                local = FileSystem.getLocal(new Configuration());
            }
            FileStatus[] matched = local.globStatus(new Path(path));
            if (matched == null || matched.length == 0) {
                throw new IllegalArgumentException(what + " " + path + (path.matches(".*[*?\\[{].*")
                        ? " matches no files" : " does not exist") + " (" + keyPrefix + v.getKey() + ")");
            }
        }
    }

    private static boolean isLocal(String path) {
        try {
            String scheme = new URI(path).getScheme();
            return scheme == null || scheme.equals("file");
        } catch (java.net.URISyntaxException e) {
            return !path.matches("^[A-Za-z][A-Za-z0-9+.-]*://.*"); // a glob or a space: a plain path unless it has a scheme
        }
    }
}
