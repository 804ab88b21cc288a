package dev.tokenmill.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Scalar reference kernels, one per type: plain loops that follow ggml's block layouts. */
final class ScalarKernels {
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private ScalarKernels() {}

    static RowKernel forType(GgmlType t) {
        return switch (t) {
            case F32 -> new F32Scalar();
            case F16 -> new F16Scalar();
            default -> null; // the other types follow
        };
    }

    /** Dot product through dequantization: the reference definition for any type. */
    abstract static class DequantDot implements RowKernel {
        @Override
        public float dot(MemorySegment w, long rowOffset, float[] x, int xOff, int n) {
            float[] tmp = new float[n];
            dequantize(w, rowOffset, tmp, 0, n);
            float s = 0;
            for (int i = 0; i < n; i++) s += tmp[i] * x[xOff + i];
            return s;
        }
    }

    static final class F32Scalar extends DequantDot {
        @Override public GgmlType type() { return GgmlType.F32; }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            MemorySegment.copy(w, F32, rowOffset, out, outOff, n);
        }
    }

    static final class F16Scalar extends DequantDot {
        @Override public GgmlType type() { return GgmlType.F16; }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int i = 0; i < n; i++) out[outOff + i] = Fp16.toFloat(w.get(I16, rowOffset + 2L * i));
        }
    }
}
