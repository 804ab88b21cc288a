package dev.tokenmill.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

/**
 * Random rows of any type for twin tests: random bytes for the quantized payload, with every f16 scale field
 * overwritten by a finite, sane value so the values stay in a realistic range.
 */
final class RandomBlocks {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private RandomBlocks() {}

    /** Byte offsets of the f16 scale fields inside one block of the type. */
    static int[] scaleOffsets(GgmlType t) {
        return switch (t) {
            case Q8_0, Q4_0, Q5_0 -> new int[] {0};
            case Q4_1, Q5_1, Q4_K, Q5_K -> new int[] {0, 2};
            case Q6_K -> new int[] {208};
            case F32, F16, BF16 -> new int[0];
        };
    }

    /** A segment of {@code lead} junk bytes followed by {@code rows} rows of {@code n} elements. */
    static MemorySegment rows(GgmlType t, int rows, int n, int lead, Random rnd) {
        long rowBytes = t.bytesFor(n);
        MemorySegment w = Arena.ofAuto().allocate(lead + rows * rowBytes + 16);
        byte[] junk = new byte[(int) w.byteSize()];
        rnd.nextBytes(junk);
        MemorySegment.copy(junk, 0, w, ValueLayout.JAVA_BYTE, 0, junk.length);
        long elements = (long) rows * n;
        switch (t) {
            case F32 -> {
                for (long i = 0; i < elements; i++) w.set(F32, lead + 4 * i, (float) rnd.nextGaussian());
            }
            case F16 -> {
                for (long i = 0; i < elements; i++) w.set(I16, lead + 2 * i, Fp16.fromFloat((float) rnd.nextGaussian()));
            }
            case BF16 -> {
                for (long i = 0; i < elements; i++) w.set(I16, lead + 2 * i, Fp16.floatToBf16((float) rnd.nextGaussian()));
            }
            default -> {
                long blocks = elements / t.blockSize();
                for (long b = 0; b < blocks; b++) {
                    for (int off : scaleOffsets(t)) {
                        float scale = (rnd.nextFloat() * 2 - 1) * 0.05f; // either sign, like mins and Q6_K's d
                        w.set(I16, lead + b * t.blockBytes() + off, Fp16.fromFloat(scale));
                    }
                }
            }
        }
        return w;
    }

    static float[] activations(int n, Random rnd) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }
}
