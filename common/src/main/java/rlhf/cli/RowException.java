package rlhf.cli;

/**
 * A problem with one input row that the user can fix (a missing or mistyped field, a sequence
 * longer than the model's context). The message starts with the row's file and line.
 */
public final class RowException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public RowException(InputRow row, String problem) {
        super(row.where() + ": " + problem);
    }
}
