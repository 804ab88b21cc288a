package dev.tokenmill.backend.cpu;

import dev.tokenmill.tensor.F32Math;
import dev.tokenmill.tensor.VectorSupport;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The inner loops of paged attention over one KV block of one head: scores of a query against every position of
 * the block from K stored transposed ({@link PagedKvCache#kBlock}), and the weighted sum of the block's V rows.
 *
 * <p>A score is {@code q[0]*k[0] + q[1]*k[1] + ...} folded in element order with one fma per element, so the
 * vector form (one lane per position: a broadcast query element times a row of positions) and the scalar twin give
 * the same bits, and a position's score never depends on the block, the batch or the thread it is computed in.
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
        for (int o = 0; o < n; o++) F32Math.axpy(w[wOff + o], vb, o * hd, y, yOff, hd);
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
    }
}
