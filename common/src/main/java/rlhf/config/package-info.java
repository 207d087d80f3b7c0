/**
 * Configuration and command lines: {@link rlhf.config.JobConfig} reads a job's defaults
 * (conf/&lt;job&gt;.properties, on the class path inside every job jar), the user's --config file and
 * --set overrides, refuses undeclared keys and names the file and line of a bad value;
 * {@link rlhf.config.Args} parses a command's arguments; {@link rlhf.config.SparkSessions} starts
 * the session with the job's spark.* keys and the project's Spark defaults.
 */
package rlhf.config;
