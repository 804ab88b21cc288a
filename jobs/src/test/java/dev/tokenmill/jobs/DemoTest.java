package dev.tokenmill.jobs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static dev.tokenmill.jobs.JobTestSupport.demoPrompts;
import static dev.tokenmill.jobs.JobTestSupport.spark;
import static org.assertj.core.api.Assertions.assertThat;

/** The README's first command: {@code ./tokenmill demo} runs {@link Demo} over the committed sample. */
class DemoTest {
    @TempDir Path out;

    @Test
    void demoWritesParquetAndArrowForEverySampleRowAndPrintsStories() {
        spark();
        var bytes = new ByteArrayOutputStream();
        int status = Demo.run(demoPrompts().getParent(), out, new PrintStream(bytes, true, StandardCharsets.UTF_8));
        String console = bytes.toString(StandardCharsets.UTF_8);
        assertThat(status).as(console).isZero();
        assertThat(console).containsPattern("rows ok +300\\n").contains("Once upon a time, there was a little girl named Lily")
                .contains("tokenmill demo: Parquet in " + out.resolve("parquet"));
        assertThat(spark().read().parquet(out.resolve("parquet").toString()).count()).isEqualTo(300);
        assertThat(CommittedIds.read(spark(), out.resolve("arrow").toString(), "arrow", "id",
                org.apache.spark.sql.types.DataTypes.LongType).distinct().count()).isEqualTo(300);
    }
}
