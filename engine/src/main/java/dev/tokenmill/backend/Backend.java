package dev.tokenmill.backend;

/**
 * A device that runs the model. The scheduler, KV bookkeeping and sampling above this line do not change when
 * the device does (see ARCHITECTURE.md, "The backend contract").
 */
public interface Backend extends AutoCloseable {

    /**
     * Runs every token of the batch through the model; writes K/V into the batch's blocks; returns logits for
     * the rows the batch asks for. Called by the engine loop only; never allocates per call.
     */
    Logits forward(ForwardBatch batch);

    /** Tokens per KV block. */
    int blockSize();

    /** Bytes of K and V for one block over all layers, so the pool can be sized from a byte budget. */
    long kvBytesPerBlock();

    /** Number of KV blocks this backend allocated storage for. */
    int numBlocks();

    /**
     * Most logit rows one {@link #forward} call returns. For a batch that asks for more, the engine either pages them
     * ({@link #pagesLogits()}) or runs the batch in slices, in order, so each slice sees the K/V the previous ones
     * wrote.
     */
    int maxLogitRows();

    /**
     * Whether {@link #forward} takes a batch asking for more than {@link #maxLogitRows()} logit rows, returns the first
     * page of them, and {@link #logitsPage} the others from the hidden states it kept: a scoring batch (logits for
     * every prompt position) then runs its layers once over all its tokens instead of slice by slice.
     */
    default boolean pagesLogits() {
        return false;
    }

    /**
     * Logit rows {@code [fromRow, min(fromRow + maxLogitRows(), batch.nLogits))} of the batch the last {@link #forward}
     * call ran (row {@code r} of the result is batch logit row {@code fromRow + r}); valid until the next call. Only
     * when {@link #pagesLogits()}.
     */
    default Logits logitsPage(ForwardBatch batch, int fromRow) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not page logits");
    }

    /**
     * The device and kernel path in use, for the open log line and {@code Engine.stats()}: for example
     * {@code "cpu: native AVX-512 VNNI"}, {@code "cpu: Java Vector API"}, {@code "cuda: NVIDIA H100 (sm_90)"}.
     */
    String kernelPath();

    @Override
    void close();
}
