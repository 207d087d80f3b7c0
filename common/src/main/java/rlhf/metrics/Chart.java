package rlhf.metrics;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Locale;

/**
 * A line chart drawn with java.awt into an image (headless): title, axes with "nice" ticks
 * (1, 2, 5 x 10^k) and labels, a grid, one coloured polyline per series (gaps at non-finite
 * points), and a legend in the top-right corner.
 */
public final class Chart {

    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    /** A named curve; x and y have the same length. */
    public record Series(String name, double[] x, double[] y) {
        public Series {
            if (x.length != y.length) {
                throw new IllegalArgumentException("series '" + name + "': " + x.length + " x values but " + y.length + " y values");
            }
        }
    }

    /** Series colours, in order (distinct for colour-blind readers: Okabe-Ito). */
    public static final Color[] PALETTE = {
        new Color(0, 114, 178), new Color(213, 94, 0), new Color(0, 158, 115), new Color(204, 121, 167),
        new Color(230, 159, 0), new Color(86, 180, 233), new Color(0, 0, 0), new Color(240, 228, 66)};

    private Chart() {}

    /** Draws the chart into a new {@code width} x {@code height} RGB image. */
    public static BufferedImage render(String title, String xLabel, String yLabel, List<Series> series,
                                       int width, int height) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            Font font = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
            Font bold = font.deriveFont(Font.BOLD, 15f);

            // data range
            double x0 = Double.POSITIVE_INFINITY, x1 = Double.NEGATIVE_INFINITY;
            double y0 = Double.POSITIVE_INFINITY, y1 = Double.NEGATIVE_INFINITY;
            for (Series s : series) {
                for (int i = 0; i < s.x.length; i++) {
                    if (Double.isFinite(s.x[i]) && Double.isFinite(s.y[i])) {
                        x0 = Math.min(x0, s.x[i]);
                        x1 = Math.max(x1, s.x[i]);
                        y0 = Math.min(y0, s.y[i]);
                        y1 = Math.max(y1, s.y[i]);
                    }
                }
            }
            if (x0 > x1) { // no data
                x0 = 0;
                x1 = 1;
                y0 = 0;
                y1 = 1;
            }
            if (x0 == x1) {
                x0 -= 0.5;
                x1 += 0.5;
            }
            if (y0 == y1) {
                double d = y0 == 0 ? 1 : Math.abs(y0) * 0.1;
                y0 -= d;
                y1 += d;
            }
            // x: extend to the enclosing ticks; y: 5% margin so curves don't run along the frame
            double[] xt = niceTicks(x0, x1, 8);
            x0 = Math.min(x0, xt[0]);
            x1 = Math.max(x1, xt[xt.length - 1]);
            double pad = 0.05 * (y1 - y0);
            y0 -= pad;
            y1 += pad;
            double[] ytAll = niceTicks(y0, y1, 6);
            double[] yt = within(ytAll, y0, y1);

            // plot area
            g.setFont(font);
            FontMetrics fm = g.getFontMetrics();
            int yLabelWidth = 0;
            for (double t : yt) {
                yLabelWidth = Math.max(yLabelWidth, fm.stringWidth(tickLabel(t, ytAll)));
            }
            int left = 30 + yLabelWidth + 8;
            int right = width - 20;
            int top = 40;
            int bottom = height - 50;
            int pw = right - left;
            int ph = bottom - top;

            g.setColor(Color.BLACK);
            g.setFont(bold);
            FontMetrics bm = g.getFontMetrics();
            g.drawString(title, (width - bm.stringWidth(title)) / 2, 25);
            g.setFont(font);

            // grid, ticks and labels
            for (double t : xt) {
                int px = left + (int) Math.round((t - x0) / (x1 - x0) * pw);
                g.setColor(new Color(230, 230, 230));
                g.drawLine(px, top, px, bottom);
                g.setColor(Color.BLACK);
                g.drawLine(px, bottom, px, bottom + 5);
                String l = tickLabel(t, xt);
                g.drawString(l, px - fm.stringWidth(l) / 2, bottom + 7 + fm.getAscent());
            }
            for (double t : yt) {
                int py = bottom - (int) Math.round((t - y0) / (y1 - y0) * ph);
                g.setColor(new Color(230, 230, 230));
                g.drawLine(left, py, right, py);
                g.setColor(Color.BLACK);
                g.drawLine(left - 5, py, left, py);
                String l = tickLabel(t, ytAll);
                g.drawString(l, left - 8 - fm.stringWidth(l), py + fm.getAscent() / 2 - 1);
            }
            g.setColor(Color.BLACK);
            g.drawRect(left, top, pw, ph);
            g.drawString(xLabel, left + (pw - fm.stringWidth(xLabel)) / 2, height - 12);
            AffineTransform saved = g.getTransform();
            g.rotate(-Math.PI / 2);
            g.drawString(yLabel, -(top + (ph + fm.stringWidth(yLabel)) / 2), 16);
            g.setTransform(saved);

