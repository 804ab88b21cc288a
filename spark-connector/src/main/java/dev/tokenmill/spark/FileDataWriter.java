package dev.tokenmill.spark;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.mapreduce.JobID;
import org.apache.hadoop.mapreduce.TaskAttemptContext;
import org.apache.hadoop.mapreduce.TaskAttemptID;
import org.apache.hadoop.mapreduce.TaskID;
import org.apache.hadoop.mapreduce.TaskType;
import org.apache.hadoop.mapreduce.task.TaskAttemptContextImpl;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.catalog.ExternalCatalogUtils;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.connector.write.DataWriter;
import org.apache.spark.sql.connector.write.WriterCommitMessage;
import org.apache.spark.sql.types.DataType;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One write task attempt: rows go through the shared engine (bounded window, input order) and, with their result,
 * into files under this attempt's own directory in the staging area. Nothing is visible until the job commits the
 * attempt's files; an aborted or losing attempt leaves only its directory, which the job removes.
 */
final class FileDataWriter implements DataWriter<InternalRow> {
    private final WriteJob job;
    private final int partitionId;
    private final long taskId;
    private final String attemptDir;
    private final InferenceWindow<InternalRow> window;
    private final int[] partitionOrdinals;
    private final int[] fileOrdinals;        // ordinals of the file columns in (input ++ result)
    private final DataType[] outputTypes;
    private final TaskAttemptContext context;
    private final Map<String, RowFileWriter> open = new LinkedHashMap<>();
    private final List<String> files = new ArrayList<>();
    private final String fingerprint;
    private long rowsOk, rowsFailed, promptTokens, generatedTokens;

    FileDataWriter(WriteJob job, int partitionId, long taskId) {
        this.job = job;
        this.partitionId = partitionId;
        this.taskId = taskId;
        this.attemptDir = job.stagingDir() + "/attempt-" + partitionId + "-" + taskId;
        var input = job.inputSchema();
        this.window = TaskRun.open(job.plan(), row -> SparkRows.of(row, input), job.metrics());
        this.fingerprint = window.modelFingerprint();
        this.partitionOrdinals = job.partitionOrdinals();
        var output = job.plan().columns().appendTo(job.inputSchema());
        List<String> outNames = List.of(output.fieldNames());
        this.fileOrdinals = java.util.Arrays.stream(job.fileSchema().fieldNames()).mapToInt(outNames::indexOf).toArray();
        this.outputTypes = java.util.Arrays.stream(output.fields()).map(f -> f.dataType()).toArray(DataType[]::new);
        Configuration conf = job.hadoopConf().value();
        this.context = new TaskAttemptContextImpl(conf, new TaskAttemptID(new TaskID(new JobID(job.jobId(), 0), TaskType.MAP, partitionId), (int) taskId));
    }

    @Override
    public void write(InternalRow row) throws IOException {
        if (window.isFull()) emit(window.take());
        window.offer(row.copy());
    }

    private void emit(InferenceWindow.Completed<InternalRow> c) throws IOException {
        RowResult r = c.result();
        if (r.failed()) rowsFailed++; else rowsOk++;
        promptTokens += r.promptTokens();
        generatedTokens += r.completionTokens();
        InternalRow in = c.input();
        int nIn = job.inputSchema().size();
        Object[] out = new Object[fileOrdinals.length];
        Object[] added = job.plan().columns().internal(r);
        for (int k = 0; k < fileOrdinals.length; k++) {
            int o = fileOrdinals[k];
            out[k] = o < nIn ? in.get(o, outputTypes[o]) : added[o - nIn];
        }
        writerFor(in).write(new GenericInternalRow(out));
    }

    private RowFileWriter writerFor(InternalRow in) throws IOException {
        StringBuilder dir = new StringBuilder();
        for (int k = 0; k < partitionOrdinals.length; k++) {
            int o = partitionOrdinals[k];
            Object v = in.isNullAt(o) ? null : in.get(o, outputTypes[o]);
            dir.append(ExternalCatalogUtils.getPartitionPathString(job.partitionColumns().get(k), v == null ? null : v.toString())).append('/');
        }
        String key = dir.toString();
        RowFileWriter w = open.get(key);
        if (w == null) {
            String rel = key + String.format("part-%05d-%s%s", partitionId, job.jobId(), job.extension());
            Path p = new Path(attemptDir + "/" + rel);
            w = job.format() == OutputFormat.PARQUET
                    ? new ParquetRowWriter(job.parquet(), p.toString(), job.fileSchema(), context)
                    : new ArrowRowWriter(p, job.fileSchema(), job.timeZoneId(), job.hadoopConf().value());
            open.put(key, w);
            files.add(rel);
        }
        return w;
    }

    @Override
    public WriterCommitMessage commit() throws IOException {
        while (!window.isEmpty()) emit(window.take());
        closeFiles();
        return new TaskFiles(partitionId, taskId, attemptDir, List.copyOf(files), rowsOk, rowsFailed, promptTokens, generatedTokens, fingerprint);
    }

    private void closeFiles() throws IOException {
        IOException first = null;
        for (RowFileWriter w : open.values()) {
            try {
                w.close();
            } catch (IOException | RuntimeException e) {
                if (first == null) first = e instanceof IOException io ? io : new IOException(e);
            }
        }
        open.clear();
        if (first != null) throw first;
    }

    @Override
    public void abort() throws IOException {
        window.close();
        try {
            closeFiles();
        } finally {
            Path dir = new Path(attemptDir);
            dir.getFileSystem(job.hadoopConf().value()).delete(dir, true);
        }
    }

    @Override
    public void close() {
        window.close();
    }
}
