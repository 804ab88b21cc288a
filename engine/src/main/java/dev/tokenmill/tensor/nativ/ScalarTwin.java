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
        int nb = cols / 32;
        for (int b = 0; b < batch; b++) {
            for (int k = 0; k < nb; k++) {
                long base = ((long) b * cols + k * 32L) * 4;
                float amax = 0f;
                for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x.get(F32, base + 4L * i)));
                float d = amax / 127f;
                float id = d != 0f ? 1f / d : 0f;
                int sum = 0;
                long o = (long) k * batch + b;
                for (int i = 0; i < 32; i++) {
                    int q = (int) Math.rint(x.get(F32, base + 4L * i) * id);
                    sum += q;
                    out.qs.set(ValueLayout.JAVA_BYTE, o * 32 + i, (byte) q);
                }
                out.d.setAtIndex(ValueLayout.JAVA_FLOAT, o, d);
                out.c4.setAtIndex(ValueLayout.JAVA_INT, o, -8 * sum);
                out.c8.setAtIndex(ValueLayout.JAVA_INT, o, -128 * sum);
            }
        }
    }

    /**
     * y[b*ldy + r] for r in [rowFrom, rowTo): per 32-element block k in order, the exact integer dot of the weight
     * quants with the activation quants, then {@code acc = fma((float) isum, d_w * d_x, acc)}.
     * {@code w} is the ggml tensor (Q8_0 or Q4_0 blocks, row r at byte r * type.bytesFor(cols)).
     */
    static void gemm(GgmlType type, MemorySegment w, int cols, Q8Activations x, float[] y, int ldy, int rowFrom, int rowTo) {
        int nb = cols / 32;
        long rowBytes = type.bytesFor(cols);
        for (int r = rowFrom; r < rowTo; r++) {
            for (int b = 0; b < x.batch(); b++) {
                float acc = 0f;
                for (int k = 0; k < nb; k++) {
                    long blk = r * rowBytes + (long) k * type.blockBytes();
                    float dw = Fp16.toFloat(w.get(I16, blk));
                    int isum = 0;
                    for (int i = 0; i < 32; i++) isum += weight(type, w, blk, i) * x.quant(b, k * 32 + i);
                    acc = Math.fma((float) isum, dw * x.scale(b, k), acc);
                }
                y[b * ldy + r] = acc;
            }
        }
    }

    /** The integer quant of element i of a block: Q8_0 the signed byte, Q4_0 the nibble minus 8. */
    static int weight(GgmlType type, MemorySegment w, long blk, int i) {
        return switch (type) {
            case Q8_0 -> w.get(ValueLayout.JAVA_BYTE, blk + 2 + i);
            case Q4_0 -> {
                int v = w.get(ValueLayout.JAVA_BYTE, blk + 2 + i % 16) & 0xff;
                yield (i < 16 ? v & 0x0f : v >>> 4) - 8;
            }
            default -> throw new IllegalArgumentException("no native kernel for " + type);
        };
    }
}
