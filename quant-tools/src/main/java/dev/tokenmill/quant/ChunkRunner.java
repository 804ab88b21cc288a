package dev.tokenmill.quant;

import dev.tokenmill.backend.ForwardBatch;
import dev.tokenmill.backend.Logits;
import dev.tokenmill.backend.cpu.CpuBackend;
import dev.tokenmill.backend.cpu.CpuBackendConfig;
import dev.tokenmill.model.Model;

/**
 * Runs chunks of {@code nCtx} tokens through one model on a {@link CpuBackend}, each chunk from position 0 with an
 * empty context (as llama.cpp's perplexity clears its KV cache per chunk), and hands over the logits of the scored
 * positions: those from {@code first} to the chunk's second-to-last, each of which predicts the token after it.
 */
final class ChunkRunner implements AutoCloseable {
    /** Tokens per KV block; the chunk occupies consecutive blocks. */
    private static final int BLOCK_SIZE = 16;
    /** Most tokens per forward call (scratch and logits memory grow with it). */
    private static final int MAX_BATCH = 512;

    /** Receives the logits of scored position {@code first + row}, valid only during the call. */
    interface RowSink {
        void accept(int row, float[] logits, int offset);
    }

    private final int nCtx;
    private final CpuBackend backend;
    private final ForwardBatch batch;

    ChunkRunner(Model model, int nCtx, int threads) {
        this.nCtx = nCtx;
        CpuBackendConfig config = CpuBackendConfig.singleSequence(nCtx, Math.min(nCtx, MAX_BATCH), BLOCK_SIZE, threads);
        this.backend = new CpuBackend(model.config(), model.weights(), config);
        int blocks = (nCtx + BLOCK_SIZE - 1) / BLOCK_SIZE;
        this.batch = new ForwardBatch(config.maxBatchTokens(), 1, blocks);
        for (int i = 0; i < blocks; i++) batch.blockTables[0][i] = i;
    }

    /** Runs {@code chunk} (exactly nCtx tokens); calls {@code sink} for positions [first, nCtx - 1) in order. */
    void run(int[] chunk, int first, RowSink sink) {
        if (chunk.length != nCtx) throw new IllegalArgumentException("chunk has " + chunk.length + " tokens, expected " + nCtx);
        for (int from = 0; from < nCtx; from += batch.maxTokens) {
            int to = Math.min(nCtx, from + batch.maxTokens);
            batch.clear();
            batch.nSeqs = 1;
            batch.contextLens[0] = to;
            for (int i = from; i < to; i++) batch.addToken(0, chunk[i], i, i >= first && i < nCtx - 1);
            Logits logits = backend.forward(batch);
            for (int r = 0; r < logits.count(); r++) {
                sink.accept(batch.positions[batch.logitRows[r]] - first, logits.data(), logits.offset(r));
            }
        }
    }

    @Override
    public void close() {
        backend.close();
    }
}
