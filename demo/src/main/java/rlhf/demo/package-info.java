/**
 * Verifiable instruction tasks for the bundled demo: the data, the simulated demonstrators and
 * the exact oracle that labels preferences and measures accuracy.
 *
 * <h2>The task</h2>
 * Six families of short instructions with one exact answer of a few tokens ({@link rlhf.demo.Family}):
 * <pre>
 *   add      "add 7 and 8"                       -> "15"      hard: a carry          (mistake "5")
 *   reverse  "reverse the word horse"            -> "esroh"   hard: 5+ letters       (mistake "hesro")
 *   sort     "sort 5 2 9 in descending order"    -> "9 5 2"   hard: descending       (mistake "2 5 9")
 *   count    "count the letters in banana"       -> "6"       hard: a repeated letter (mistake "3")
 *   max      "min of 3 8 1"                      -> "1"       hard: min asked        (mistake "8")
 *   upper    "uppercase horse"                   -> "HORSE"   hard: 5+ letters       (mistake "Horse")
 * </pre>
 * Each family has three to six wordings; operands are single digits and 54 words, about 5,000
 * distinct prompts in all, so that a 4-layer GPT trained from scratch for minutes can know every
 * fact. Prompts are split train / held-out by a seeded hash of the prompt text.
 *
 * <p>Three more families ({@link rlhf.demo.Family#FRESH}, {@code demo.families = fresh}) were
 * made after the demo's settings were chosen, with other answer shapes, to check that settings
 * carry over to tasks nobody tuned them on:
 * <pre>
 *   plural   "plural of mouse"                   -> "mice"         hard: irregular noun (mistake "mouses")
 *   multiply "what is 7 times 8"                 -> "56"           hard: a factor >= 7  (mistake "49", a row off)
 *   range    "count down from 15 to 12"          -> "15 14 13 12"  hard: counting down  (mistake "12 13 14 15")
 * </pre>
 * RANGE's prompts are split by their numbers, not their wording: a held-out range was never seen
 * in training in any wording, so a reward model must generalise the order asked for.
 *
 * <h2>The demonstrators' mistakes</h2>
 * {@link rlhf.demo.MistakeModel} is the exact response distribution of the simulated humans.
 * On an easy instance they answer right 85% of the time, else with a plausible slip (off by one,
 * word echoed, last two swapped). On the hard half of each family they make one systematic mistake
 * 60% of the time and are right only 30%: imitation learns the wrong mode there. Independently,
 * 20% of answers are wrapped sloppily ("answer: 15", "the answer is 15"). A policy that imitates
 * exactly is right on 0.8 x (0.5 x 0.85 + 0.5 x 0.3) = 46% of prompts when sampled at temperature 1
 * and on 50% greedily (all easy ones, no hard one), while every right answer has probability at
 * least 24%.
 *
 * <h2>The oracle</h2>
 * {@link rlhf.demo.Oracle} implements {@link rlhf.rules.RuleReward}: 1 for exactly the answer,
 * 0.5 for the right answer sloppily formatted, 0.1 for a well-formed wrong answer, 0 otherwise
 * (garbage, empty, too long). Accuracy counts only 1. The four levels make K = 4 rankings strict.
 * Preference pairs have the exact answer as chosen and a demonstrator's miss as rejected, so the
 * reward model sees the very mistakes the SFT policy will make.
 *
 * <h2>Why PPO can beat SFT here</h2>
 * SFT can at best reproduce the demonstrators, mistakes included. The right answers are all in the
 * SFT policy's support, and the reward (oracle, or a reward model trained on oracle-labelled pairs)
 * separates the modes sharply: dropping the sloppy prefix and switching the hard sub-families to
 * their right answer are shared behaviours across many prompts, which policy gradient finds from
 * samples. How far it may go is set by the KL penalty to the SFT reference: the optimum of
 * {@code E[gold] - beta KL} over the demonstrated responses ({@link rlhf.demo.MistakeModel#tilted})
 * reaches 62% exact accuracy (+16 points) at beta = 1 for 0.07 nats per response, 77% at
 * beta = 0.5 for 0.25 nats, 90% at beta = 0.3 for 0.53 nats, with a reward on the oracle's
 * [0, 1] scale. A KL coefficient much above 1 on that scale leaves too little budget to move.
 *
 * <h2>Data</h2>
 * {@link rlhf.demo.DemoData} writes SFT, preference, ranking and prompt files (JSON lines) and
 * gives the corpus for training the BPE tokenizer; {@link rlhf.demo.Evaluation} scores completions
 * overall, per family and per sub-family.
 */
package rlhf.demo;
