package dev.tokenmill.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class PagedAttentionTest {

    @Test
    void vectorBlockScoresGiveTheScalarTwinsBits() {
        Random r = new Random(7);
        for (int bs : new int[] {1, 5, 8, 16, 32, 48}) {
            for (int hd : new int[] {4, 64, 72, 80}) {
                float[] q = gaussian(r, 4 * hd + 3), kb = gaussian(r, hd * bs);
                int[] qo = {3, 3 + hd, 3 + 2 * hd, 3 + 3 * hd};
                float[] four = new float[4 * bs + 2], twin = new float[4 * bs + 2];
                PagedAttention.blockScores4(q, qo[0], qo[1], qo[2], qo[3], kb, bs, hd, four, 2, 2 + bs, 2 + 2 * bs, 2 + 3 * bs);
                for (int k = 0; k < 4; k++) PagedAttention.blockScoresScalar(q, qo[k], kb, bs, hd, twin, 2 + k * bs, 0);
                assertThat(four).as("bs=%d hd=%d", bs, hd).isEqualTo(twin);
                for (int o = 0; o < bs; o++) {
                    double exact = 0, mag = 0;
                    for (int i = 0; i < hd; i++) {
                        exact += (double) q[3 + i] * kb[i * bs + o];
                        mag += Math.abs((double) q[3 + i] * kb[i * bs + o]);
                    }
                    assertThat((double) twin[2 + o]).isCloseTo(exact, within(hd * 0x1p-24 * mag + 1e-30));
                }

                // a last group of fewer than four repeats its last query: computed again, stored with the same bits
                float[] rep = new float[4 * bs + 2];
                PagedAttention.blockScores4(q, qo[0], qo[1], qo[1], qo[1], kb, bs, hd, rep, 2, 2 + bs, 2 + bs, 2 + bs);
                assertThat(java.util.Arrays.copyOf(rep, 2 + 2 * bs)).isEqualTo(java.util.Arrays.copyOf(twin, 2 + 2 * bs));
            }
        }
    }

    @Test
    void vectorWeightedRowsGiveTheScalarTwinsBits() {
        Random r = new Random(10);
        for (int n : new int[] {1, 3, 9, 16}) {
            for (int hd : new int[] {5, 8, 64, 72}) {
                float[] w = gaussian(r, 4 * n + 2), vb = gaussian(r, n * hd), y0 = gaussian(r, 4 * hd + 1);
                int[] wo = {2, 2 + n, 2 + 2 * n, 2 + 3 * n}, yo = {1, 1 + hd, 1 + 2 * hd, 1 + 3 * hd};
                float[] y = y0.clone();
                PagedAttention.addWeightedRows4(w, wo[0], wo[1], wo[2], wo[3], n, vb, hd, y, yo[0], yo[1], yo[2], yo[3]);
                // the twin: one fma per position over the vector lanes' elements, a multiply and an add past them
                int c = PagedAttention.vectorElements(hd);
                float[] twin = y0.clone();
                for (int k = 0; k < 4; k++) {
                    PagedAttention.addWeightedRowsScalar(w, wo[k], n, vb, hd, twin, yo[k], 0, c, true);
                    PagedAttention.addWeightedRowsScalar(w, wo[k], n, vb, hd, twin, yo[k], c, hd, false);
                }
                assertThat(y).as("n=%d hd=%d", n, hd).isEqualTo(twin);
                for (int k = 0; k < 4; k++) {
                    for (int e = 0; e < hd; e++) {
                        double exact = y0[yo[k] + e], mag = Math.abs(y0[yo[k] + e]);
                        for (int o = 0; o < n; o++) {
                            exact += (double) w[wo[k] + o] * vb[o * hd + e];
                            mag += Math.abs((double) w[wo[k] + o] * vb[o * hd + e]);
                        }
                        assertThat((double) y[yo[k] + e]).isCloseTo(exact, within(2 * (n + 1) * 0x1p-24 * mag + 1e-30));
                    }
                }

                // a repeated query (same weights and output) is still added once
                float[] rep = y0.clone();
                PagedAttention.addWeightedRows4(w, wo[0], wo[1], wo[1], wo[1], n, vb, hd, rep, yo[0], yo[1], yo[1], yo[1]);
                assertThat(java.util.Arrays.copyOf(rep, 1 + 2 * hd)).isEqualTo(java.util.Arrays.copyOf(twin, 1 + 2 * hd));
            }
        }
    }

    @Test
    void kvCacheReadsBackWhatItStoredInBothLayouts() {
        Random r = new Random(9);
        int layers = 2, blocks = 3, bs = 4, heads = 2, hd = 8, kvDim = heads * hd;
        for (boolean f16 : new boolean[] {false, true}) {
            PagedKvCache kv = new PagedKvCache(layers, blocks, bs, heads, hd, f16);
            float[][][] k = new float[blocks][bs][], v = new float[blocks][bs][];
            for (int b = 0; b < blocks; b++) {
                for (int o = 0; o < bs; o++) {
                    k[b][o] = gaussian(r, kvDim);
                    v[b][o] = gaussian(r, kvDim);
                    kv.write(1, b, o, k[b][o], 0, v[b][o], 0);
                }
            }
            float[] kb = new float[hd * bs], vb = new float[hd * bs];
            for (int b = 0; b < blocks; b++) {
                for (int h = 0; h < heads; h++) {
                    kv.kBlock(1, b, h, kb);
                    kv.vBlock(1, b, h, vb);
                    for (int o = 0; o < bs; o++) {
                        for (int i = 0; i < hd; i++) {
                            float tol = f16 ? 1e-3f * Math.max(1f, Math.abs(k[b][o][h * hd + i])) : 0f;
                            assertThat(kb[i * bs + o]).isCloseTo(k[b][o][h * hd + i], within(tol));
                            tol = f16 ? 1e-3f * Math.max(1f, Math.abs(v[b][o][h * hd + i])) : 0f;
                            assertThat(vb[o * hd + i]).isCloseTo(v[b][o][h * hd + i], within(tol));
                        }
                    }
                }
            }
        }
    }

    private static float[] gaussian(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }
}