            // series
            g.setClip(left, top, pw + 1, ph + 1);
            g.setStroke(new BasicStroke(2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
            for (int k = 0; k < series.size(); k++) {
                Series s = series.get(k);
                g.setColor(PALETTE[k % PALETTE.length]);
                Path2D.Double path = new Path2D.Double();
                boolean pen = false;
                for (int i = 0; i < s.x.length; i++) {
                    if (!Double.isFinite(s.x[i]) || !Double.isFinite(s.y[i])) {
                        pen = false;
                        continue;
                    }
                    double px = left + (s.x[i] - x0) / (x1 - x0) * pw;
                    double py = bottom - (s.y[i] - y0) / (y1 - y0) * ph;
                    if (pen) {
                        path.lineTo(px, py);
                    } else {
                        path.moveTo(px, py);
                        pen = true;
                    }
                }
                g.draw(path);
                if (s.x.length == 1) {
                    g.fillOval((int) (left + (s.x[0] - x0) / (x1 - x0) * pw) - 3,
                            (int) (bottom - (s.y[0] - y0) / (y1 - y0) * ph) - 3, 6, 6);
                }
            }
            g.setClip(null);

            // legend
            if (!series.isEmpty()) {
                int lw = 0;
                for (Series s : series) {
                    lw = Math.max(lw, fm.stringWidth(s.name));
                }
                int rowH = fm.getHeight() + 2;
                int boxW = lw + 40;
                int boxH = series.size() * rowH + 8;
                int bx = right - boxW - 8;
                int by = top + 8;
                g.setColor(new Color(255, 255, 255, 230));
                g.fillRect(bx, by, boxW, boxH);
                g.setColor(Color.GRAY);
                g.setStroke(new BasicStroke(1f));
                g.drawRect(bx, by, boxW, boxH);
                for (int k = 0; k < series.size(); k++) {
                    int ly = by + 4 + k * rowH + rowH / 2;
                    g.setColor(PALETTE[k % PALETTE.length]);
                    g.setStroke(new BasicStroke(3f));
                    g.drawLine(bx + 6, ly, bx + 28, ly);
                    g.setColor(Color.BLACK);
                    g.drawString(series.get(k).name, bx + 34, ly + fm.getAscent() / 2 - 1);
                }
            }
        } finally {
            g.dispose();
        }
        return img;
    }

    /** Ticks at multiples of 1, 2 or 5 x 10^k covering [lo, hi], at most about {@code max} of them. */
    static double[] niceTicks(double lo, double hi, int max) {
        double raw = (hi - lo) / Math.max(1, max - 1);
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = mag;
        for (double m : new double[] {1, 2, 5, 10}) {
            step = m * mag;
            if (step >= raw) {
                break;
            }
        }
        double first = Math.floor(lo / step) * step;
        double last = Math.ceil(hi / step) * step;
        int n = (int) Math.round((last - first) / step) + 1;
        double[] t = new double[n];
        for (int i = 0; i < n; i++) {
            t[i] = first + i * step;
            if (Math.abs(t[i]) < step * 1e-9) {
                t[i] = 0;
            }
        }
        return t;
    }

    private static double[] within(double[] ticks, double lo, double hi) {
        return java.util.Arrays.stream(ticks).filter(t -> t >= lo && t <= hi).toArray();
    }

    /** Enough decimals to tell neighbouring ticks apart; scientific for extreme magnitudes. */
    static String tickLabel(double v, double[] ticks) {
        double step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
        double big = Math.max(Math.abs(ticks[0]), Math.abs(ticks[ticks.length - 1]));
        if (v == 0) {
            return "0";
        }
        if (big >= 1e6 || (big > 0 && big < 1e-3)) {
            return String.format(Locale.ROOT, "%.2e", v);
        }
        int decimals = Math.max(0, (int) Math.ceil(-Math.log10(step) - 1e-9));
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }
}
