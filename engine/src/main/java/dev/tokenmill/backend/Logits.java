package dev.tokenmill.backend;

/**
 * Logits of one step: {@code count} rows of {@code vocabSize} floats in one buffer owned by the backend
 * ({@code [count, vocabSize]} row-major), valid until the next {@code forward} call. Row {@code r} belongs to
 * token {@code batch.logitRows[r]}. For a row the batch marked {@code argmaxOnly}, a backend may instead set only
 * {@link #argmax(int)} (the lowest id among equal maxima) and leave the row's floats stale.
 */
public final class Logits {
    private final float[] data;
    private final int vocabSize;
    private final int[] argmax;
    private int count;

    public Logits(int maxRows, int vocabSize) {
        this.data = new float[Math.multiplyExact(maxRows, vocabSize)];
        this.vocabSize = vocabSize;
        this.argmax = new int[maxRows];
        java.util.Arrays.fill(argmax, -1);
    }

    /** The argmax a backend computed for row {@code r}, or -1 when the row's floats in {@link #data()} are valid. */
    public int argmax(int row) { return argmax[row]; }

    /** Sets the argmax of row {@code r} (a backend that skips copying the row); -1 marks the floats valid. */
    public void setArgmax(int row, int token) { argmax[row] = token; }

    public float[] data() { return data; }

    public int vocabSize() { return vocabSize; }

    public int count() { return count; }

    public void setCount(int count) { this.count = count; }

    /** Offset of row r in {@link #data()}. */
    public int offset(int row) { return row * vocabSize; }

    public float get(int row, int token) { return data[row * vocabSize + token]; }

    public float[] copyRow(int row) {
        float[] r = new float[vocabSize];
        System.arraycopy(data, row * vocabSize, r, 0, vocabSize);
        return r;
    }
}
