package rlhf.cli;

import java.io.IOException;
import java.util.function.Function;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import rlhf.config.Args;
import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.config.SparkSessions;
import rlhf.data.DatasetSource;

/**
 * The one error path of every main (model commands through {@link #run}, training jobs, the
 * pipeline and the demo through {@link #job}): a failure becomes one line on stderr and an exit
 * code. 0: done. 2: a mistake the user can fix from the message (configuration, usage, data,
 * paths, checkpoints: a {@link ConfigException}, {@link IllegalArgumentException} or
 * {@link IOException}), which names the file, row or key. 1: anything else, with its stack trace.
 * {@code --debug} prints the stack trace in every case. A failure inside a Spark task is reported
 * by its innermost cause, e.g. the {@link RowException} naming the row, not by Spark's "Job
 * aborted" wrapper. Spark's own reports of that failure (the same exception four times over, with
 * stack traces, from the executor, the task writer and the scheduler) are silenced on this JVM.
 */
public final class Cli {

    private static final Logger LOG = LoggerFactory.getLogger(Cli.class);

    /** The command's own work, given its parsed arguments, configuration and Spark session. */
    @FunctionalInterface
    interface Body {
        void run(Args args, JobConfig cfg, SparkSession spark) throws Exception;
    }

    /** Loggers that report a failed task with its full stack trace (driver side, and executor side in local mode). */
    private static final String[] TASK_FAILURE_LOGGERS = {"org.apache.spark.executor.Executor",
            "org.apache.spark.scheduler.TaskSetManager", "org.apache.spark.internal.io.SparkHadoopWriter",
            "org.apache.spark.util.Utils"};

    /** A main's whole work, from its command line to its last line of output. */
    @FunctionalInterface
    public interface Work {
        void run() throws Exception;
    }

    private Cli() {
    }

    static void main(String command, Args.Spec spec, String[] argv, Body body) {
        System.exit(run(command, spec, argv, body));
    }

    /** A training job's work, given its settings (validated before Spark started) and its session. */
    @FunctionalInterface
    public interface JobBody<S> {
        void run(Args args, S settings, JobConfig cfg, SparkSession spark) throws Exception;
    }

    /**
     * A training job's main, the same recipe for each: parse the command line (or print --help),
     * load conf/COMMAND.properties + --config + --set, read the typed settings and check that the
     * local inputs exist before Spark starts (a bad value or path fails in a second, not after
     * Spark's start-up), log what differs from the
     * defaults, run the body on a Spark session and stop it; failures as in {@link #job(String,
     * String[], Work)}.
     */
    public static <S> void job(String command, Args.Spec spec, String[] argv, Function<JobConfig, S> settings,
            JobBody<S> body) {
        job(command, argv, () -> {
            Args args = spec.parse(argv);
            if (args.help()) {
                System.out.print(spec.usage(JobConfig.defaults(command)));
                return;
            }
            JobConfig cfg = JobConfig.load(command, args);
            S s = settings.apply(cfg);
            if (cfg.isDeclared("data.format")) {
                DatasetSource.checkKeys(cfg);
            }
            InputPaths.requireLocalInputs(cfg);
            LOG.info("{} configuration changes:\n{}", command, cfg.describeChanges());
            SparkSession spark = SparkSessions.create("rlhf " + command, args.master(), cfg);
            try {
                body.run(args, s, cfg, spark);
            } finally {
                spark.stop();
            }
        });
    }

    /**
     * Runs a main's work; on failure reports it (see the class comment) and exits with its code.
     * On success it returns, as a main that spark-submit runs does.
     */
    public static void job(String command, String[] argv, Work work) {
        silenceTaskFailureReports();
        try {
            work.run();
        } catch (Throwable t) {
            System.exit(report(command, t, argv));
        }
    }

    private static void silenceTaskFailureReports() {
        for (String logger : TASK_FAILURE_LOGGERS) {
            Configurator.setLevel(logger, Level.FATAL);
        }
    }

    /** Prints the failure's line (and its stack trace when not the user's to fix, or with --debug); returns the exit code. */
    static int report(String command, Throwable t, String[] argv) {
        Throwable why = cause(t);
        boolean user = why instanceof ConfigException || why instanceof IllegalArgumentException
                || why instanceof IOException;
        System.err.println("rlhf " + command + ": " + (user ? why.getMessage() : why));
        if (!user || java.util.Arrays.asList(argv).contains("--debug")) {
            t.printStackTrace();
        }
        return user ? 2 : 1;
    }

    static int run(String command, Args.Spec spec, String[] argv, Body body) {
        SparkSession spark = null;
        try {
            Args args = spec.parse(argv);
            if (args.help()) {
                System.out.print(spec.usage(JobConfig.defaults(command)));
                return 0;
            }
            JobConfig cfg = JobConfig.load(command, args);
            silenceTaskFailureReports();
            spark = SparkSessions.create("rlhf " + command, args.master(), cfg);
            body.run(args, cfg, spark);
            return 0;
        } catch (Throwable t) {
            return report(command, t, argv);
        } finally {
            if (spark != null) {
                spark.stop();
            }
        }
    }

    /**
     * The exception to report: the outermost one in the chain that is ours to explain and not a bare
     * wrapper (its message only its cause's toString(), as re-throws by Spark and Hadoop make them),
     * else the outermost. A message that names the file or key wins over the library's exception
     * it wraps (Jackson's parse errors and Hadoop's missing files are IOExceptions too); Spark's
     * "Job aborted" is not ours, so a task's failure is reported by our exception inside it.
     */
    static Throwable cause(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            boolean ours = c instanceof IllegalArgumentException || c instanceof IOException
                    || c instanceof IllegalStateException;
            boolean wrapper = c.getCause() != null
                    && (c.getMessage() == null || c.getMessage().equals(c.getCause().toString()));
            if (ours && !wrapper) {
                return c;
            }
        }
        return t;
    }

    static JavaSparkContext context(SparkSession spark) {
        return JavaSparkContext.fromSparkContext(spark.sparkContext());
    }
}
