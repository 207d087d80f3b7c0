/**
 * GPT-2's byte-level BPE: {@link rlhf.tokenizer.BpeTokenizer} (load/save vocab.json + merges.txt
 * from a local path, any Hadoop file system or streams; encode exactly as GPT-2; decode to bytes
 * or text), {@link rlhf.tokenizer.PreTokenizer} (GPT-2's splitting regex as a scanner) and
 * {@link rlhf.tokenizer.BpeTrainer} (learn a vocabulary from a Spark corpus, in the same format).
 *
 * <p>{@code <|endoftext|>} is EOS and padding; it is recognised in text only when the caller
 * asks ({@code encode(text, true)}). A {@code BpeTokenizer} can be captured in Spark closures or
 * broadcast as is (Java serialization of its tables); on disk it is only ever the two GPT-2 files.
 */
package rlhf.tokenizer;
