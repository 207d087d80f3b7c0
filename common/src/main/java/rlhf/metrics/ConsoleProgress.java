package rlhf.metrics;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * A one-line progress display:
 * {@code sft 120/1000 12% | loss 2.3456 lr 3.000e-04 | 1234 tok/s | 1m02s elapsed, eta 8m10s}.
 * On a terminal the line is redrawn in place; otherwise (logs, pipes) a new line is printed
 * at most every {@code intervalSeconds}, and always for the first and the last step.
 */
public final class ConsoleProgress {

    private final String label;
    private final long total;
    private final List<String> shown;
    private final PrintStream out;
    private final boolean tty;
    private final long intervalNanos;
    private final LongSupplier clock;
    private final long startNanos;
    private final long startStep;
    private long tokens;
    private long lastPrint = Long.MIN_VALUE;
    private int lastWidth;

    /**
     * @param total     last step number
     * @param startStep step already done when this display starts (0, or the resumed step)
     * @param shown     metric names to print, in this order (missing ones are skipped)
     * @param clock     nanoseconds (System::nanoTime; tests pass a fake)
     */
    public ConsoleProgress(String label, long total, long startStep, List<String> shown, PrintStream out, boolean tty,
                           double intervalSeconds, LongSupplier clock) {
        this.label = label;
        this.total = total;
        this.startStep = startStep;
        this.shown = List.copyOf(shown);
        this.out = out;
        this.tty = tty;
        this.intervalNanos = (long) (intervalSeconds * 1e9);
        this.clock = clock;
        this.startNanos = clock.getAsLong();
    }

    /** On stderr, redrawn in place when it is a terminal, else a line every 30 s. */
    public static ConsoleProgress onStderr(String label, long total, long startStep, List<String> shown) {
        return new ConsoleProgress(label, total, startStep, shown, System.err, System.console() != null, 30,
                System::nanoTime);
    }

    /** Step {@code step} is done; it processed {@code stepTokens} tokens. */
    public void update(long step, long stepTokens, Map<String, ? extends Number> metrics) {
        tokens += stepTokens;
        long now = clock.getAsLong();
        boolean last = step >= total;
        if (tty) {
            String s = line(step, metrics, now);
            out.print("\r" + s + " ".repeat(Math.max(0, lastWidth - s.length())) + (last ? "\n" : ""));
            lastWidth = s.length();
            out.flush();
        } else if (last || lastPrint == Long.MIN_VALUE || now - lastPrint >= intervalNanos) {
            out.println(line(step, metrics, now));
            lastPrint = now;
        }
    }

    /** The progress line for {@code step} at clock time {@code now}. */
    String line(long step, Map<String, ? extends Number> metrics, long now) {
        double elapsed = (now - startNanos) / 1e9;
        StringBuilder sb = new StringBuilder();
        sb.append(label).append(' ').append(step).append('/').append(total);
        sb.append(String.format(Locale.ROOT, " %d%%", total > 0 ? (int) (100 * step / total) : 100));
        StringBuilder m = new StringBuilder();
        for (String k : shown) {
            Number v = metrics.get(k);
            if (v != null) {
                m.append(m.length() == 0 ? "" : " ").append(k).append(' ').append(number(v.doubleValue()));
            }
        }
        if (m.length() > 0) {
            sb.append(" | ").append(m);
        }
        if (elapsed > 0 && tokens > 0) {
            sb.append(String.format(Locale.ROOT, " | %.0f tok/s", tokens / elapsed));
        }
        sb.append(" | ").append(duration(elapsed)).append(" elapsed");
        long done = step - startStep;
        if (done > 0 && step < total) {
            sb.append(", eta ").append(duration(elapsed / done * (total - step)));
        }
        return sb.toString();
    }

    /** 4 decimals for ordinary magnitudes, scientific for very small or large ones. */
    static String number(double v) {
        double a = Math.abs(v);
        if (a != 0 && (a < 1e-3 || a >= 1e5)) {
            return String.format(Locale.ROOT, "%.3e", v);
        }
        return String.format(Locale.ROOT, "%.4f", v);
    }

    /** 45s, 2m05s, 1h02m03s. */
    static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s < 60) {
            return s + "s";
        }
        if (s < 3600) {
            return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        }
        return String.format(Locale.ROOT, "%dh%02dm%02ds", s / 3600, (s / 60) % 60, s % 60);
    }
}
