package rlhf.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The loop every input-reader fuzz test runs: numbered cases, each with its own {@link Random}
 * derived from the seed and the case number (so one failing case is reproduced from the two
 * numbers printed), each on a worker thread with a time bound so that a hang fails the case
 * instead of the build. A case returns how the reader handled the mutated input, having checked it
 * itself; anything it throws (an unexpected exception type, a wrong value, an OutOfMemoryError) or
 * a timeout is counted as "other" and fails the test after the summary line is printed.
 */
public final class Fuzz {

    /** How the reader handled one case, both checked by the case. */
    public enum Outcome {
        /** Refused with the project's own error naming the input. */
        REFUSED,
        /** Read, and the result equals the independent reference's. */
        LOADED
    }

    /** One case: mutate with {@code rnd}, run the reader, check it, say which way it went. */
    @FunctionalInterface
    public interface Case {
        Outcome run(int caseNo, Random rnd) throws Exception;
    }

    /**
     * The time bound of one case. Cases take milliseconds; the bound is far above that so that a
     * garbage collection on a machine shared with other builds is not taken for a hang.
     */
    public static final long CASE_MILLIS = 5_000;

    /** The independent reference reading's refusal of an input, saying why. */
    public static final class Invalid extends Exception {
        public Invalid(String why) {
            super(why, null, false, false);
        }
    }

    /** An independent reading of one input: its expected result, or {@link Invalid}. */
    @FunctionalInterface
    public interface Reference<T> {
        T read() throws Invalid;
    }

    /** What the reference expects: {@code value}, or null with {@code whyNot} when it refuses the input. */
    public record Expectation<T>(T value, String whyNot) {
    }

    public static <T> Expectation<T> expect(Reference<T> reference) {
        try {
            return new Expectation<>(reference.read(), null);
        } catch (Invalid e) {
            return new Expectation<>(null, e.getMessage());
        }
    }

    /** Shown for at most this many failing cases; the rest are only counted. */
    private static final int SHOWN = 5;

    private Fuzz() {
    }

    /** The random source of case {@code caseNo} of {@code seed}, independent of the other cases. */
    public static Random random(long seed, int caseNo) {
        return new Random(seed * 1_000_003L + caseNo);
    }

    /**
     * Runs {@code cases} cases, prints {@code fuzz KIND: N cases, R refused, L loaded correctly,
     * O other} and fails when O is not 0, listing the first failures with their seed and case.
     */
    public static void run(String kind, long seed, int cases, Case c) throws InterruptedException {
        int refused = 0;
        int loaded = 0;
        List<String> failures = new ArrayList<>();
        ExecutorService worker = newWorker(kind);
        try {
            for (int i = 0; i < cases; i++) {
                final int caseNo = i;
                Future<Outcome> f = worker.submit(() -> c.run(caseNo, random(seed, caseNo)));
                String failure;
                try {
                    Outcome o = f.get(CASE_MILLIS, TimeUnit.MILLISECONDS);
                    if (o == Outcome.REFUSED) {
                        refused++;
                    } else {
                        loaded++;
                    }
                    continue;
                } catch (ExecutionException e) {
                    failure = stackTrace(e.getCause());
                } catch (TimeoutException e) {
                    // the hung thread cannot be stopped; it is a daemon, and later cases get a new one
                    f.cancel(true);
                    worker.shutdownNow();
                    worker = newWorker(kind);
                    failure = "no result within " + CASE_MILLIS + " ms (hang?)";
                }
                failures.add("seed " + seed + " case " + i + ": " + failure);
            }
        } finally {
            worker.shutdownNow();
        }
        System.out.println("fuzz " + kind + ": " + cases + " cases, " + refused + " refused, " + loaded
                + " loaded correctly, " + failures.size() + " other");
        Map<String, Integer> kinds = new TreeMap<>();
        for (String f : failures) {
            String first = f.substring(f.indexOf(": ") + 2).lines().findFirst().orElse("");
            kinds.merge(first.length() > 70 ? first.substring(0, 70) : first, 1, Integer::sum);
        }
        kinds.forEach((k, n) -> System.out.println("  " + n + " x " + k));
        StringBuilder shown = new StringBuilder();
        for (String f : failures.subList(0, Math.min(SHOWN, failures.size()))) {
            System.out.println("  " + f);
            shown.append('\n').append(f);
        }
        assertEquals(0, failures.size(), "fuzz " + kind + ": cases that were neither refused properly nor read "
                + "correctly (reproduce with Fuzz.random(seed, case)):" + shown);
    }

    private static ExecutorService newWorker(String kind) {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-" + kind);
            t.setDaemon(true);
            return t;
        });
    }

    private static String stackTrace(Throwable t) {
        StringWriter w = new StringWriter();
        t.printStackTrace(new PrintWriter(w));
        String s = w.toString();
        return s.length() > 3000 ? s.substring(0, 3000) + "..." : s;
    }
}
