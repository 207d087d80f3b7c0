package rlhf.config;

import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

import rlhf.spark.SparkDefaults;

/**
 * Creates the Spark session of a job.
 *
 * <p>Master: the {@code --master} given, else the one spark-submit set ({@code spark.master}),
 * else {@code local[*]}. Settings, lowest precedence first:
 * <ol>
 *   <li>our defaults for these jobs ({@link #DEFAULTS} and {@link SparkDefaults}),</li>
 *   <li>the {@code spark.*} keys of the job's defaults file,</li>
 *   <li>whatever spark-submit ({@code --conf}, spark-defaults.conf) set,</li>
 *   <li>{@code spark.*} keys the user gave in {@code --config} or {@code --set}.</li>
 * </ol>
 */
public final class SparkSessions {

    /**
     * Defaults for our jobs besides the trainer's ({@link SparkDefaults}): Spark's console
     * progress bar is off because {@code rlhf.metrics.ConsoleProgress} prints our own.
     */
    public static final Map<String, String> DEFAULTS = Map.of("spark.ui.showConsoleProgress", "false");

    /** The incubator module of the Vector API (Java 17), needed in every JVM that runs kernels. */
    static final String VECTOR_MODULE = "jdk.incubator.vector";

    private SparkSessions() {}

    /** The settings {@link #create} applies on top of {@code submitted} (what spark-submit set). */
    static Map<String, String> settings(String master, JobConfig cfg, SparkConf submitted) {
        Map<String, String> out = new LinkedHashMap<>();
        DEFAULTS.forEach((k, v) -> {
            if (!submitted.contains(k)) {
                out.put(k, v);
            }
        });
        if (cfg != null) {
            cfg.sparkValues().forEach((k, v) -> {
                if (cfg.isUserSet(k) || !submitted.contains(k)) {
                    out.put(k, v);
                }
            });
        }
        if (master != null) {
            out.put("spark.master", master);
        } else if (!out.containsKey("spark.master") && !submitted.contains("spark.master")) {
            out.put("spark.master", "local[*]");
        }
        String m = out.getOrDefault("spark.master", submitted.get("spark.master", ""));
        SparkDefaults.settings(m).forEach((k, v) -> {
            if (!submitted.contains(k)) {
                out.putIfAbsent(k, v);
            }
        });
        return out;
    }

    /**
     * A session named {@code appName}; {@code master} and {@code cfg} may be null.
     *
     * @throws ConfigException when this JVM (the driver) lacks the Vector API module the kernels
     *         need: caught here, in one line, instead of as a NoClassDefFoundError mid-run
     */
    public static SparkSession create(String appName, String master, JobConfig cfg) {
        if (ModuleLayer.boot().findModule(VECTOR_MODULE).isEmpty()) {
            throw new ConfigException("this JVM was started without the Vector API module our kernels use: add "
                    + "--add-modules=" + VECTOR_MODULE + " to the driver's Java options (spark-submit "
                    + "--driver-java-options, or spark.driver.extraJavaOptions in cluster deploy mode)");
        }
        SparkSession.Builder b = SparkSession.builder().appName(appName);
        settings(master, cfg, new SparkConf()).forEach(b::config);
        return b.getOrCreate();
    }
}
