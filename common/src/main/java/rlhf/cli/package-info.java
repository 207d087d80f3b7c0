/**
 * The model commands of {@code bin/rlhf}, each a Spark job (local mode unless {@code --master}
 * says otherwise) over JSON-lines files on any Hadoop path:
 *
 * <pre>
 * bin/rlhf init     --config FILE --output DIR                 a random model + tokenizer (conf/init.properties)
 * bin/rlhf tokenize --tokenizer DIR --input IN --output OUT    {"text"} gains "ids"
 * bin/rlhf logprobs --model DIR --input IN --output OUT        {"text"} gains "ids", "logprobs", "sum_logprob";
 *                                                              {"prompt","response"} gains "response_ids",
 *                                                              "response_logprobs", "sum_response_logprob"
 * bin/rlhf generate --model DIR --input IN --output OUT        {"prompt"} gains "completion", "completion_ids",
 *                                                              "finish_reason"
 * bin/rlhf score    --model DIR --input IN --output OUT        {"prompt","response"} gains "reward"
 * </pre>
 *
 * <p>Every field of an input row is kept (added fields replace any of the same name); the output
 * is a directory of part files in input order. Rows are numbered by their line across the input
 * files ({@link rlhf.cli.InputRow}); an error in a row names its file and line. The checkpoint is
 * read once on the driver and broadcast; each task borrows a preallocated workspace
 * ({@link rlhf.spark.ExecutorStates}) and runs batches of rows of similar length
 * ({@link rlhf.cli.Batches}). Keys of each command: {@code conf/<command>.properties}, shown by
 * {@code --help}.
 *
 * <p>Every main of the project reports failures through {@link rlhf.cli.Cli}: a user's mistake is
 * one line and exit code 2. The training jobs (and the pipeline, for each planned stage) check
 * that the local datasets, models and tokenizers their configuration names exist before Spark
 * starts ({@link rlhf.cli.InputPaths}).
 */
package rlhf.cli;
