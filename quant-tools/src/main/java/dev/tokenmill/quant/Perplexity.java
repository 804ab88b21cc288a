package dev.tokenmill.quant;

/**
 * Running perplexity over scored tokens: the sum and sum of squares of the negative log-likelihoods, as
 * llama.cpp's {@code perplexity()} keeps them. {@code ppl = exp(mean NLL)}; its error is the standard error of the
 * mean NLL carried through {@code exp} ({@code ppl * se}), as llama.cpp's "Final estimate" prints it.
 */
final class Perplexity {
    private double sumNll, sumNll2;
    private long count;

    /** Adds one token's negative log-likelihood (natural log). */
    void add(double nll) {
        sumNll += nll;
        sumNll2 += nll * nll;
        count++;
    }

    long count() { return count; }

    double sum() { return sumNll; }

    double sumSquares() { return sumNll2; }

    /** The mean NLL and its standard error. */
    MeanError meanNll() { return MeanError.of(sumNll, sumNll2, count); }

    double ppl() { return count == 0 ? Double.NaN : Math.exp(sumNll / count); }

    /** {@code exp(mean NLL)} and its standard error. */
    MeanError estimate() {
        MeanError nll = meanNll();
        double ppl = Math.exp(nll.mean());
        return new MeanError(ppl, ppl * nll.error());
    }
}
