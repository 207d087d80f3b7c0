package rlhf.demo;

import java.util.List;

/**
 * One instance of a task family, as parsed from (or rendered into) a prompt.
 *
 * @param family  the family (add, reverse, ...)
 * @param variant the template variant within the family ("" or e.g. "asc"/"desc", "max"/"min")
 * @param args    the operands as they appear in the prompt ("7", "8"; "horse"; "3 1 2")
 * @param prompt  the prompt text
 * @param answer  the one exactly right response
 * @param hard    whether the instance belongs to the family's hard sub-family, where the
 *                demonstrations are wrong more often than right
 */
public record Problem(Family family, String variant, List<String> args, String prompt, String answer,
                      boolean hard) {

    public Problem {
        args = List.copyOf(args);
    }

    /** "add.carry", "sort.desc", ...: the family and which side of its hard/easy split. */
    public String subfamily() {
        return family.id() + "." + (hard ? family.hardName() : family.easyName());
    }

    /** Plausible wrong answers (bare, canonical format), the systematic one first; none equals the answer. */
    public List<String> mistakes() {
        return family.mistakes(this);
    }
}
