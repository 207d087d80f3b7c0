package rlhf.spark;

/** A step produced a NaN or infinite loss or gradient; its update was not applied. */
public final class NonFiniteLossException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    private final int step;

    public NonFiniteLossException(int step, String message) {
        super(message);
        this.step = step;
    }

    /** 0-based number of the step whose update was refused. */
    public int step() {
        return step;
    }
}
