/**
 * Spark integration: one engine per executor ({@link dev.tokenmill.spark.EngineHolder}), the {@code mapPartitions}
 * operator ({@link dev.tokenmill.spark.Tokenmill}), the ML {@link dev.tokenmill.spark.TokenmillTransformer}, and the
 * {@code tokenmill} DataSource ({@link dev.tokenmill.spark.TokenmillDataSource}) that writes Parquet and Arrow IPC
 * files exactly once and reads with inference.
 */
package dev.tokenmill.spark;
