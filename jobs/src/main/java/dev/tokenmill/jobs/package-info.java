/** spark-submit main classes: batch generation and nightly scoring (to come). */
package dev.tokenmill.jobs;
