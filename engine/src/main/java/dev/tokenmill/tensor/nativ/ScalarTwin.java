package dev.tokenmill.tensor.nativ;

import dev.tokenmill.tensor.Fp16;
import dev.tokenmill.tensor.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The reference for the native kernels, in plain Java on the ggml block layout: the same arithmetic, so results
 * are bit-identical. Also quantizes activations when the native library is off.
 */
final class ScalarTwin {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private ScalarTwin() {}

    /**
     * ggml's quantize_row_q8_0_ref with an f32 scale and round-half-even (the rounding of cvtps2dq):
     * per block of 32, d = amax / 127, q = rint(x * (1 / d)); writes the layout {@link Q8Activations} documents.
     */
    static void quantize(MemorySegment x, int batch, int cols, Q8Activations out) {
        quantize(x, batch, cols, 0, cols / 32, out);
    }

    /** Blocks [blockFrom, blockTo) of every row of {@link #quantize(MemorySegment, int, int, Q8Activations)}. */
    static void quantize(MemorySegment x, int batch, int cols, int blockFrom, int blockTo, Q8Activations out) {
        for (int b = 0; b < batch; b++) {
            for (int k = blockFrom; k < blockTo; k++) {
                long base = ((long) b * cols + k * 32L) * 4;
                float amax = 0f;
                for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x.get(F32, base + 4L * i)));
                float d = amax / 127f;
                float id = d != 0f ? 1f / d : 0f;
                int sum = 0, firstHalf = 0;
                long o = (long) k * batch + b;
                for (int i = 0; i < 32; i++) {
                    int q = (int) Math.rint(x.get(F32, base + 4L * i) * id);
                    sum += q;
                    if (i < 16) firstHalf += q;
                    out.qs.set(ValueLayout.JAVA_BYTE, o * 32 + i, (byte) q);
                }
                out.d.setAtIndex(ValueLayout.JAVA_FLOAT, o, d);
                out.c4.setAtIndex(ValueLayout.JAVA_INT, o, -8 * sum);
                out.c8.setAtIndex(ValueLayout.JAVA_INT, o, -128 * sum);
                out.m.setAtIndex(ValueLayout.JAVA_FLOAT, o, d * (float) sum);
                out.h0.setAtIndex(ValueLayout.JAVA_INT, o, -32 * firstHalf);
                out.h1.setAtIndex(ValueLayout.JAVA_INT, o, -32 * (sum - firstHalf));
            }
        }
    }

    /**
     * y[b*ldy + r] for r in [rowFrom, rowTo): per 32-element block k in order, the exact integer dot of the weight
     * quants with the activation quants, then {@code acc = fma((float) isum, d_w * d_x, acc)}; for Q4_K (and Q5_K, the
     * same with 5-bit quants), whose
     * weights are {@code d*sc * q - dmin*m} per sub-block of 32, {@code d_w = d*sc} (exact in float) and then
     * {@code acc = fma(-(dmin*m), d_x * sum(q_x), acc)}; for Q6_K, whose weights are {@code d*sc*(q - 32)} with a scale
     * per 16 elements, {@code isum = sc_lo * isum_lo + sc_hi * isum_hi} over the two halves and {@code d_w = d}.
     * {@code w} is the ggml tensor (row r at byte r * type.bytesFor(cols)).
     */
    static void gemm(GgmlType type, MemorySegment w, int cols, Q8Activations x, float[] y, int ldy, int rowFrom, int rowTo) {
        int nb = cols / 32;
        long rowBytes = type.bytesFor(cols);
        for (int r = rowFrom; r < rowTo; r++) {
            for (int b = 0; b < x.batch(); b++) {
                float acc = 0f;
                for (int k = 0; k < nb; k++) {
                    if (type == GgmlType.Q4_K || type == GgmlType.Q5_K) {
                        boolean five = type == GgmlType.Q5_K;
                        long blk = r * rowBytes + (long) (k / 8) * type.blockBytes();
                        int s = k % 8;
                        int[] scMin = scaleMinK4(w, blk + 4, s);
                        float dsc = Fp16.toFloat(w.get(I16, blk)) * scMin[0];
                        float dmin = Fp16.toFloat(w.get(I16, blk + 2)) * scMin[1];
                        int isum = 0;
                        for (int i = 0; i < 32; i++) {
                            // Q5_K: nibbles after 32 bytes of fifth bits, element i of sub-block s at bit s of qh[i]
                            int q = (w.get(ValueLayout.JAVA_BYTE, blk + (five ? 48 : 16) + 32L * (s / 2) + i) >> (4 * (s & 1))) & 0x0f;
                            if (five) q |= ((byteAt(w, blk + 16 + i) >> s) & 1) << 4;
                            isum += q * x.quant(b, k * 32 + i);
                        }
                        acc = Math.fma((float) isum, dsc * x.scale(b, k), acc);
                        acc = Math.fma(-dmin, x.scaledSum(b, k), acc);
                        continue;
                    }
                    if (type == GgmlType.Q6_K) {
                        long blk = r * rowBytes + (long) (k / 8) * type.blockBytes();
                        int s = k % 8;
                        int[] half = new int[2];
                        for (int i = 0; i < 32; i++) half[i / 16] += (q6Value(w, blk, 32 * s + i) - 32) * x.quant(b, k * 32 + i);
                        int isum = w.get(ValueLayout.JAVA_BYTE, blk + 192 + 2 * s) * half[0]
                                + w.get(ValueLayout.JAVA_BYTE, blk + 192 + 2 * s + 1) * half[1];
                        acc = Math.fma((float) isum, Fp16.toFloat(w.get(I16, blk + 208)) * x.scale(b, k), acc);
                        continue;
                    }
                    long blk = r * rowBytes + (long) k * type.blockBytes();
                    float dw = Fp16.toFloat(w.get(I16, blk));
                    int isum = 0;
                    for (int i = 0; i < 32; i++) isum += weight(type, w, blk, i) * x.quant(b, k * 32 + i);
                    acc = Math.fma((float) isum, dw * x.scale(b, k), acc);
                    // Q4_1, Q5_1: w = d*q + m, the min's part of the dot is m * d_x * sum(q_x)
                    if (type == GgmlType.Q4_1 || type == GgmlType.Q5_1) acc = Math.fma(Fp16.toFloat(w.get(I16, blk + 2)), x.scaledSum(b, k), acc);
                }
                y[b * ldy + r] = acc;
            }
        }
    }

    /** ggml's get_scale_min_k4: the 6-bit scale and min of Q4_K sub-block j from the 12 packed bytes at {@code at}. */
    static int[] scaleMinK4(MemorySegment w, long at, int j) {
        if (j < 4) {
            return new int[] {byteAt(w, at + j) & 63, byteAt(w, at + j + 4) & 63};
        }
        int sc = (byteAt(w, at + j + 4) & 0xF) | ((byteAt(w, at + j - 4) >> 6) << 4);
        int m = (byteAt(w, at + j + 4) >> 4) | ((byteAt(w, at + j) >> 6) << 4);
        return new int[] {sc, m};
    }

    /** Element e (0..255) of the Q6_K block at {@code blk} as 0..63, as ggml's dequantize_row_q6_K reads it. */
    static int q6Value(MemorySegment w, long blk, int e) {
        int n = e / 128, a = (e % 128) / 32, l = e % 32;
        int ql = byteAt(w, blk + 64L * n + l + (a & 1) * 32L);
        int qh = byteAt(w, blk + 128 + 32L * n + l);
        return (a < 2 ? ql & 0xF : ql >> 4) | (((qh >> (2 * a)) & 3) << 4);
    }

    private static int byteAt(MemorySegment w, long at) {
        return w.get(ValueLayout.JAVA_BYTE, at) & 0xff;
    }

    /**
     * The integer quant of element i of a block: Q8_0 the signed byte, Q4_0 the nibble minus 8, Q4_1 the nibble, Q5_0
     * the nibble with its fifth bit from the 32-bit mask, minus 16, Q5_1 the same without the offset.
     */
    static int weight(GgmlType type, MemorySegment w, long blk, int i) {
        return switch (type) {
            case Q8_0 -> w.get(ValueLayout.JAVA_BYTE, blk + 2 + i);
            case Q4_0 -> {
                int v = w.get(ValueLayout.JAVA_BYTE, blk + 2 + i % 16) & 0xff;
                yield (i < 16 ? v & 0x0f : v >>> 4) - 8;
            }
            case Q4_1 -> {
                int v = w.get(ValueLayout.JAVA_BYTE, blk + 4 + i % 16) & 0xff;
                yield i < 16 ? v & 0x0f : v >>> 4;
            }
            case Q5_0, Q5_1 -> {
                boolean min = type == GgmlType.Q5_1;
                int qh = w.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), blk + (min ? 4 : 2));
                int v = w.get(ValueLayout.JAVA_BYTE, blk + (min ? 8 : 6) + i % 16) & 0xff;
                yield ((i < 16 ? v & 0x0f : v >>> 4) | ((qh >>> i) & 1) << 4) - (min ? 0 : 16);
            }
            default -> throw new IllegalArgumentException("no native kernel for " + type);
        };
    }
}
