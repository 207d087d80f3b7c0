package rlhf.data;

import java.io.Serializable;

/**
 * One preference row, whichever format it came in: a chosen/rejected {@link PreferencePair} or a
 * K-wise {@link Ranking}. A dataset may hold both (see {@link DatasetSource#preferences}).
 */
public sealed interface Preference extends Serializable permits PreferencePair, Ranking {

    String prompt();

    /** "file row N". */
    String where();
}
