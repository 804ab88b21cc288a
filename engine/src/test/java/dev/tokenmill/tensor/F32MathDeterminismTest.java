package dev.tokenmill.tensor;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A dot product must give the same bits whether it runs interpreted (a fresh JVM, the first requests) or compiled
 * by C2 (later requests): otherwise the same request gives different logits depending on when it runs.
 */
class F32MathDeterminismTest {
    @Test
    void dotGivesTheSameBitsColdAndWarm() {
        Random r = new Random(42);
        float[] a = new float[64 * 40], b = new float[64 * 40];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
            b[i] = (float) r.nextGaussian();
        }
        float[] cold = new float[40];
        for (int j = 0; j < 40; j++) cold[j] = F32Math.dot(a, j * 64, b, j * 64, 64);
        float sink = 0;
        for (int rep = 0; rep < 200_000; rep++) sink += F32Math.dot(a, (rep % 40) * 64, b, (rep % 40) * 64, 64);
        float[] warm = new float[40];
        for (int j = 0; j < 40; j++) warm[j] = F32Math.dot(a, j * 64, b, j * 64, 64);
        assertThat(warm).as("sink %s", sink).containsExactly(cold);
    }
}
