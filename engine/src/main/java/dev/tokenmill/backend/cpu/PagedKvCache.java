package dev.tokenmill.backend.cpu;

import dev.tokenmill.tensor.F32Math;
import dev.tokenmill.tensor.Fp16;

/**
 * K and V of every layer in fixed-size blocks. Token slot {@code s = block * blockSize + offset} of layer
 * {@code l} keeps its K at {@code k[l][s * kvDim ..]} ({@code [nKvHeads, headDim]} row-major), V likewise. The
 * block pool hands out block numbers; this class only stores. F16 storage rounds on write (as llama.cpp's F16
 * cache) and widens on read.
 */
final class PagedKvCache {
    private final int blockSize;
    private final int numBlocks;
    private final int kvDim;
    private final boolean f16;
    private final float[][] k32, v32;
    private final short[][] k16, v16;

    PagedKvCache(int nLayers, int numBlocks, int blockSize, int kvDim, boolean f16) {
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.kvDim = kvDim;
        this.f16 = f16;
        long perLayer = (long) numBlocks * blockSize * kvDim;
        if (perLayer > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("KV cache of " + numBlocks + " blocks x " + blockSize + " tokens x " + kvDim
                    + " values per layer exceeds one Java array; use fewer blocks");
        }
        int len = (int) perLayer;
        k32 = f16 ? null : new float[nLayers][len];
        v32 = f16 ? null : new float[nLayers][len];
        k16 = f16 ? new short[nLayers][len] : null;
        v16 = f16 ? new short[nLayers][len] : null;
    }

    int blockSize() { return blockSize; }

    int numBlocks() { return numBlocks; }

    /** Bytes of K and V for one block over all layers. */
    static long bytesPerBlock(int nLayers, int blockSize, int kvDim, boolean f16) {
        return 2L * nLayers * blockSize * kvDim * (f16 ? 2 : 4);
    }

    /** The slot of position {@code pos} of a sequence with this block table. */
    int slot(int[] blockTable, int pos) {
        return blockTable[pos / blockSize] * blockSize + pos % blockSize;
    }

    void write(int layer, int slot, float[] k, int kOff, float[] v, int vOff) {
        int base = slot * kvDim;
        if (f16) {
            short[] kl = k16[layer], vl = v16[layer];
            for (int i = 0; i < kvDim; i++) {
                kl[base + i] = Fp16.fromFloat(k[kOff + i]);
                vl[base + i] = Fp16.fromFloat(v[vOff + i]);
            }
        } else {
            System.arraycopy(k, kOff, k32[layer], base, kvDim);
            System.arraycopy(v, vOff, v32[layer], base, kvDim);
        }
    }

    /**
     * q[qOff..qOff+n) . K[slot][headOff..headOff+n). An F16 row is widened into {@code row} when {@code widen}, else
     * {@code row} already holds it (query heads sharing a KV head reuse one widening).
     */
    float dotK(int layer, int slot, int headOff, float[] q, int qOff, int n, float[] row, boolean widen) {
        int base = slot * kvDim + headOff;
        if (!f16) return F32Math.dot(q, qOff, k32[layer], base, n);
        if (widen) widen(k16[layer], base, row, n);
        return F32Math.dot(q, qOff, row, 0, n);
    }

    /** out[outOff..outOff+n) += w * V[slot][headOff..headOff+n); {@code row} and {@code widen} as in dotK. */
    void addV(int layer, int slot, int headOff, float w, float[] out, int outOff, int n, float[] row, boolean widen) {
        int base = slot * kvDim + headOff;
        if (!f16) {
            F32Math.axpy(w, v32[layer], base, out, outOff, n);
            return;
        }
        if (widen) widen(v16[layer], base, row, n);
        F32Math.axpy(w, row, 0, out, outOff, n);
    }

    /** A plain conversion loop, which C2 compiles to vector F16 conversions. */
    private static void widen(short[] src, int off, float[] dst, int n) {
        for (int i = 0; i < n; i++) dst[i] = Float.float16ToFloat(src[off + i]);
    }
}
