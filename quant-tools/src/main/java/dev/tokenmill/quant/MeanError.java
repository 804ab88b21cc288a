package dev.tokenmill.quant;

/**
 * A sample mean and the standard error of that mean, from running sums: llama.cpp's {@code mean_and_uncertainty}
 * in {@code tools/perplexity/perplexity.cpp} (the error is 0 for 10 values or fewer, or a non-positive variance).
 */
record MeanError(double mean, double error) {

    static MeanError of(double sum, double sumSquares, long count) {
        if (count < 1) return new MeanError(0, 0);
        double mean = sum / count;
        double variance = sumSquares / count - mean * mean;
        double error = variance > 0 && count > 10 ? Math.sqrt(variance / (count - 1)) : 0;
        return new MeanError(mean, error);
    }

    /** The covariance of two means from {@code Σa, Σb, Σab} (llama.cpp's {@code covariance}; 0 under 10 values). */
    static double covariance(double sumA, double sumB, double sumAB, long count) {
        if (count < 10) return 0;
        return (sumAB / count - (sumA / count) * (sumB / count)) / (count - 1);
    }
}
