package dev.tokenmill.tensor;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class F32MathTest {

    @Test
    void vectorDotMatchesTheScalarTwinWithinFloatRounding() {
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
        }
    }

    @Test
    void expIsWithinTwoUlpOfTheExactValueOverTheWholeRange() {
        Random r = new Random(11);
        for (int i = 0; i < 200_000; i++) {
            float x = -104f + 192.5f * r.nextFloat();
            double exact = Math.exp(x);
            float got = F32Math.exp(x);
            float ref = (float) exact;
            // subnormal results have an absolute ulp; 1.5 ulp of error plus the reference's own rounding
            assertThat((double) got).as("exp(%s)", x).isCloseTo(exact, within(2 * (double) Math.ulp(ref) + 0x1p-149));
        }
        assertThat(F32Math.exp(0f)).isEqualTo(1f);
        assertThat(F32Math.exp(89f)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(F32Math.exp(Float.POSITIVE_INFINITY)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(F32Math.exp(-200f)).isEqualTo(0f);
        assertThat(F32Math.exp(Float.NEGATIVE_INFINITY)).isEqualTo(0f);
        assertThat(F32Math.exp(Float.NaN)).isNaN();
    }

    @Test
    void vectorExpSwigluAndSoftmaxGiveTheScalarBits() {
        Random r = new Random(5);
        for (int n : new int[] {1, 7, 16, 33, 100, 4864}) {
            float[] g = new float[n + 2], up = new float[n + 2];
            for (int i = 0; i < g.length; i++) {
                // mostly ordinary values, some far out so the vector path's rare branch runs too
                g[i] = r.nextInt(10) == 0 ? (float) (r.nextGaussian() * 120) : (float) (r.nextGaussian() * 4);
                up[i] = (float) r.nextGaussian();
            }
            float[] v = g.clone(), sc = g.clone();
            F32Math.Vec.swiglu(v, up, 2, n);
            F32Math.swigluScalar(sc, up, 2, 0, n);
            assertThat(v).as("swiglu n=%d", n).isEqualTo(sc);

            float[] ev = g.clone(), es = g.clone();
            float maxV = F32Math.Vec.scaleMax(ev, 2, n, 0.3f);
            float maxS = F32Math.scaleMaxScalar(es, 2, 0, n, 0.3f, Float.NEGATIVE_INFINITY);
            assertThat(ev).as("scaled n=%d", n).isEqualTo(es);
            assertThat(maxV).isEqualTo(maxS);
            int c = F32Math.Vec.expMinus(ev, 2, n, maxV);
            for (int i = 0; i < n; i++) {
                float e = F32Math.exp(es[2 + i] - maxS);
                if (i >= c) assertThat(ev[2 + i]).isEqualTo(es[2 + i]); // the tail is left to the caller
                es[2 + i] = e;
            }
            for (int i = c; i < n; i++) ev[2 + i] = es[2 + i];
            assertThat(ev).as("exp(s - max) n=%d", n).isEqualTo(es);
            double exact = 0;
            for (int i = 0; i < n; i++) exact += es[2 + i];
            float[] again = g.clone();
            double sum = F32Math.expMinusSum(again, 2, n, F32Math.scaleMax(again, 2, n, 0.3f));
            assertThat(again).isEqualTo(es);
            assertThat(sum).isCloseTo(exact, within(exact * n * 0x1p-50));
        }
    }
}
