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
