package rlhf.tensor;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.DoubleSupplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Central finite differences in float against an analytic gradient. A coordinate passes when
 * |fd - an| <= absTol + relTol * max(|fd|, |an|); the whole vector must also satisfy
 * ||fd - an|| <= relTol * ||fd|| + absTol. Failures print the first differing values and the max difference.
 */
public final class GradCheck {

    private GradCheck() {
    }

    /** Random floats uniform in [-scale, scale] from a counter-based stream. */
    public static float[] random(int n, float scale, long seed) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (2f * Rng.uniform(seed, 99, i) - 1f) * scale;
        }
        return a;
    }

    /** sum_i w[i] * out[i] in double: a scalar loss whose gradient wrt out is w. */
    public static double dot(float[] w, float[] out, int off, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += (double) w[i] * out[off + i];
        }
        return s;
    }

    public static void check(String name, float[] x, int from, int to, float[] analytic, int anOff,
                             DoubleSupplier loss, float h, double relTol, double absTol) {
        check(name, x, from, to, analytic, anOff, loss, h, relTol, absTol, 0.0);
    }

    /**
     * As above, but up to maxBadFraction of the coordinates may miss the per-coordinate bound
     * (finite differences across a ReLU kink); the vector bound must still hold.
     */
    public static void check(String name, float[] x, int from, int to, float[] analytic, int anOff,
                             DoubleSupplier loss, float h, double relTol, double absTol, double maxBadFraction) {
        StringBuilder bad = new StringBuilder();
        int nBad = 0;
        double maxDiff = 0;
        double diffSq = 0;
        double fdSq = 0;
        for (int i = from; i < to; i++) {
            float orig = x[i];
            x[i] = orig + h;
            double plus = loss.getAsDouble();
            x[i] = orig - h;
            double minus = loss.getAsDouble();
            x[i] = orig;
            double fd = (plus - minus) / (2.0 * h);
            double an = analytic[anOff + i - from];
            double diff = Math.abs(fd - an);
            maxDiff = Math.max(maxDiff, diff);
            diffSq += diff * diff;
            fdSq += fd * fd;
            if (diff > absTol + relTol * Math.max(Math.abs(fd), Math.abs(an))) {
                if (nBad < 5) {
                    bad.append(String.format("  [%d] finite-diff %.6g analytic %.6g%n", i - from, fd, an));
                }
                nBad++;
            }
        }
        double rel = Math.sqrt(diffSq) / Math.max(1e-12, Math.sqrt(fdSq));
        if (nBad > maxBadFraction * (to - from) || Math.sqrt(diffSq) > relTol * Math.sqrt(fdSq) + absTol) {
            fail(String.format("%s: %d of %d coordinates differ beyond rel %.1g + abs %.1g (vector rel err %.3g, max diff %.3g)%n%s",
                    name, nBad, to - from, relTol, absTol, rel, maxDiff, bad));
        }
    }

    /**
     * Central differences (step h, in float) at chosen coordinates of a whole model's parameters,
     * for spot checks where a full sweep would take too long: each must satisfy
     * |fd - analytic| <= absTol + relTol * |fd|. Failures list every checked coordinate.
     */
    public static void checkAt(String name, float[] x, List<Integer> coords, float[] analytic, DoubleSupplier loss,
                               double h, double absTol, double relTol) {
        double worst = 0;
        StringBuilder report = new StringBuilder();
        for (int i : coords) {
            float keep = x[i];
            x[i] = (float) (keep + h);
            double up = loss.getAsDouble();
            x[i] = (float) (keep - h);
            double down = loss.getAsDouble();
            x[i] = keep;
            double fd = (up - down) / (2 * h);
            worst = Math.max(worst, Math.abs(fd - analytic[i]) / (absTol + relTol * Math.abs(fd)));
            report.append(String.format("%d: fd %.6f grad %.6f; ", i, fd, analytic[i]));
        }
        if (!(worst < 1)) {
            fail(String.format("%s: gradient vs central differences (h=%s) beyond %s + %s |fd| (worst ratio %.3g): %s",
                    name, h, absTol, relTol, worst, report));
        }
    }

    /** The {@code n} coordinates of largest |grads|, largest first. */
    public static List<Integer> largest(float[] grads, int n) {
        return IntStream.range(0, grads.length).boxed()
                .sorted(Comparator.comparingDouble(i -> -Math.abs(grads[i]))).limit(n)
                .collect(Collectors.toCollection(ArrayList::new));
    }
}
