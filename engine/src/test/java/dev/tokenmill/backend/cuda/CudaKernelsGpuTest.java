package dev.tokenmill.backend.cuda;

import dev.tokenmill.backend.ForwardBatch;
import dev.tokenmill.tensor.Fp16;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Each kernel alone on random inputs against a plain Java reference written as the CPU backend computes (outputs
 * poisoned with NaN first, so an element left unwritten fails). Skipped without a CUDA device.
 */
@Tag("gpu")
class CudaKernelsGpuTest {
    private static CudaContext cu;
    private final Random rnd = new Random(17);

    @BeforeAll
    static void open() {
        StringBuilder why = new StringBuilder();
        assumeTrue(new CudaBackendFactory().available(why), "no CUDA device: " + why);
        cu = CudaContext.open(0);
    }

    @AfterAll
    static void close() {
        if (cu != null) cu.close();
    }

    private float[] randn(int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextGaussian() * scale);
        return v;
    }

    private long poisoned(long bytes) {
        long p = cu.alloc(bytes);
        cu.fill(p, (byte) 0xFF, bytes);
        return p;
    }

    private static short[] bf16(float[] v) {
        short[] s = new short[v.length];
        for (int i = 0; i < v.length; i++) s[i] = Fp16.floatToBf16(v[i]);
        return s;
    }

    private static void assertClose(float[] got, float[] want, double relTol, String what) {
        assertThat(got).hasSameSizeAs(want);
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            assertThat(Float.isFinite(got[i])).as("%s[%d] written and finite (got %s)", what, i, got[i]).isTrue();
            double d = got[i] - want[i];
            num += d * d;
            den += (double) want[i] * want[i];
        }
        assertThat(Math.sqrt(num / Math.max(den, 1e-30))).as(what + ": relative L2 error").isLessThan(relTol);
    }

    @Test
    void embedGather() {
        int v = 50, d = 96, t = 7;
        float[] table = randn(v * d, 1);
        int[] tokens = {3, 0, 49, 3, 17, 8, 22};
        for (int type = 0; type <= 2; type++) {
            long tab = type == 0 ? cu.upload(table) : cu.upload(type == 2 ? bf16(table) : f16(table));
            long x = poisoned(4L * t * d);
            cu.drv.begin().arg(x).arg(tab).arg(type).arg(cu.upload(tokens)).arg(d).launch(cu.kernel("embed_gather"), t, 1, 256, 0);
            float[] got = cu.downloadFloats(x, t * d);
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < d; j++) {
                    float w = table[tokens[i] * d + j];
                    float want = type == 0 ? w : type == 2 ? Fp16.bf16ToFloat(Fp16.floatToBf16(w)) : Fp16.toFloat(Fp16.fromFloat(w));
                    assertThat(got[i * d + j]).as("type %d token %d elem %d", type, i, j).isEqualTo(want);
                }
            }
        }
    }

    private static short[] f16(float[] v) {
        short[] s = new short[v.length];
        for (int i = 0; i < v.length; i++) s[i] = Fp16.fromFloat(v[i]);
        return s;
    }

    private static void rmsRef(float[] out, int outOff, float[] x, int xOff, float[] w, int n, float eps) {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += x[xOff + i] * x[xOff + i];
        float scale = (float) (1.0 / Math.sqrt((float) (sum / n) + eps));
        for (int i = 0; i < n; i++) out[outOff + i] = x[xOff + i] * scale * w[i];
    }

    @Test
    void rmsNormAllRowsAndGatheredRows() {
        int n = 9, d = 2048;
        float[] x = randn(n * d, 2), w = randn(d, 1);
        long xd = cu.upload(x), wd = cu.upload(w);
        long out = poisoned(4L * n * d);
        cu.drv.begin().arg(out).arg(0).arg(xd).arg(wd).arg(0L).arg(d).arg(1e-5f).launch(cu.kernel("rmsnorm"), n, 1, 256, 0);
        float[] want = new float[n * d];
        for (int r = 0; r < n; r++) rmsRef(want, r * d, x, r * d, w, d, 1e-5f);
        assertClose(cu.downloadFloats(out, n * d), want, 1e-6, "rmsnorm f32");
        int[] rows = {8, 2, 2};
        long outB = poisoned(2L * rows.length * d);
        cu.drv.begin().arg(outB).arg(2).arg(xd).arg(wd).arg(cu.upload(rows)).arg(d).arg(1e-5f).launch(cu.kernel("rmsnorm"), rows.length, 1, 256, 0);
        short[] got = cu.downloadShorts(outB, rows.length * d);
        float[] g = new float[got.length], wr = new float[got.length];
        for (int r = 0; r < rows.length; r++) rmsRef(wr, r * d, x, rows[r] * d, w, d, 1e-5f);
        for (int i = 0; i < got.length; i++) g[i] = Fp16.bf16ToFloat(got[i]);
        assertClose(g, wr, 5e-3, "rmsnorm gathered bf16");
    }

    @Test
    void swiglu() {
        for (int ffn : new int[] {1000, 1002}) { // swiglu4 and the scalar kernel
            int t = 5;
            float[] gu = randn(t * 2 * ffn, 2);
            float[] want = new float[t * ffn];
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < ffn; j++) {
                    float g = gu[i * 2 * ffn + j], u = gu[i * 2 * ffn + ffn + j];
                    want[i * ffn + j] = (float) (g / (1 + Math.exp(-g)) * u);
                }
            }
            long total = (long) t * ffn, units = ffn % 4 == 0 ? total / 4 : total;
            String k = LaunchGeometry.swigluKernel(ffn);
            long out = poisoned(4L * t * ffn);
            cu.drv.begin().arg(out).arg(0).arg(cu.upload(gu)).arg(ffn).arg(units).launch(cu.kernel(k), LaunchGeometry.blocks(units, 256), 1, 256, 0);
            assertClose(cu.downloadFloats(out, t * ffn), want, 1e-5, k + " f32");
            long outB = poisoned(2L * t * ffn);
            cu.drv.begin().arg(outB).arg(2).arg(cu.upload(gu)).arg(ffn).arg(units).launch(cu.kernel(k), LaunchGeometry.blocks(units, 256), 1, 256, 0);
            short[] b = cu.downloadShorts(outB, t * ffn);
            float[] g = new float[b.length];
            for (int i = 0; i < b.length; i++) g[i] = Fp16.bf16ToFloat(b[i]);
            assertClose(g, want, 5e-3, k + " bf16");
        }
    }

    @Test
    void argmaxTakesTheLowestIdAmongTies() {
        int rows = 4, vocab = 128_256;
        float[] l = randn(rows * vocab, 3);
        l[0 * vocab + 777] = 50;
        l[0 * vocab + 90_000] = 50;   // tie: the lower id wins
        l[1 * vocab + vocab - 1] = 60; // the last id
        l[2 * vocab] = 70;             // the first id
        long out = poisoned(4L * rows);
        cu.drv.begin().arg(cu.upload(l)).arg(vocab).arg(out).launch(cu.kernel("argmax_rows"), rows, 1, 1024, 0);
        int[] got = cu.downloadInts(out, rows);
        int best3 = 0;
        for (int v = 1; v < vocab; v++) if (l[3 * vocab + v] > l[3 * vocab + best3]) best3 = v;
        assertThat(got).containsExactly(777, vocab - 1, 0, best3);
    }

    @Test
    void gemmBf16WithF32AccumulationAndResidualAdd() {
        int m = 384, n = 37, k = 256;
        float[] w = randn(m * k, 0.1), x = randn(n * k, 1), y0 = randn(n * m, 1);
        long wd = cu.upload(bf16(w)), xd = cu.upload(bf16(x)), yd = cu.upload(y0);
        cu.blas.gemm(wd, Cublas.R_16BF, xd, Cublas.R_16BF, yd, Cublas.R_32F, m, n, k, true);
        float[] want = new float[n * m];
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < m; r++) {
                double acc = y0[t * m + r];
                for (int c = 0; c < k; c++) acc += (double) Fp16.bf16ToFloat(Fp16.floatToBf16(w[r * k + c])) * Fp16.bf16ToFloat(Fp16.floatToBf16(x[t * k + c]));
                want[t * m + r] = (float) acc;
            }
        }
        assertClose(cu.downloadFloats(yd, n * m), want, 1e-5, "gemm bf16 + residual");
        long yf = poisoned(4L * n * m);
        cu.blas.gemm(cu.upload(w), Cublas.R_32F, cu.upload(x), Cublas.R_32F, yf, Cublas.R_32F, m, n, k, false);
        for (int i = 0; i < want.length; i++) {
            int t = i / m, r = i % m;
            double acc = 0;
            for (int c = 0; c < k; c++) acc += (double) w[r * k + c] * x[t * k + c];
            want[i] = (float) acc;
        }
        assertClose(cu.downloadFloats(yf, n * m), want, 1e-5, "gemm f32");
    }

    @Test
    void gemvForFewTokensMatchesTheProduct() {
        for (int type : new int[] {1, 2}) {
            for (int n = 1; n <= LaunchGeometry.GEMV_MAX_N; n++) {
                int m = 1000, k = 2056; // k: 257 chunks of 8, past the unrolled part
                float[] w = randn(m * k, 0.05), x = randn(n * k, 1), y0 = randn(n * m, 1);
                short[] w16 = type == 2 ? bf16(w) : f16(w), x16 = type == 2 ? bf16(x) : f16(x);
                for (boolean acc : new boolean[] {false, true}) {
                    long y = acc ? cu.upload(y0) : poisoned(4L * n * m);
                    cu.drv.begin().arg(cu.upload(w16)).arg(cu.upload(x16)).arg(type).arg(y).arg(m).arg(k).arg(n).arg(acc ? 1 : 0)
                            .launch(cu.kernel("gemv"), Math.ceilDiv(m, LaunchGeometry.GEMV_ROWS_PER_BLOCK), 1, 256, 0);
                    float[] want = new float[n * m];
                    for (int t = 0; t < n; t++) {
                        for (int r = 0; r < m; r++) {
                            double a = acc ? y0[t * m + r] : 0;
                            for (int c = 0; c < k; c++) {
                                a += (double) widen(w16[r * k + c], type) * widen(x16[t * k + c], type);
                            }
                            want[t * m + r] = (float) a;
                        }
                    }
                    assertClose(cu.downloadFloats(y, n * m), want, 1e-5, "gemv type " + type + " n " + n + (acc ? " accumulate" : ""));
                }
            }
        }
    }

    private static float widen(short v, int type) {
        return type == 2 ? Fp16.bf16ToFloat(v) : Fp16.toFloat(v);
    }

    /** Bias, q/k norm, RoPE (normal or NEOX over part of the head), K/V into their slots as f16. */
    private void ropeKv(boolean neox, boolean bias, boolean norm, int nH, int nKv, int hd, int ropeDim) {
        int t = 6, qd = nH * hd, kvd = nKv * hd, stride = qd + 2 * kvd, maxPos = 300, half = ropeDim / 2;
        float[] qkv = randn(t * stride, 1);
        float[] bq = bias ? randn(qd, 0.3) : null, bk = bias ? randn(kvd, 0.3) : null, bv = bias ? randn(kvd, 0.3) : null;
        float[] qn = norm ? randn(hd, 1) : null, kn = norm ? randn(hd, 1) : null;
        int[] pos = {0, 1, 17, 255, 299, 100};
        int[] slots = {5, 0, 63, 12, 40, 7};
        float[] cos = new float[maxPos * half], sin = new float[maxPos * half];
        float thetaScale = (float) Math.pow(10000f, -2.0f / ropeDim);
        for (int p = 0; p < maxPos; p++) {
            float theta = p;
            for (int i = 0; i < half; i++) {
                cos[p * half + i] = (float) Math.cos(theta);
                sin[p * half + i] = (float) Math.sin(theta);
                theta *= thetaScale;
            }
        }
        long qkvD = cu.upload(qkv);
        int cacheSlots = 64;
        long kc = poisoned(2L * cacheSlots * kvd), vc = poisoned(2L * cacheSlots * kvd);
        cu.drv.begin().arg(qkvD).arg(stride).arg(dev(bq)).arg(dev(bk)).arg(dev(bv)).arg(dev(qn)).arg(dev(kn))
                .arg(cu.upload(cos)).arg(cu.upload(sin)).arg(half).arg(neox ? 1 : 0).arg(cu.upload(pos)).arg(cu.upload(slots))
                .arg(kc).arg(vc).arg(nH).arg(nKv).arg(hd).arg(1e-6f)
                .launch(cu.kernel("qkv_rope_kv"), t, LaunchGeometry.ropeBlocks(nH + 2 * nKv), LaunchGeometry.ROPE_THREADS, 0);
        float[] got = cu.downloadFloats(qkvD, t * stride);
        short[] kGot = cu.downloadShorts(kc, cacheSlots * kvd), vGot = cu.downloadShorts(vc, cacheSlots * kvd);
        float[] wantQ = new float[t * qd], gotQ = new float[t * qd], wantK = new float[t * kvd], gotK = new float[t * kvd];
        float[] wantV = new float[t * kvd], gotV = new float[t * kvd];
        for (int i = 0; i < t; i++) {
            float[] row = java.util.Arrays.copyOfRange(qkv, i * stride, (i + 1) * stride);
            for (int h = 0; h < nH + 2 * nKv; h++) {
                int kind = h < nH ? 0 : h < nH + nKv ? 1 : 2, head = kind == 0 ? h : kind == 1 ? h - nH : h - nH - nKv;
                int off = (kind == 0 ? 0 : kind == 1 ? qd : qd + kvd) + head * hd;
                float[] b = kind == 0 ? bq : kind == 1 ? bk : bv;
                if (b != null) for (int e = 0; e < hd; e++) row[off + e] += b[head * hd + e];
                float[] nw = kind == 0 ? qn : kind == 1 ? kn : null;
                if (nw != null) rmsRef(row, off, row, off, nw, hd, 1e-6f);
                if (kind < 2) {
                    for (int j = 0; j < half; j++) {
                        float c = cos[pos[i] * half + j], s = sin[pos[i] * half + j];
                        int a = neox ? off + j : off + 2 * j, bb = neox ? off + j + half : a + 1;
                        float x0 = row[a], x1 = row[bb];
                        row[a] = x0 * c - x1 * s;
                        row[bb] = x0 * s + x1 * c;
                    }
                }
            }
            System.arraycopy(row, 0, wantQ, i * qd, qd);
            System.arraycopy(got, i * stride, gotQ, i * qd, qd);
            for (int e = 0; e < kvd; e++) {
                wantK[i * kvd + e] = Fp16.toFloat(Fp16.fromFloat(row[qd + e]));
                wantV[i * kvd + e] = Fp16.toFloat(Fp16.fromFloat(row[qd + kvd + e]));
                gotK[i * kvd + e] = Fp16.toFloat(kGot[slots[i] * kvd + e]);
                gotV[i * kvd + e] = Fp16.toFloat(vGot[slots[i] * kvd + e]);
            }
        }
        String what = (neox ? "neox" : "normal") + (bias ? "+bias" : "") + (norm ? "+norm" : "") + " hd " + hd;
        assertClose(gotQ, wantQ, 1e-5, "q " + what);
        assertClose(gotK, wantK, 1e-3, "k " + what);
        assertClose(gotV, wantV, 1e-3, "v " + what);
    }

    private long dev(float[] v) {
        return v == null ? 0 : cu.upload(v);
    }

    @Test
    void ropeAndKvWrite() {
        ropeKv(false, false, false, 32, 8, 64, 64);   // llama-1b's shape
        ropeKv(true, true, false, 14, 2, 64, 64);     // qwen2
        ropeKv(true, false, true, 8, 4, 128, 128);    // qwen3
        ropeKv(false, true, true, 4, 2, 8, 4);        // rope over half the head
    }

    /**
     * Paged attention of a step's tokens over K/V at scattered slots, against softmax(q.K / sqrt(hd)) V per (token,
     * query head) in double; with and without splitting the contexts.
     */
    private void attention(int nH, int nKv, int hd, int bs, int[] ctxLens, int[] newTokens, boolean split) {
        int group = nH / nKv, kvd = nKv * hd, qd = nH * hd, stride = qd + 2 * kvd;
        int seqs = ctxLens.length, maxTokens = 0;
        for (int n : newTokens) maxTokens += n;
        int blocksPerSeq = Math.ceilDiv(java.util.Arrays.stream(ctxLens).max().orElse(1), bs);
        int numBlocks = seqs * blocksPerSeq + 5;
        List<Integer> free = new ArrayList<>();
        for (int i = 0; i < numBlocks; i++) free.add(i);
        Collections.shuffle(free, rnd);
        ForwardBatch b = new ForwardBatch(maxTokens, seqs, blocksPerSeq);
        b.nSeqs = seqs;
        int k = 0;
        for (int s = 0; s < seqs; s++) {
            for (int i = 0; i < blocksPerSeq; i++) b.blockTables[s][i] = free.get(k++);
            b.contextLens[s] = ctxLens[s];
            for (int p = ctxLens[s] - newTokens[s]; p < ctxLens[s]; p++) b.addToken(s, 0, p, false);
        }
        int slotsTotal = numBlocks * bs;
        float[] kAll = randn(slotsTotal * kvd, 1), vAll = randn(slotsTotal * kvd, 1);
        short[] k16 = f16(kAll), v16 = f16(vAll);
        float[] qkv = randn(b.nTokens * stride, 1);
        StepPlan plan = new StepPlan(maxTokens, seqs, 1, seqs * blocksPerSeq);
        int target = split ? 1 << 20 : 1, cap = 264;
        plan.build(b, bs, group, nKv, target, cap);
        if (split) assertThat(plan.nSplit).as("this case must split").isGreaterThan(1);
        long planD = cu.upload(java.util.Arrays.copyOf(plan.data, plan.size));
        int hcap = LaunchGeometry.attentionCapacity(hd);
        long partO = cu.alloc((long) cap * StepPlan.MAX_SPLITS * StepPlan.MAX_ROWS * hcap * 4);
        long partML = cu.alloc((long) cap * StepPlan.MAX_SPLITS * StepPlan.MAX_ROWS * 2 * 4);
        long out = poisoned(4L * b.nTokens * qd);
        long kc = cu.upload(k16), vc = cu.upload(v16);
        long itemTok0 = planD + 4L * plan.offItemTok0, itemLen = planD + 4L * plan.offItemLen;
        cu.drv.begin().arg(cu.upload(qkv)).arg(stride).arg(out).arg(0).arg(kc).arg(vc).arg(kvd)
                .arg(itemTok0).arg(itemLen).arg(planD + 4L * plan.offItemSeq).arg(planD + 4L * plan.offPositions)
                .arg(planD + 4L * plan.offBtStart).arg(planD + 4L * plan.offBtFlat).arg(bs).arg(group).arg(nKv).arg(hd)
                .arg((float) (1.0 / Math.sqrt(hd))).arg(planD + 4L * StepPlan.OFF_SPLIT_LEN).arg(partO).arg(partML)
                .launch(cu.kernel(LaunchGeometry.attentionKernel(hd)), plan.nItems * nKv, plan.nSplit, LaunchGeometry.ATTENTION_THREADS, 0);
        if (plan.nSplit > 1) {
            cu.drv.begin().arg(out).arg(0).arg(partO).arg(partML).arg(plan.nSplit).arg(itemTok0).arg(itemLen).arg(group).arg(nKv)
                    .arg(hd).arg(hcap).launch(cu.kernel("attn_combine"), plan.nItems * nKv, StepPlan.MAX_ROWS, hd, 0);
        }
        float[] got = cu.downloadFloats(out, b.nTokens * qd);
        float[] want = new float[b.nTokens * qd];
        for (int t = 0; t < b.nTokens; t++) {
            int s = b.seqOfToken[t], pos = b.positions[t];
            for (int h = 0; h < nH; h++) {
                int kvh = h / group;
                double[] sc = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int p = 0; p <= pos; p++) {
                    int slot = b.blockTables[s][p / bs] * bs + p % bs;
                    double d = 0;
                    for (int e = 0; e < hd; e++) d += (double) qkv[t * stride + h * hd + e] * Fp16.toFloat(k16[slot * kvd + kvh * hd + e]);
                    sc[p] = d / Math.sqrt(hd);
                    max = Math.max(max, sc[p]);
                }
                double sum = 0;
                for (int p = 0; p <= pos; p++) sum += sc[p] = Math.exp(sc[p] - max);
                for (int e = 0; e < hd; e++) {
                    double acc = 0;
                    for (int p = 0; p <= pos; p++) {
                        int slot = b.blockTables[s][p / bs] * bs + p % bs;
                        acc += sc[p] * Fp16.toFloat(v16[slot * kvd + kvh * hd + e]);
                    }
                    want[t * qd + h * hd + e] = (float) (acc / sum);
                }
            }
        }
        assertClose(got, want, 1e-4, "attention heads " + nH + "/" + nKv + " hd " + hd + " bs " + bs + (split ? " split " + plan.nSplit : ""));
    }

    @Test
    void pagedAttentionDecodeAndPrefill() {
        attention(32, 8, 64, 16, new int[] {1, 37, 200, 129}, new int[] {1, 1, 1, 1}, false);      // decode
        attention(32, 8, 64, 16, new int[] {128, 40, 77}, new int[] {128, 9, 30}, false);          // prefill over a cached prefix
        attention(14, 2, 64, 16, new int[] {300, 5}, new int[] {1, 5}, false);                     // group 7
        attention(8, 4, 128, 7, new int[] {90, 33}, new int[] {20, 1}, false);                     // odd block size, hd 128
        attention(4, 2, 8, 4, new int[] {21, 3}, new int[] {21, 3}, false);                        // tiny heads
        attention(16, 1, 64, 16, new int[] {50}, new int[] {2}, false);                            // group 16
    }

    @Test
    void pagedAttentionSplitOverTheContext() {
        attention(32, 8, 64, 16, new int[] {256}, new int[] {1}, true);
        attention(32, 8, 64, 16, new int[] {700, 65}, new int[] {1, 1}, true);
        attention(8, 4, 128, 16, new int[] {300}, new int[] {12}, true);
    }
}
