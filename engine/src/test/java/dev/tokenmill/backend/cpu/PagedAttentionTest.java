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
            for (int hd : new int[] {4, 64, 80}) {
                float[] q = gaussian(r, hd + 3), kb = gaussian(r, hd * bs);
                float[] v = new float[bs + 2], s = new float[bs + 2];
                PagedAttention.blockScores(q, 3, kb, bs, hd, v, 2);
                PagedAttention.blockScoresScalar(q, 3, kb, bs, hd, s, 2, 0);
                assertThat(v).as("bs=%d hd=%d", bs, hd).isEqualTo(s);
                for (int o = 0; o < bs; o++) {
                    double exact = 0, mag = 0;
                    for (int i = 0; i < hd; i++) {
                        exact += (double) q[3 + i] * kb[i * bs + o];
                        mag += Math.abs((double) q[3 + i] * kb[i * bs + o]);
                    }
                    assertThat((double) s[2 + o]).isCloseTo(exact, within(hd * 0x1p-24 * mag + 1e-30));
                }
            }
        }
    }

    @Test
    void fourQueryFormsGiveTheBitsOfOneQueryAtATime() {
        Random r = new Random(8);
        for (int bs : new int[] {1, 7, 16, 32}) {
            for (int hd : new int[] {4, 64, 72}) {
                float[] q = gaussian(r, 4 * hd + 1), kb = gaussian(r, hd * bs), vb = gaussian(r, hd * bs);
                int[] qo = {1, 1 + hd, 1 + 2 * hd, 1 + 3 * hd};
                float[] four = new float[4 * bs], one = new float[4 * bs];
                PagedAttention.blockScores4(q, qo[0], qo[1], qo[2], qo[3], kb, bs, hd, four, 0, bs, 2 * bs, 3 * bs);
                for (int k = 0; k < 4; k++) PagedAttention.blockScores(q, qo[k], kb, bs, hd, one, k * bs);
                assertThat(four).as("scores bs=%d hd=%d", bs, hd).isEqualTo(one);

                float[] w = gaussian(r, 4 * bs);
                float[] y4 = gaussian(r, 4 * hd), y1 = y4.clone();
                PagedAttention.addWeightedRows4(w, 0, bs, 2 * bs, 3 * bs, bs, vb, hd, y4, 0, hd, 2 * hd, 3 * hd);
                for (int k = 0; k < 4; k++) PagedAttention.addWeightedRows(w, k * bs, bs, vb, hd, y1, k * hd);
                assertThat(y4).as("weighted rows bs=%d hd=%d", bs, hd).isEqualTo(y1);

                // a last group of fewer than four repeats its last query: computed and added once all the same
                float[] sRep = new float[4 * bs];
                PagedAttention.blockScores4(q, qo[0], qo[1], qo[1], qo[1], kb, bs, hd, sRep, 0, bs, bs, bs);
                assertThat(java.util.Arrays.copyOf(sRep, 2 * bs)).isEqualTo(java.util.Arrays.copyOf(one, 2 * bs));
                float[] yRep = gaussian(r, 4 * hd), yOne = yRep.clone();
                PagedAttention.addWeightedRows4(w, 0, bs, bs, bs, bs, vb, hd, yRep, 0, hd, hd, hd);
                for (int k = 0; k < 2; k++) PagedAttention.addWeightedRows(w, k * bs, bs, vb, hd, yOne, k * hd);
                assertThat(yRep).as("repeated query bs=%d hd=%d", bs, hd).isEqualTo(yOne);

                // part of a block (a token that reaches into it): the same bits over the first n positions
                int n = Math.max(1, bs / 2 + 1);
                float[] yPart4 = gaussian(r, 4 * hd), yPart1 = yPart4.clone();
                PagedAttention.addWeightedRows4(w, 0, bs, 2 * bs, 2 * bs, n, vb, hd, yPart4, 0, hd, 2 * hd, 2 * hd);
                for (int k = 0; k < 3; k++) PagedAttention.addWeightedRows(w, k * bs, n, vb, hd, yPart1, k * hd);
                assertThat(yPart4).as("partial block n=%d bs=%d hd=%d", n, bs, hd).isEqualTo(yPart1);
            }
        }
    }

    @Test
    void vectorWeightedRowsGiveTheScalarTwinsBits() {
        Random r = new Random(10);
        for (int n : new int[] {1, 3, 16}) {
            for (int hd : new int[] {5, 8, 64, 72}) {
                float[] w = gaussian(r, n + 2), vb = gaussian(r, n * hd), y0 = gaussian(r, hd + 1);
                float[] y = y0.clone();
                int c = PagedAttention.Vec.addWeightedRows(w, 2, n, vb, hd, y, 1);
                PagedAttention.addWeightedRowsScalar(w, 2, n, vb, hd, y, 1, c, false);
                // lanes fold with one fma per position; elements past the last whole vector multiply, then add
                float[] fused = y0.clone(), plain = y0.clone();
                PagedAttention.addWeightedRowsScalar(w, 2, n, vb, hd, fused, 1, 0, true);
                PagedAttention.addWeightedRowsScalar(w, 2, n, vb, hd, plain, 1, 0, false);
                for (int e = 0; e < hd; e++) {
                    assertThat(y[1 + e]).as("n=%d hd=%d element %d", n, hd, e).isEqualTo(e < c ? fused[1 + e] : plain[1 + e]);
                    double exact = y0[1 + e], mag = Math.abs(y0[1 + e]);
                    for (int o = 0; o < n; o++) {
                        exact += (double) w[2 + o] * vb[o * hd + e];
                        mag += Math.abs((double) w[2 + o] * vb[o * hd + e]);
                    }
                    assertThat((double) y[1 + e]).isCloseTo(exact, within(2 * (n + 1) * 0x1p-24 * mag + 1e-30));
                }
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
