/**
 * The chain SFT -> reward model -> PPO as one Spark application.
 *
 * <p>{@link rlhf.pipeline.PipelinePlan} turns a chain configuration ({@code conf/pipeline.properties},
 * or the demo's) into one configuration file per stage under {@code <out>/conf/}, wiring each
 * stage's final model into the next, checking every key against the stage's own defaults before
 * any stage runs, and deciding per stage: run, resume from its newest checkpoint, or skip a stage
 * whose final model is complete. {@link rlhf.pipeline.PipelineJob} runs the planned stages one
 * after the other on one {@code SparkSession} by calling each job's {@code run} method: the same
 * code path as {@code spark-submit --class rlhf.sft.SftJob}, without a JVM or an executor start
 * per stage.
 *
 * <p>This is the only module that depends on all three job modules; the job modules never depend
 * on each other, and no job depends on this module or on the demo.
 */
package rlhf.pipeline;
