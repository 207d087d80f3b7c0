package rlhf.io;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The checkpoints of one training run: {@code <runDir>/checkpoint-<step>}, saved every N steps,
 * keeping the K newest complete ones, and found again for {@code --resume}.
 *
 * <p>Only complete checkpoints ({@link Checkpoint#isComplete}) count: an interrupted write leaves
 * at most a {@code .tmp-}/{@code .old-} sibling or a directory without a valid marker, which is
 * neither chosen for resume nor counted among the K kept; pruning removes such leftovers once they
 * are older than the K kept checkpoints.
 */
public final class RunCheckpoints {

    public static final String PREFIX = "checkpoint-";
    private static final Pattern NAME = Pattern.compile("checkpoint-(\\d+)(\\.(tmp|old)-.*)?");

    private final Path runDir;
    private final FileSystem fs;
    private final Configuration conf;
    private final int every;
    private final int keepLast;

    /**
     * @param every    save when {@code step % every == 0}; 0 never
     * @param keepLast number of complete checkpoints kept; 0 keeps all
     */
    public RunCheckpoints(String runDir, int every, int keepLast, Configuration conf) throws IOException {
        if (every < 0 || keepLast < 0) {
            throw new IllegalArgumentException("checkpoint every (" + every + ") and keep (" + keepLast
                    + ") must be >= 0");
        }
        Path p = new Path(runDir);
        this.fs = p.getFileSystem(conf);
        this.runDir = fs.makeQualified(p);
        this.conf = conf;
        this.every = every;
        this.keepLast = keepLast;
    }

    /** Whether a checkpoint is due after {@code step}. */
    public boolean due(long step) {
        return every > 0 && step > 0 && step % every == 0;
    }

    public String dirFor(long step) {
        return new Path(runDir, PREFIX + step).toString();
    }

    /** Saves {@code ckpt} as {@code checkpoint-<step>}, then prunes; returns its directory. */
    public String save(long step, Checkpoint ckpt, Safetensors.Dtype dtype) throws IOException {
        String dir = saveUnpruned(step, ckpt, dtype);
        prune();
        return dir;
    }

    /**
     * Saves {@code ckpt} as {@code checkpoint-<step>} and leaves the older checkpoints in place:
     * for one half of a checkpoint written as two runs (PPO's critic, then its policy), pruned with
     * {@link #prune()} only once the other half is saved too, so that a crash in between leaves the
     * older pair whole. Returns its directory.
     */
    public String saveUnpruned(long step, Checkpoint ckpt, Safetensors.Dtype dtype) throws IOException {
        String dir = dirFor(step);
        ckpt.save(dir, dtype, conf);
        return dir;
    }

    /** Directory of the newest complete checkpoint of this run, if any. */
    public Optional<String> newestComplete() throws IOException {
        List<Long> steps = completeSteps();
        return steps.isEmpty() ? Optional.empty() : Optional.of(dirFor(steps.get(steps.size() - 1)));
    }

    /** Steps of the complete checkpoints, ascending. */
    public List<Long> completeSteps() throws IOException {
        List<Long> out = new ArrayList<>();
        if (!fs.exists(runDir)) {
            return out;
        }
        for (FileStatus st : fs.listStatus(runDir)) {
            Matcher m = NAME.matcher(st.getPath().getName());
            if (st.isDirectory() && m.matches() && m.group(2) == null && Checkpoint.isComplete(fs, st.getPath())) {
                out.add(Long.parseLong(m.group(1)));
            }
        }
        out.sort(null);
        return out;
    }

    /**
     * Deletes complete checkpoints beyond the {@code keepLast} newest, and any leftover
     * (incomplete, {@code .tmp-}, {@code .old-}) older than the oldest one kept.
     */
    public void prune() throws IOException {
        List<Long> complete = completeSteps();
        if (keepLast == 0 || complete.size() <= keepLast) {
            return;
        }
        long oldestKept = complete.get(complete.size() - keepLast);
        for (FileStatus st : fs.listStatus(runDir)) {
            Matcher m = NAME.matcher(st.getPath().getName());
            if (m.matches() && Long.parseLong(m.group(1)) < oldestKept) {
                fs.delete(st.getPath(), true);
            }
        }
    }

    /** {@link #newestComplete()} of {@code runDir}. */
    public static Optional<String> newestComplete(String runDir, Configuration conf) throws IOException {
        return new RunCheckpoints(runDir, 0, 0, conf).newestComplete();
    }

    /**
     * What {@code --resume PATH} means: PATH itself when it is a complete checkpoint, else the newest
     * complete checkpoint under PATH taken as a run directory; an error when there is neither.
     */
    public static String resolveResume(String path, Configuration conf) throws IOException {
        Path p = new Path(path);
        FileSystem fs = p.getFileSystem(conf);
        if (!fs.exists(p)) {
            throw new FileNotFoundException("--resume " + path + ": no such directory");
        }
        if (Checkpoint.isComplete(fs, p)) {
            return fs.makeQualified(p).toString();
        }
        return newestComplete(path, conf).orElseThrow(() -> new CheckpointFormatException("--resume " + path
                + ": neither a complete checkpoint nor a run directory holding a complete " + PREFIX + "<step>"));
    }
}
