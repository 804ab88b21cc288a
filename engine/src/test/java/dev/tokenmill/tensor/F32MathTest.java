package dev.tokenmill.tensor;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class F32MathTest {

    @Test
    void vectorTwinsMatchScalarWithinFloatRounding() {
        Random r = new Random(3);
        for (int n : new int[] {1, 7, 8, 16, 33, 64, 128, 200}) {
            float[] a = new float[n + 5], b = new float[n + 3];
            for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
            for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian();
            double exact = 0, mag = 0;
            for (int i = 0; i < n; i++) {
                exact += (double) a[5 + i] * b[3 + i];
                mag += Math.abs((double) a[5 + i] * b[3 + i]);
            }
            // either order of float sums is within n * 2^-24 * sum|a_i b_i| of the exact value
            double budget = n * 0x1p-24 * mag + 1e-30;
            assertThat((double) F32Math.Vec.dot(a, 5, b, 3, n)).as("vector dot n=%d", n).isCloseTo(exact, within(budget));
            assertThat((double) F32Math.dotScalar(a, 5, b, 3, n)).as("scalar dot n=%d", n).isCloseTo(exact, within(budget));

            float[] y1 = b.clone(), y2 = b.clone();
            F32Math.Vec.axpy(0.37f, a, 5, y1, 3, n);
            F32Math.axpyScalar(0.37f, a, 5, y2, 3, n);
            // fma rounds once, the scalar twin twice (product, then sum): half an ulp of each, plus the result's
            for (int i = 0; i < n; i++) {
                float budgetI = Math.ulp(y2[3 + i]) + Math.ulp(0.37f * a[5 + i]) + Math.ulp(b[3 + i]);
                assertThat(y1[3 + i]).isCloseTo(y2[3 + i], within(budgetI));
            }
        }
    }
}
