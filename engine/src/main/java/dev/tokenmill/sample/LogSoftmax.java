package dev.tokenmill.sample;

import dev.tokenmill.model.NonFiniteLogitsException;
import dev.tokenmill.tensor.F32Math;

/**
 * The log-normaliser of a logits row, computed once per row in two vector passes (max, then a sum of exp), and the
 * checks that make non-finite logits an error instead of output.
 */
public final class LogSoftmax {
    private LogSoftmax() {}

    /**
     * {@code ln sum_i exp(row[i])} over {@code logits[off .. off+n)}: the max in one pass, {@code exp(x - max)} summed
     * in double in another (ggml's vector exp, four fixed accumulators: the same bits on every path). {@code scratch}
     * holds at least {@code n} floats and is overwritten. Fails with {@link NonFiniteLogitsException} when a logit is
     * NaN or +infinity, or every logit is -infinity.
     */
    public static double logZ(float[] logits, int off, int n, float[] scratch) {
        System.arraycopy(logits, off, scratch, 0, n);
        float max = F32Math.scaleMax(scratch, 0, n, 1f);
        if (!Float.isFinite(max)) throw nonFinite(logits, off, n);
        double sum = F32Math.expMinusSum(scratch, 0, n, max);
        return max + Math.log(sum);
    }

    /** Index of the largest logit (the lowest among equals); fails like {@link #logZ} on NaN or infinite maxima. */
    public static int argmaxChecked(float[] logits, int off, int n) {
        int best = 0;
        float bv = logits[off];
        boolean nan = bv != bv;
        for (int i = 1; i < n; i++) {
            float v = logits[off + i];
            if (v > bv) {
                bv = v;
                best = i;
            }
            nan |= v != v;
        }
        if (nan || !Float.isFinite(bv)) throw nonFinite(logits, off, n);
        return best;
    }

    private static NonFiniteLogitsException nonFinite(float[] logits, int off, int n) {
        int nan = 0, inf = 0, first = -1;
        for (int i = 0; i < n; i++) {
            float v = logits[off + i];
            if (v != v || v == Float.POSITIVE_INFINITY) {
                if (first < 0) first = i;
                if (v != v) nan++;
                else inf++;
            }
        }
        if (first < 0) return new NonFiniteLogitsException("the model produced no finite logit (all " + n + " are -infinity)");
        return new NonFiniteLogitsException("the model produced non-finite logits (" + nan + " NaN, " + inf + " +infinity of "
                + n + ", first at token " + first + "): the model file's weights are corrupt or overflow");
    }
}
