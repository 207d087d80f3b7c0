package rlhf.cli;

import java.io.IOException;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import rlhf.config.Args;
import rlhf.config.ConfigException;
import rlhf.config.JobConfig;
import rlhf.config.SparkSessions;

/**
 * What every model command does around its own work: parse the command line, print --help,
 * load the configuration (conf/COMMAND.properties, --config, --set), start Spark, and turn
 * failures into one line on stderr and an exit code (0 done, 1 failed, 2 usage or configuration
 * error). A failure inside a Spark task is reported by its innermost cause, e.g. the
 * {@link RowException} naming the row, not by Spark's "Job aborted" wrapper. Spark's own reports
 * of that failure (the same exception four times over, with stack traces, from the executor, the
 * task writer and the scheduler) are silenced on this JVM; the stack trace is printed here
 * instead whenever the failure is not one the user can fix from its message.
 */
final class Cli {

    /** The command's own work, given its parsed arguments, configuration and Spark session. */
    @FunctionalInterface
    interface Body {
        void run(Args args, JobConfig cfg, SparkSession spark) throws Exception;
    }

    /** Loggers that report a failed task with its full stack trace (driver side, and executor side in local mode). */
    private static final String[] TASK_FAILURE_LOGGERS = {"org.apache.spark.executor.Executor",
            "org.apache.spark.scheduler.TaskSetManager", "org.apache.spark.internal.io.SparkHadoopWriter",
            "org.apache.spark.util.Utils"};

    private Cli() {
    }

    static void main(String command, Args.Spec spec, String[] argv, Body body) {
        System.exit(run(command, spec, argv, body));
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
            for (String logger : TASK_FAILURE_LOGGERS) {
                Configurator.setLevel(logger, Level.FATAL);
            }
            spark = SparkSessions.create("rlhf " + command, args.master(), cfg);
            body.run(args, cfg, spark);
            return 0;
        } catch (Throwable t) {
            Throwable why = cause(t);
            boolean usage = why instanceof ConfigException;
            boolean known = usage || why instanceof IllegalArgumentException || why instanceof IOException;
            System.err.println("rlhf " + command + ": " + (known ? why.getMessage() : why));
            if (!known) {
                t.printStackTrace();
            }
            return usage ? 2 : 1;
        } finally {
            if (spark != null) {
                spark.stop();
            }
        }
    }

    /** The exception to report: the innermost one in the chain that is ours to explain, else the outermost. */
    static Throwable cause(Throwable t) {
        Throwable best = t;
        for (Throwable c = t; c != null && c.getCause() != c; c = c.getCause()) {
            if (c instanceof IllegalArgumentException || c instanceof IOException || c instanceof IllegalStateException) {
                best = c;
            }
        }
        return best;
    }

    static JavaSparkContext context(SparkSession spark) {
        return JavaSparkContext.fromSparkContext(spark.sparkContext());
    }
}
