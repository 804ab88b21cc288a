package dev.tokenmill.spark;

import org.apache.spark.sql.connector.write.WriterCommitMessage;

import java.util.List;

/**
 * What a committed task attempt wrote: files under its attempt directory (paths relative to it, which are also
 * their final paths relative to the output directory) and its counts, for the manifest.
 */
record TaskFiles(int partitionId, long taskId, String attemptDir, List<String> files, long rowsOk, long rowsFailed,
                 long promptTokens, long generatedTokens, String modelFingerprint) implements WriterCommitMessage {}
