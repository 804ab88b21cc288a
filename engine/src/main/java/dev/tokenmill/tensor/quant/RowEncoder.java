package dev.tokenmill.tensor.quant;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;

/**
 * Encodes the rows of a tensor on several threads and streams the bytes out in row order: the rows are cut into
 * chunks of about {@value #CHUNK_ELEMENTS} values, at most two chunks per thread are in flight, so memory stays
 * bounded whatever the tensor's size. The chunking depends only on the row length, never on the thread count, so
 * a row source that seeds its randomness by chunk gives the same bytes with any number of threads.
 */
public final class RowEncoder implements AutoCloseable {
    static final int CHUNK_ELEMENTS = 1 << 18;

    /** Produces float rows {@code [firstRow, firstRow + rowCount)}, row-major, into {@code dst}. Called concurrently. */
    @FunctionalInterface
    public interface RowSource {
        void rows(long firstRow, int rowCount, float[] dst) throws IOException;
    }

    private final ExecutorService pool;
    private final int threads;

    public RowEncoder(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        this.threads = threads;
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "tokenmill-encode");
            t.setDaemon(true);
            return t;
        });
    }

    /** Rows per chunk for a row length: the unit of work and of seeding. */
    public static int chunkRows(int rowLength) {
        return Math.max(1, CHUNK_ELEMENTS / rowLength);
    }

    /**
     * Encodes {@code nRows} rows of {@code rowLength} values with {@code quantizer} and writes them to {@code out};
     * {@code progress} receives the number of bytes of each chunk written (may be null).
     */
    public void encode(RowSource source, long nRows, int rowLength, Quantizer quantizer, OutputStream out,
                       LongConsumer progress) throws IOException {
        int chunkRows = chunkRows(rowLength);
        long rowBytes = quantizer.type().bytesFor(rowLength);
        ArrayDeque<Future<byte[]>> inFlight = new ArrayDeque<>();
        long next = 0;
        try {
            while (next < nRows || !inFlight.isEmpty()) {
                while (next < nRows && inFlight.size() < 2 * threads) {
                    long first = next;
                    int count = (int) Math.min(chunkRows, nRows - first);
                    inFlight.add(pool.submit(() -> {
                        float[] f = new float[count * rowLength];
                        source.rows(first, count, f);
                        byte[] b = new byte[Math.toIntExact(rowBytes * count)];
                        quantizer.quantize(f, 0, f.length, b, 0);
                        return b;
                    }));
                    next += count;
                }
                byte[] b = inFlight.removeFirst().get();
                out.write(b);
                if (progress != null) progress.accept(b.length);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while encoding rows");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) throw io;
            if (e.getCause() instanceof RuntimeException re) throw re;
            throw new IOException(e.getCause());
        } finally {
            for (Future<byte[]> f : inFlight) f.cancel(true);
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
