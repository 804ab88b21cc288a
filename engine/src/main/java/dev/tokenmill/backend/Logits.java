package dev.tokenmill.backend;

/**
 * Logits of one step: {@code count} rows of {@code vocabSize} floats in one buffer owned by the backend
 * ({@code [count, vocabSize]} row-major), valid until the next {@code forward} call. Row {@code r} belongs to
 * token {@code batch.logitRows[r]}.
 */
public final class Logits {
    private final float[] data;
    private final int vocabSize;
    private int count;

    public Logits(int maxRows, int vocabSize) {
        this.data = new float[Math.multiplyExact(maxRows, vocabSize)];
        this.vocabSize = vocabSize;
    }

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
