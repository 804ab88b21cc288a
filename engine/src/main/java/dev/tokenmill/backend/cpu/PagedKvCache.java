package dev.tokenmill.backend.cpu;

import dev.tokenmill.tensor.Fp16;

/**
 * K and V of every layer in fixed-size blocks. Within layer {@code l}, block {@code b} keeps
 * <ul>
 * <li>K transposed per KV head: element i of head h at offset o at {@code k[l][((b * nKvHeads + h) * headDim + i) *
 * blockSize + o]}, so the block's K of one head is one run of {@code headDim x blockSize} values in which the
 * block's positions lie side by side: {@link PagedAttention} scores a whole block of positions with vector fmas and
 * no horizontal sums;</li>
 * <li>V by position: token slot {@code s = b * blockSize + o} at {@code v[l][s * kvDim ..]} ({@code [nKvHeads,
 * headDim]}), rows that attention adds up weighted.</li>
 * </ul>
 * The block pool hands out block numbers; this class only stores. F16 storage rounds on write (as llama.cpp's F16
 * cache) and widens on read.
 */
final class PagedKvCache {
    private final int blockSize;
    private final int numBlocks;
    private final int nKvHeads;
    private final int headDim;
    private final int kvDim;
    private final boolean f16;
    private final float[][] k32, v32;
    private final short[][] k16, v16;

    PagedKvCache(int nLayers, int numBlocks, int blockSize, int nKvHeads, int headDim, boolean f16) {
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.nKvHeads = nKvHeads;
        this.headDim = headDim;
        this.kvDim = nKvHeads * headDim;
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

    /** Stores one token's K and V ({@code kvDim} values each) at offset {@code off} of block {@code block}. */
    void write(int layer, int block, int off, float[] k, int kOff, float[] v, int vOff) {
        int vBase = (block * blockSize + off) * kvDim;
        int kBase = block * blockSize * kvDim + off;
        if (f16) {
            short[] kl = k16[layer], vl = v16[layer];
            for (int i = 0; i < kvDim; i++) {
                kl[kBase + i * blockSize] = Fp16.fromFloat(k[kOff + i]);
                vl[vBase + i] = Fp16.fromFloat(v[vOff + i]);
            }
        } else {
            float[] kl = k32[layer];
            for (int i = 0; i < kvDim; i++) kl[kBase + i * blockSize] = k[kOff + i];
            System.arraycopy(v, vOff, v32[layer], vBase, kvDim);
        }
    }

    /** K of head {@code head} in block {@code block} as floats: {@code dst[i * blockSize + o]}, element i at offset o. */
    void kBlock(int layer, int block, int head, float[] dst) {
        int base = (block * nKvHeads + head) * headDim * blockSize, n = headDim * blockSize;
        if (f16) widen(k16[layer], base, dst, 0, n);
        else System.arraycopy(k32[layer], base, dst, 0, n);
    }

    /** V of head {@code head} in block {@code block} as floats: {@code dst[o * headDim + i]}, element i at offset o. */
    void vBlock(int layer, int block, int head, float[] dst) {
        for (int o = 0; o < blockSize; o++) {
            int base = (block * blockSize + o) * kvDim + head * headDim;
            if (f16) widen(v16[layer], base, dst, o * headDim, headDim);
            else System.arraycopy(v32[layer], base, dst, o * headDim, headDim);
        }
    }

    /** A plain conversion loop, which C2 compiles to vector F16 conversions. */
    private static void widen(short[] src, int off, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) dst[dstOff + i] = Float.float16ToFloat(src[off + i]);
    }
}
