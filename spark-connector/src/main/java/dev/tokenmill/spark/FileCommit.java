package dev.tokenmill.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.connector.write.BatchWrite;
import org.apache.spark.sql.connector.write.DataWriter;
import org.apache.spark.sql.connector.write.DataWriterFactory;
import org.apache.spark.sql.connector.write.PhysicalWriteInfo;
import org.apache.spark.sql.connector.write.WriterCommitMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The job side of the commit protocol. Task attempts write under {@code <path>/_tokenmill_staging/<job>/attempt-P-T/};
 * Spark's output commit coordinator lets one attempt per partition commit, and only the files named in the
 * committed attempts' messages are renamed into place, so retried and speculative attempts never duplicate or lose
 * a row. The job commit then removes the staging directory (losing attempts' files with it) and writes
 * {@code _manifest.json} and {@code _SUCCESS}; for an overwrite it first removes the old contents, so a failed job
 * leaves the old data as it was.
 */
final class FileCommit implements BatchWrite {
    private static final Logger log = LoggerFactory.getLogger(FileCommit.class);
    static final String MANIFEST = "_manifest.json";
    static final String SUCCESS = "_SUCCESS";

    private final WriteJob job;
    private final Map<String, String> options;

    FileCommit(WriteJob job, Map<String, String> options) {
        this.job = job;
        this.options = options;
    }

    @Override
    public DataWriterFactory createBatchWriterFactory(PhysicalWriteInfo info) {
        return new Factory(job);
    }

    private record Factory(WriteJob job) implements DataWriterFactory {
        @Override
        public DataWriter<InternalRow> createWriter(int partitionId, long taskId) {
            return new FileDataWriter(job, partitionId, taskId);
        }
    }

    @Override
    public boolean useCommitCoordinator() {
        return true;
    }

    @Override
    public void commit(WriterCommitMessage[] messages) {
        Configuration conf = job.hadoopConf().value();
        Path out = new Path(job.path());
        try {
            FileSystem fs = out.getFileSystem(conf);
            if (job.truncate()) {
                for (FileStatus st : fs.listStatus(out)) {
                    if (!st.getPath().getName().equals(WriteJob.STAGING)) fs.delete(st.getPath(), true);
                }
            }
            List<String> files = new ArrayList<>();
            long ok = 0, failed = 0, prompt = 0, generated = 0;
            String fingerprint = null;
            for (WriterCommitMessage m : messages) {
                if (!(m instanceof TaskFiles t)) continue;
                for (String rel : t.files()) {
                    Path dst = new Path(out, rel);
                    fs.mkdirs(dst.getParent());
                    if (!fs.rename(new Path(t.attemptDir(), rel), dst)) {
                        throw new IOException("cannot move " + t.attemptDir() + "/" + rel + " to " + dst);
                    }
                    files.add(rel);
                }
                ok += t.rowsOk();
                failed += t.rowsFailed();
                prompt += t.promptTokens();
                generated += t.generatedTokens();
                if (fingerprint == null) fingerprint = t.modelFingerprint();
            }
            deleteStaging(fs);
            double wall = (System.currentTimeMillis() - job.startMillis()) / 1000.0;
            writeManifest(fs, out, files, ok, failed, prompt, generated, fingerprint, wall);
            try (FSDataOutputStream s = fs.create(new Path(out, SUCCESS), true)) { /* empty marker */ }
            log.info("tokenmill: wrote {} rows ({} ok, {} failed) to {} as {} in {} files; {} prompt + {} generated tokens in {} s ({} generated tok/s)",
                    ok + failed, ok, failed, out, job.format().name().toLowerCase(), files.size(), prompt, generated,
                    String.format("%.1f", wall), String.format("%.1f", generated / Math.max(wall, 1e-9)));
        } catch (IOException e) {
            throw new UncheckedIOException("tokenmill: job commit to " + out + " failed: " + e.getMessage(), e);
        }
    }

    private void writeManifest(FileSystem fs, Path out, List<String> files, long ok, long failed, long prompt, long generated,
                               String fingerprint, double wall) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("job_id", job.jobId());
        m.put("committed_at", Instant.now().toString());
        m.put("model", job.plan().options().model());
        m.put("model_fingerprint", fingerprint);
        m.put("engine_version", Versions.engine());
        m.put("output_format", job.format().name().toLowerCase());
        m.put("mode", job.truncate() ? "overwrite" : "append");
        m.put("partition_columns", job.partitionColumns());
        m.put("options", job.plan().options());
        m.put("rows_ok", ok);
        m.put("rows_failed", failed);
        m.put("prompt_tokens", prompt);
        m.put("generated_tokens", generated);
        m.put("wall_seconds", wall);
        m.put("generated_tokens_per_second", generated / Math.max(wall, 1e-9));
        m.put("files", files);
        byte[] json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(m);
        try (FSDataOutputStream s = fs.create(new Path(out, MANIFEST), true)) {
            s.write(json);
            s.write("\n".getBytes(StandardCharsets.UTF_8));
        }
    }

    private void deleteStaging(FileSystem fs) throws IOException {
        Path staging = new Path(job.stagingDir());
        fs.delete(staging, true);
        Path parent = staging.getParent();
        if (fs.exists(parent) && fs.listStatus(parent).length == 0) fs.delete(parent, false);
    }

    @Override
    public void abort(WriterCommitMessage[] messages) {
        try {
            deleteStaging(new Path(job.stagingDir()).getFileSystem(job.hadoopConf().value()));
        } catch (IOException e) {
            throw new UncheckedIOException("tokenmill: cannot remove staging directory " + job.stagingDir(), e);
        }
    }
}
