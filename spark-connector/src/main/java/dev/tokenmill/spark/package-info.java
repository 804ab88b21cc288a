/** Spark integration: one engine per executor, DataSource V2 {@code tokenmill}, ML Transformer (to come). */
package dev.tokenmill.spark;
