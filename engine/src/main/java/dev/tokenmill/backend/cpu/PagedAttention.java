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
 * fma per position (elements past the last whole vector: a multiply and an add). The vector forms (one lane per
 * position or element, four queries at a time sharing each load) and the scalar twins give the same bits, so a
 * (token, head) result never depends on the block, the batch, the queries it was grouped with or the thread it was
 * computed in.
 */
final class PagedAttention {
    private static final boolean VECTOR = VectorSupport.available();

    private PagedAttention() {}

    /**
     * For each of four queries (offsets into the same arrays; each K load serves all four),
     * {@code out[o_k + o] = sum_i q[q_k + i] * kb[i * bs + o]} for every offset o of the block ({@code bs} positions,
     * {@code hd} elements), whether or not the position holds a token yet; the caller reads the ones that do. A query
     * may be given more than once (with its output offset): it is computed again and stored with the same bits.
     */
    static void blockScores4(float[] q, int q0, int q1, int q2, int q3, float[] kb, int bs, int hd,
                             float[] out, int o0, int o1, int o2, int o3) {
        int o = VECTOR ? Vec.blockScores4(q, q0, q1, q2, q3, kb, bs, hd, out, o0, o1, o2, o3) : 0;
        blockScoresScalar(q, q0, kb, bs, hd, out, o0, o);
        blockScoresScalar(q, q1, kb, bs, hd, out, o1, o);
        blockScoresScalar(q, q2, kb, bs, hd, out, o2, o);
        blockScoresScalar(q, q3, kb, bs, hd, out, o3, o);
    }

    /** Offsets {@code [from, bs)} of one query of {@link #blockScores4}, one at a time: the scalar twin. */
    static void blockScoresScalar(float[] q, int qOff, float[] kb, int bs, int hd, float[] out, int outOff, int from) {
        for (int o = from; o < bs; o++) {
            float acc = 0f;
            for (int i = 0; i < hd; i++) acc = Math.fma(q[qOff + i], kb[i * bs + o], acc);
            out[outOff + o] = acc;
        }
    }

    /**
     * For each of four queries over the same {@code n} positions (each V load serves all four),
     * {@code y[y_k .. y_k + hd) += sum_{o < n} w[w_k + o] * vb[o * hd ..]}, positions added in order. A query may be
     * given more than once (same weights and output offset): it is still added once, since every accumulator reads
     * its output before any is stored back.
     */
    static void addWeightedRows4(float[] w, int w0, int w1, int w2, int w3, int n, float[] vb, int hd,
                                 float[] y, int y0, int y1, int y2, int y3) {
        int c = VECTOR ? Vec.addWeightedRows4(w, w0, w1, w2, w3, n, vb, hd, y, y0, y1, y2, y3) : 0;
        addWeightedRowsScalar(w, w0, n, vb, hd, y, y0, c, hd, !VECTOR);
        if (y1 != y0) addWeightedRowsScalar(w, w1, n, vb, hd, y, y1, c, hd, !VECTOR);
        if (y2 != y0 && y2 != y1) addWeightedRowsScalar(w, w2, n, vb, hd, y, y2, c, hd, !VECTOR);
        if (y3 != y0 && y3 != y1 && y3 != y2) addWeightedRowsScalar(w, w3, n, vb, hd, y, y3, c, hd, !VECTOR);
    }

    /** Elements of {@link #addWeightedRows4} that its vector lanes cover: {@code [0, vectorElements(hd))}. */
    static int vectorElements(int hd) {
        return VECTOR ? Vec.S.loopBound(hd) : 0;
    }

    /**
     * Elements {@code [from, to)} of one query of {@link #addWeightedRows4}: with {@code fused}, one fma per position
     * (the vector lanes' arithmetic: the scalar twin); otherwise a multiply and an add, as past the vector lanes.
     */
    static void addWeightedRowsScalar(float[] w, int wOff, int n, float[] vb, int hd, float[] y, int yOff, int from, int to,
                                      boolean fused) {
        for (int c = from; c < to; c++) {
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

        /** The vector part of {@link #blockScores4}: offsets [0, loopBound(bs)); returns where the scalar tail starts. */
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

        /** The vector part of {@link #addWeightedRows4}: elements [0, loopBound(hd)); returns where the tail starts. */
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
