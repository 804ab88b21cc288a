/**
 * spark-submit main classes: {@link dev.tokenmill.jobs.BatchGenerateJob} (batch generation with resume) and
 * {@link dev.tokenmill.jobs.NightlyScoringJob} (generate, classify or score into a run-date partition).
 */
package dev.tokenmill.jobs;
