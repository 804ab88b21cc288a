package dev.tokenmill.jobs;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/** The job's session: spark-submit's master and settings when it runs under spark-submit, else local Spark on every core. */
final class JobSpark {
    private JobSpark() {}

    static SparkSession session(String appName) {
        SparkSession.Builder b = SparkSession.builder().appName(appName);
        if (!new SparkConf().contains("spark.master")) {
            b.master("local[*]").config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1");
        }
        return b.getOrCreate();
    }
}
