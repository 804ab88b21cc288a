package dev.tokenmill.quant;

import java.util.Arrays;

/**
 * Compares a model's next-token distributions with a base model's, token by token, and keeps the statistics
 * llama.cpp's {@code perplexity --kl-divergence} reports ({@code kl_divergence} and {@code log_softmax} in
 * {@code tools/perplexity/perplexity.cpp}): the perplexity of both, the KL divergence {@code KL(base || model)},
 * {@code Δp = p_model(token) - p_base(token)} of the actual next token, and how often both models rank the same
 * token first.
 *
 * <p>Two deliberate differences from llama.cpp, both making the numbers more exact: llama.cpp stores the base's
 * log-probabilities as 16-bit integers over the top 16 nats and drops base probabilities below {@code e^-16} from
 * the KL sum; here both models run side by side, so the base's logits are used exactly and the sum runs over the
 * whole vocabulary. Everything is computed in double precision from the float logits.
 */
final class KlDivergence {
    private final int vocabSize;
    private final Perplexity model = new Perplexity(), base = new Perplexity();
    private double sumNllNllBase;
    private double sumKld, sumKld2;
    private double sumPDiff, sumPDiff2, sumPDiff4;
    private double maxAbsPDiff;
    private long sameTop;
    private double[] kldValues, pDiffValues;
    private int count;

    /** {@code expectedTokens} sizes the per-token value arrays (they grow if more come). */
    KlDivergence(int vocabSize, int expectedTokens) {
        this.vocabSize = vocabSize;
        this.kldValues = new double[Math.max(16, expectedTokens)];
        this.pDiffValues = new double[kldValues.length];
    }

    /**
     * Adds one position: the base's logits at {@code base[baseOff..+vocab)}, the model's at
     * {@code logits[off..+vocab)}, and the token that actually came next.
     */
    void add(float[] baseLogits, int baseOff, float[] logits, int off, int target) {
        Softmax b = Softmax.of(baseLogits, baseOff, vocabSize);
        Softmax q = Softmax.of(logits, off, vocabSize);
        double nll = q.logSumExp - logits[off + target];
        double nllBase = b.logSumExp - baseLogits[baseOff + target];
        model.add(nll);
        base.add(nllBase);
        sumNllNllBase += nll * nllBase;

        // KL(base || model) = Σ p_base (ln p_base - ln p_model); the logSumExps turn logits into log-probabilities
        double kld = 0;
        for (int i = 0; i < vocabSize; i++) {
            double logPBase = baseLogits[baseOff + i] - b.logSumExp;
            double logP = logits[off + i] - q.logSumExp;
            kld += Math.exp(logPBase) * (logPBase - logP);
        }
        sumKld += kld;
        sumKld2 += kld * kld;
        if (q.argMax == b.argMax) sameTop++;

        double pDiff = Math.exp(-nll) - Math.exp(-nllBase);
        sumPDiff += pDiff;
        double pDiff2 = pDiff * pDiff;
        sumPDiff2 += pDiff2;
        sumPDiff4 += pDiff2 * pDiff2;
        maxAbsPDiff = Math.max(maxAbsPDiff, Math.abs(pDiff));

        if (count == kldValues.length) {
            kldValues = Arrays.copyOf(kldValues, count * 2);
            pDiffValues = Arrays.copyOf(pDiffValues, count * 2);
        }
        kldValues[count] = kld;
        pDiffValues[count] = pDiff;
        count++;
    }

    long count() { return count; }

    /** ln of a softmax's normaliser and the first index of the largest logit. */
    record Softmax(double logSumExp, int argMax) {
        static Softmax of(float[] x, int off, int n) {
            float max = x[off];
            int argMax = 0;
            for (int i = 1; i < n; i++) {
                if (x[off + i] > max) {
                    max = x[off + i];
                    argMax = i;
                }
            }
            double sum = 0;
            for (int i = 0; i < n; i++) sum += Math.exp(x[off + i] - (double) max);
            return new Softmax(max + Math.log(sum), argMax);
        }
    }

