package rlhf.cli;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the project's scripts ({@code bin/rlhf}, {@code bin/cluster}) as a user does, for the
 * integration tests (*IT, run by {@code mvn verify} after the jars are packaged). The launcher is
 * told to take the jars the reactor just built ({@code RLHF_PREBUILT=1}) instead of building.
 */
public final class Launcher {

    /** The project root: the nearest directory above the working directory with bin/rlhf. */
    public static final Path ROOT = findRoot();

    /** What a finished command did; stdout and stderr were captured to files. */
    public record Result(int code, String stdout, String stderr) {
        public boolean ok() {
            return code == 0;
        }
    }

    private final Path dir;
    private final Map<String, String> env = new java.util.LinkedHashMap<>();

    /**
     * Commands run in {@code dir} (where relative paths land and output files are kept) with a
     * small driver: 1 GB heap, one kernel thread, C1 only (short runs), no Spark UI.
     */
    public Launcher(Path dir) {
        this.dir = dir;
        env.put("RLHF_PREBUILT", "1");
        env.put("RLHF_DRIVER_MEMORY", "1g");
        env.put("RLHF_JAVA_OPTS", "-Dspark.ui.enabled=false -Drlhf.threads=1 -XX:TieredStopAtLevel=1"
                + " -XX:CICompilerCount=1 -XX:+UseSerialGC");
        env.put("SPARK_LOCAL_IP", "127.0.0.1");
        env.put("PATH", System.getProperty("java.home") + "/bin" + File.pathSeparator + System.getenv("PATH"));
    }

    /** Sets an environment variable of the commands this launcher runs. */
    public Launcher env(String key, String value) {
        env.put(key, value);
        return this;
    }

    /** {@code bin/rlhf args...}, waiting at most {@code timeoutSeconds}. */
    public Result rlhf(int timeoutSeconds, String... args) throws IOException, InterruptedException {
        return run("bin/rlhf", timeoutSeconds, args);
    }

    /** {@code bin/cluster args...}. */
    public Result cluster(int timeoutSeconds, String... args) throws IOException, InterruptedException {
        return run("bin/cluster", timeoutSeconds, args);
    }

    /** Starts {@code bin/rlhf args...} without waiting (to be killed mid-run); output goes to {@code log}. */
    public Process start(Path log, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("bash", ROOT.resolve("bin/rlhf").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().putAll(env);
        return pb.start();
    }

    private Result run(String script, int timeoutSeconds, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("bash", ROOT.resolve(script).toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
        pb.environment().putAll(env);
        Path out = Files.createTempFile(dir, "stdout", ".txt");
        Path err = Files.createTempFile(dir, "stderr", ".txt");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = pb.start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new AssertionError(script + " " + String.join(" ", args) + " did not finish in " + timeoutSeconds
                    + " s; stderr:\n" + tail(Files.readString(err)));
        }
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    /**
     * The Spark home the scripts use (bin/lib/spark-home.sh: $SPARK_HOME, or target/spark-home
     * linked to the Spark jars Maven resolves), prepared if needed.
     */
    public static Path sparkHome() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("bash", "-c", "source \"$0\" && rlhf_spark_home",
                ROOT.resolve("bin/lib/spark-home.sh").toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        if (p.waitFor() != 0 || out.isEmpty()) {
            throw new IllegalStateException("bin/lib/spark-home.sh could not prepare a Spark home");
        }
        return Path.of(out);
    }

    /** The last lines of a long log, for assertion messages. */
    public static String tail(String log) {
        String[] lines = log.split("\n");
        return String.join("\n", java.util.Arrays.copyOfRange(lines, Math.max(0, lines.length - 60), lines.length));
    }

    private static Path findRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isRegularFile(p.resolve("bin/rlhf"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("no bin/rlhf above " + Path.of("").toAbsolutePath());
        }
        return p;
    }
}
