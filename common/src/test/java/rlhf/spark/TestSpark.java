package rlhf.spark;

import java.io.File;
import java.lang.management.ManagementFactory;
import java.util.stream.Collectors;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * Spark sessions for tests, shared by the job modules (through common's test-jar).
 *
 * <p>{@link #localCluster} starts real executor JVMs ({@code local-cluster[n,1,1024]}) with Spark
 * taken from Maven rather than a Spark installation, which only works with: the Scala version and
 * SPARK_TESTING in the executors' environment, the test JVM's whole class path as the executors'
 * extra class path, and the JVM module options (--add-opens...) in their Java options. Without
 * them executors die at launch and jobs hang, so give such tests a JUnit {@code @Timeout}.
 */
public final class TestSpark {

    private TestSpark() {
    }

    /** {@code local[threads]} without UI, with the trainer defaults. Stop it after the test. */
    public static SparkSession local(int threads, String app) {
        SparkConf conf = SparkDefaults.apply(base(app).setMaster("local[" + threads + "]"));
        return create(conf);
    }

    /** {@code local-cluster[executors,1,1024]}: one core and 1 GB per executor JVM. */
    public static SparkSession localCluster(int executors, String app) {
        SparkConf conf = base(app).setMaster("local-cluster[" + executors + ",1,1024]")
                .set("spark.executor.memory", "768m")
                .set("spark.executorEnv.SPARK_SCALA_VERSION", "2.13")
                .set("spark.executorEnv.SPARK_TESTING", "1")
                .set("spark.executor.extraClassPath", classPath())
                .set("spark.executor.extraJavaOptions", moduleOptions() + " -Drlhf.threads=1");
        SparkDefaults.apply(conf);
        return create(conf);
    }

    /** getOrCreate would hand back a session a previous test left running, with its own master. */
    private static SparkSession create(SparkConf conf) {
        SparkSession s = SparkSession.builder().config(conf).getOrCreate();
        String master = s.sparkContext().master();
        if (!master.equals(conf.get("spark.master"))) {
            throw new IllegalStateException("asked for master " + conf.get("spark.master") + " but a session on "
                    + master + " is still running: stop it in @AfterAll");
        }
        return s;
    }

    /**
     * Stops a {@link #localCluster} session and deletes the executor logs its workers wrote under
     * {@code ./work/<app id>} (the in-process workers' default directory), and {@code ./work} if
     * that leaves it empty.
     */
    public static void stopCluster(SparkSession spark) {
        String app = spark.sparkContext().applicationId();
        spark.stop();
        File work = new File("work");
        deleteTree(new File(work, app));
        String[] left = work.list();
        if (left != null && left.length == 0) {
            work.delete();
        }
    }

    private static void deleteTree(File f) {
        File[] children = f.listFiles();
        if (children != null) {
            for (File c : children) {
                deleteTree(c);
            }
        }
        f.delete();
    }

    private static SparkConf base(String app) {
        return new SparkConf().setAppName(app)
                .set("spark.ui.enabled", "false")
                .set("spark.sql.shuffle.partitions", "2");
    }

    /**
     * The test JVM's class path as absolute paths. Surefire's default manifest-only booter jar
     * would leave just one jar here; {@code surefire.test.class.path} has the full list then.
     */
    static String classPath() {
        String cp = System.getProperty("surefire.test.class.path");
        if (cp == null || cp.isBlank()) {
            cp = System.getProperty("java.class.path");
        }
        return java.util.Arrays.stream(cp.split(File.pathSeparator))
                .filter(s -> !s.isBlank())
                .map(s -> new File(s).getAbsolutePath())
                .collect(Collectors.joining(File.pathSeparator));
    }

    /** This JVM's module and reflection options (from the surefire argLine), for the executors. */
    static String moduleOptions() {
        return ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> a.startsWith("--add-") || a.startsWith("-XX:+IgnoreUnrecognizedVMOptions")
                        || a.startsWith("-Djdk.reflect") || a.startsWith("-Dio.netty"))
                .collect(Collectors.joining(" "));
    }
}