    /** The perplexity, KL and Δp statistics so far, named as llama.cpp prints them. */
    Summary summary() {
        MeanError logPpl = model.meanNll();
        MeanError logPplBase = base.meanNll();
        double cov = MeanError.covariance(model.sum(), base.sum(), sumNllNllBase, count);
        double ppl = Math.exp(logPpl.mean()), pplErr = ppl * logPpl.error();
        double pplBase = Math.exp(logPplBase.mean()), pplBaseErr = pplBase * logPplBase.error();
        double lnRatio = logPpl.mean() - logPplBase.mean();
        double lnRatioErr = Math.sqrt(Math.max(0, logPpl.error() * logPpl.error()
                + logPplBase.error() * logPplBase.error() - 2 * cov));
        double ratio = Math.exp(lnRatio);
        double pplDiffErr = Math.sqrt(Math.max(0, pplErr * pplErr + pplBaseErr * pplBaseErr - 2 * ppl * pplBase * cov));
        double correlation = logPpl.error() > 0 && logPplBase.error() > 0 ? cov / (logPpl.error() * logPplBase.error()) : Double.NaN;

        MeanError kld = MeanError.of(sumKld, sumKld2, count);
        MeanError pDiff = MeanError.of(sumPDiff, sumPDiff2, count);
        MeanError pDiffMse = MeanError.of(sumPDiff2, sumPDiff4, count);
        double rms = Math.sqrt(pDiffMse.mean());
        double rmsErr = rms > 0 ? 0.5 / rms * pDiffMse.error() : 0;
        double top = count == 0 ? 0 : (double) sameTop / count;
        double topErr = count > 1 ? Math.sqrt(top * (1 - top) / (count - 1)) : 0;

        return new Summary(count,
                new MeanError(ppl, pplErr), new MeanError(pplBase, pplBaseErr), correlation,
                new MeanError(lnRatio, lnRatioErr), new MeanError(ratio, ratio * lnRatioErr),
                new MeanError(ppl - pplBase, pplDiffErr),
                kld, Distribution.of(Arrays.copyOf(kldValues, count)),
                pDiff, Distribution.of(Arrays.copyOf(pDiffValues, count)), maxAbsPDiff,
                new MeanError(rms, rmsErr), new MeanError(top, topErr));
    }

    /**
     * @param pplCorrelation   correlation of the two models' mean ln-probabilities (NaN with too few tokens)
     * @param lnPplRatio       {@code ln(PPL(Q)/PPL(base))}, its error from both errors and their covariance
     * @param pDiff            mean {@code Δp} (a fraction, not a percentage)
     * @param rmsPDiff         {@code sqrt(mean Δp²)}
     * @param sameTop          fraction of positions where both models rank the same token first
     */
    record Summary(long count, MeanError ppl, MeanError pplBase, double pplCorrelation, MeanError lnPplRatio,
                   MeanError pplRatio, MeanError pplDiff, MeanError kld, Distribution kldDistribution,
                   MeanError pDiff, Distribution pDiffDistribution, double maxAbsPDiff, MeanError rmsPDiff,
                   MeanError sameTop) {}

    /** Sorted values with llama.cpp's percentile (linear between neighbours) and median. */
    record Distribution(double[] sorted) {
        static Distribution of(double[] values) {
            double[] s = values.clone();
            Arrays.sort(s);
            return new Distribution(s);
        }

        double min() { return sorted.length == 0 ? 0 : sorted[0]; }

        double max() { return sorted.length == 0 ? 0 : sorted[sorted.length - 1]; }

        double median() {
            int n = sorted.length;
            if (n == 0) return 0;
            return n % 2 == 0 ? 0.5 * (sorted[n / 2] + sorted[n / 2 - 1]) : sorted[n / 2];
        }

        /** {@code fraction} in [0, 1]; as llama.cpp's {@code percentile} lambda. */
        double percentile(double fraction) {
            if (sorted.length == 0) return 0;
            if (fraction <= 0) return min();
            if (fraction >= 1) return max();
            double p = fraction * (sorted.length - 1);
            int ip = (int) p;
            p -= ip;
            return (1 - p) * sorted[ip] + p * sorted[Math.min(ip + 1, sorted.length - 1)];
        }
    }
}
