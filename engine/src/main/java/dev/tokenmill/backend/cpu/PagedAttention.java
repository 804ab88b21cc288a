package dev.tokenmill.backend.cpu;

import dev.tokenmill.tensor.VectorSupport;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The inner loops of paged attention over one KV block of one head: scores of queries against every position of
 * the block from K stored transposed ({@link PagedKvCache#kBlock}), and the weighted sum of the block's V rows.
 *
 * <p>A score is {@code q[0]*k[0] + q[1]*k[1] + ...} folded in element order with one fma per element, and an
 * output element of the weighted sum is {@code y + w[0]*v[0] + w[1]*v[1] + ...} folded in position order, with one
 * fma per position (elements past the last whole vector: a multiply and an add, as {@code F32Math.axpy}). The
 * vector forms (one lane per position or element, four queries at a time sharing each load) and the scalar twins
 * give the same bits, so a (token, head) result never depends on the block, the batch, the queries it was grouped
 * with or the thread it was computed in.
 */
final class PagedAttention {
    private static final boolean VECTOR = VectorSupport.available();

    private PagedAttention() {}

    /**
     * {@code out[outOff + o] = sum_i q[qOff + i] * kb[i * bs + o]} for every offset o of the block ({@code bs}
     * positions, {@code hd} elements), whether or not the position holds a token yet; the caller reads the ones that do.
     */
    static void blockScores(float[] q, int qOff, float[] kb, int bs, int hd, float[] out, int outOff) {
        int o = VECTOR ? Vec.blockScores(q, qOff, kb, bs, hd, out, outOff) : 0;
        blockScoresScalar(q, qOff, kb, bs, hd, out, outOff, o);
    }

    /**
     * {@link #blockScores} for four queries at once (offsets into the same arrays): each K load serves all four. A
     * query may be given more than once (with its output offset): it is computed again and stored with the same bits.
     */
    static void blockScores4(float[] q, int q0, int q1, int q2, int q3, float[] kb, int bs, int hd,
                             float[] out, int o0, int o1, int o2, int o3) {
        int o = VECTOR ? Vec.blockScores4(q, q0, q1, q2, q3, kb, bs, hd, out, o0, o1, o2, o3) : 0;
        blockScoresScalar(q, q0, kb, bs, hd, out, o0, o);
        blockScoresScalar(q, q1, kb, bs, hd, out, o1, o);
        blockScoresScalar(q, q2, kb, bs, hd, out, o2, o);
        blockScoresScalar(q, q3, kb, bs, hd, out, o3, o);
    }

    /** Offsets {@code [from, bs)} of {@link #blockScores}, one at a time. */
    static void blockScoresScalar(float[] q, int qOff, float[] kb, int bs, int hd, float[] out, int outOff, int from) {
        for (int o = from; o < bs; o++) {
            float acc = 0f;
            for (int i = 0; i < hd; i++) acc = Math.fma(q[qOff + i], kb[i * bs + o], acc);
            out[outOff + o] = acc;
        }
    }

    /** {@code y[yOff..yOff+hd) += sum_{o < n} w[wOff + o] * vb[o * hd ..]}, positions added in order. */
    static void addWeightedRows(float[] w, int wOff, int n, float[] vb, int hd, float[] y, int yOff) {
        int c = VECTOR ? Vec.addWeightedRows(w, wOff, n, vb, hd, y, yOff) : 0;
        addWeightedRowsScalar(w, wOff, n, vb, hd, y, yOff, c, !VECTOR);
    }

    /**
     * {@link #addWeightedRows} for four queries at once over the same {@code n} positions: each V load serves all four.
     * A query may be given more than once (same weights and output offset): it is still added once, since every
     * accumulator reads its output before any is stored back.
     */
    static void addWeightedRows4(float[] w, int w0, int w1, int w2, int w3, int n, float[] vb, int hd,
                                 float[] y, int y0, int y1, int y2, int y3) {
        int c = VECTOR ? Vec.addWeightedRows4(w, w0, w1, w2, w3, n, vb, hd, y, y0, y1, y2, y3) : 0;
        addWeightedRowsScalar(w, w0, n, vb, hd, y, y0, c, !VECTOR);
        if (y1 != y0) addWeightedRowsScalar(w, w1, n, vb, hd, y, y1, c, !VECTOR);
        if (y2 != y0 && y2 != y1) addWeightedRowsScalar(w, w2, n, vb, hd, y, y2, c, !VECTOR);
        if (y3 != y0 && y3 != y1 && y3 != y2) addWeightedRowsScalar(w, w3, n, vb, hd, y, y3, c, !VECTOR);
    }

    /**
     * Elements {@code [from, hd)} of {@link #addWeightedRows}: with {@code fused}, one fma per position (the vector
     * lanes' arithmetic, for the scalar twin test); otherwise a multiply and an add, as the vector form's tail.
     */
    static void addWeightedRowsScalar(float[] w, int wOff, int n, float[] vb, int hd, float[] y, int yOff, int from, boolean fused) {
        for (int c = from; c < hd; c++) {
            float acc = y[yOff + c];
            if (fused) for (int o = 0; o < n; o++) acc = Math.fma(w[wOff + o], vb[o * hd + c], acc);
            else for (int o = 0; o < n; o++) acc += w[wOff + o] * vb[o * hd + c];
            y[yOff + c] = acc;
        }
    }

    /** Loaded only when the Vector API is present. */
    static final class Vec {
        private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

        private Vec() {}

        /** The vector part of {@link #blockScores}: offsets [0, loopBound(bs)); returns where the scalar tail starts. */
        static int blockScores(float[] q, int qOff, float[] kb, int bs, int hd, float[] out, int outOff) {
            int bound = S.loopBound(bs);
            for (int o = 0; o < bound; o += S.length()) {
                FloatVector acc = FloatVector.zero(S);
                for (int i = 0; i < hd; i++) acc = FloatVector.broadcast(S, q[qOff + i]).fma(FloatVector.fromArray(S, kb, i * bs + o), acc);
                acc.intoArray(out, outOff + o);
            }
            return bound;
        }

        static int blockScores4(float[] q, int q0, int q1, int q2, int q3, float[] kb, int bs, int hd,
                                float[] out, int o0, int o1, int o2, int o3) {
            int bound = S.loopBound(bs);
            for (int o = 0; o < bound; o += S.length()) {
                FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
                for (int i = 0; i < hd; i++) {
                    FloatVector k = FloatVector.fromArray(S, kb, i * bs + o);
                    a0 = FloatVector.broadcast(S, q[q0 + i]).fma(k, a0);
                    a1 = FloatVector.broadcast(S, q[q1 + i]).fma(k, a1);
                    a2 = FloatVector.broadcast(S, q[q2 + i]).fma(k, a2);
                    a3 = FloatVector.broadcast(S, q[q3 + i]).fma(k, a3);
                }
                a0.intoArray(out, o0 + o);
                a1.intoArray(out, o1 + o);
                a2.intoArray(out, o2 + o);
                a3.intoArray(out, o3 + o);
            }
            return bound;
        }

        /** The vector part of {@link #addWeightedRows}: elements [0, loopBound(hd)); returns where the tail starts. */
        static int addWeightedRows(float[] w, int wOff, int n, float[] vb, int hd, float[] y, int yOff) {
            int bound = S.loopBound(hd);
            for (int c = 0; c < bound; c += S.length()) {
                FloatVector acc = FloatVector.fromArray(S, y, yOff + c);
                for (int o = 0; o < n; o++) acc = FloatVector.fromArray(S, vb, o * hd + c).fma(FloatVector.broadcast(S, w[wOff + o]), acc);
                acc.intoArray(y, yOff + c);
            }
            return bound;
        }

        static int addWeightedRows4(float[] w, int w0, int w1, int w2, int w3, int n, float[] vb, int hd,
                                    float[] y, int y0, int y1, int y2, int y3) {
            int bound = S.loopBound(hd);
            for (int c = 0; c < bound; c += S.length()) {
                FloatVector a0 = FloatVector.fromArray(S, y, y0 + c), a1 = FloatVector.fromArray(S, y, y1 + c);
                FloatVector a2 = FloatVector.fromArray(S, y, y2 + c), a3 = FloatVector.fromArray(S, y, y3 + c);
                for (int o = 0; o < n; o++) {
                    FloatVector v = FloatVector.fromArray(S, vb, o * hd + c);
                    a0 = v.fma(FloatVector.broadcast(S, w[w0 + o]), a0);
                    a1 = v.fma(FloatVector.broadcast(S, w[w1 + o]), a1);
                    a2 = v.fma(FloatVector.broadcast(S, w[w2 + o]), a2);
                    a3 = v.fma(FloatVector.broadcast(S, w[w3 + o]), a3);
                }
                a0.intoArray(y, y0 + c);
                a1.intoArray(y, y1 + c);
                a2.intoArray(y, y2 + c);
                a3.intoArray(y, y3 + c);
            }
            return bound;
        }
    }
}
