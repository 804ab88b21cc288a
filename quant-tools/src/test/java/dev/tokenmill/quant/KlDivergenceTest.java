package dev.tokenmill.quant;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class KlDivergenceTest {

    @Test
    void matchesHandComputedDistributions() {
        // base p = (1/2, 1/4, 1/4), model q = (1/4, 1/2, 1/4): logits are ln of the probabilities (any shift works)
        float[] base = {(float) Math.log(2), 0f, 0f};
        float[] model = {5f, 5f + (float) Math.log(2), 5f};
        KlDivergence k = new KlDivergence(3, 1);
        k.add(base, 0, model, 0, 0);
        KlDivergence.Summary s = k.summary();
        double expected = 0.5 * Math.log(2) + 0.25 * Math.log(0.5) + 0; // Σ p ln(p/q)
        assertThat(s.kld().mean()).isCloseTo(expected, within(1e-7));
        assertThat(s.sameTop().mean()).isZero(); // base ranks token 0 first, the model token 1
        assertThat(s.pDiff().mean()).isCloseTo(0.25 - 0.5, within(1e-7));
        assertThat(s.ppl().mean()).isCloseTo(4, within(1e-6));
        assertThat(s.pplBase().mean()).isCloseTo(2, within(1e-6));
        assertThat(s.lnPplRatio().mean()).isCloseTo(Math.log(2), within(1e-7));
    }

    @Test
    void offsetsSelectTheRows() {
        float[] base = {9, 9, 9, (float) Math.log(2), 0f, 0f};
        float[] model = {7, 0f, (float) Math.log(2), 0f};
        KlDivergence k = new KlDivergence(3, 0);
        k.add(base, 3, model, 1, 2);
        // base (1/2,1/4,1/4), model (1/4,1/2,1/4)
        assertThat(k.summary().kld().mean()).isCloseTo(0.25 * Math.log(2), within(1e-7));
    }

    @Test
    void percentilesInterpolateAsLlamaCppDoes() {
        KlDivergence.Distribution d = KlDivergence.Distribution.of(new double[] {4, 1, 3, 2});
        assertThat(d.min()).isEqualTo(1);
        assertThat(d.max()).isEqualTo(4);
        assertThat(d.median()).isEqualTo(2.5);
        assertThat(d.percentile(0.5)).isEqualTo(2.5);   // p = 1.5
        assertThat(d.percentile(0.9)).isCloseTo(3.7, within(1e-12)); // p = 2.7
        assertThat(d.percentile(0)).isEqualTo(1);
        assertThat(d.percentile(1)).isEqualTo(4);
    }

    @Test
    void meanErrorIsTheStandardErrorOfTheMeanAndZeroForTenValuesOrFewer() {
        double sum = 0, sum2 = 0;
        for (int i = 1; i <= 11; i++) {
            sum += i;
            sum2 += i * i;
        }
        MeanError m = MeanError.of(sum, sum2, 11);
        assertThat(m.mean()).isEqualTo(6);
        // population variance 10, so sqrt(10 / 10) = 1
        assertThat(m.error()).isCloseTo(1.0, within(1e-12));
        assertThat(MeanError.of(sum, sum2, 10).error()).isZero();
    }
}
