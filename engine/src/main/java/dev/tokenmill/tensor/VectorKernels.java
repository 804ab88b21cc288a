package dev.tokenmill.tensor;

import static dev.tokenmill.tensor.ScalarKernels.I16;
import static dev.tokenmill.tensor.ScalarKernels.I32;
import static dev.tokenmill.tensor.ScalarKernels.QK_K;
import static dev.tokenmill.tensor.ScalarKernels.f16;
import static jdk.incubator.vector.VectorOperators.ADD;
import static jdk.incubator.vector.VectorOperators.GE;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API kernels, the fast twins of {@link ScalarKernels}; only loaded when {@link VectorSupport#available()}.
 *
 * <p>They read the mapped weights straight from the {@link MemorySegment} and allocate nothing per call. Code is
 * written for a float species of {@code L} = 8 (AVX2) or 16 (AVX-512) lanes; a byte vector of {@code L} lanes
 * (8 or 16 bytes) is widened to ints or floats of {@code L} lanes, the one conversion C2 turns into a single
 * {@code vpmovsxbd}/{@code vpmovzxbd}. On other widths {@link #forType} returns null and the scalar kernels run.
 *
 * <p>Code shape matters to C2: every Vector API call inlines dozens of nodes, and past a fixed node budget
 * (NodeCountInliningCutoff, not settable in product JVMs) calls stop being inlined and every vector is boxed
 * (measured: 1 GB allocated per pass, 10x slower). So each kernel holds one copy of its block body in a loop and
 * rotates two accumulators ({@code acc = body(acc); swap}) to keep two fused multiply-add chains in flight
 * instead of unrolling by hand; C2's own loop unrolling, which runs after inlining, does the rest. The
 * benchmark (KernelBench) reports allocated bytes per pass, which must stay 0.
 *
 * <p>{@code dequantize} gives exactly the scalar values (same float operations, no fused multiply-add).
 * {@code dot} keeps several accumulators and uses fused multiply-add, so its rounding differs from the
 * element-order scalar sum by a few ulps of {@code sum |w*x|}.
 */
final class VectorKernels {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    static final boolean SUPPORTED = L == 8 || L == 16;
    // The canonical species constants, not VectorSpecies.of(...): C2 only intrinsifies conversions whose species
    // it sees as constants, and a computed species left the lane count as a load (measured: Q4_0 ran at 1 GB/s).
    static final VectorSpecies<Integer> I = L == 16 ? IntVector.SPECIES_512 : IntVector.SPECIES_256;
    static final VectorSpecies<Byte> B = L == 16 ? ByteVector.SPECIES_128 : ByteVector.SPECIES_64;
    static final VectorSpecies<Short> S = L == 16 ? ShortVector.SPECIES_256 : ShortVector.SPECIES_128;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** 0..31, the bit index of each element of a Q5_0/Q5_1 block in its 32-bit qh. */
    private static final int[] BIT_INDEX = new int[32];

    static {
        for (int i = 0; i < 32; i++) BIT_INDEX[i] = i;
    }

    private VectorKernels() {}

    static RowKernel forType(GgmlType t) {
        if (!SUPPORTED) return null;
        return switch (t) {
            case F32 -> new F32Vector();
            case F16 -> new F16Vector();
            case BF16 -> new Bf16Vector();
            case Q8_0 -> new Q8_0Vector();
            case Q4_0 -> new Q4_0Vector();
            case Q4_1 -> new Q4_1Vector();
            case Q5_0 -> new Q5_0Vector();
            case Q5_1 -> new Q5_1Vector();
            case Q4_K -> new Q4_KVector();
            case Q5_K -> new Q5_KVector();
            case Q6_K -> new Q6_KVector();
        };
    }

    // ---- shared conversions -------------------------------------------------------------------------------

    /** L signed bytes widened to L floats. */
    static FloatVector bytesToFloats(MemorySegment w, long off) {
        return (FloatVector) ByteVector.fromMemorySegment(B, w, off, LE).castShape(F, 0);
    }

    /**
     * L bytes sign-extended to L ints; callers mask the bits they need. (ZERO_EXTEND_B2I would save the mask but
     * is not intrinsified by C2 in JDK 25 and falls back to a lambda per call.)
     */
    static IntVector bytesToInts(MemorySegment w, long off) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, off, LE).castShape(I, 0);
    }

    /** The high nibbles of sign-extended bytes. */
    static IntVector highNibbles(IntVector q) {
        return q.lanewise(LSHR, 4).and(0x0f);
    }

    static ByteVector loadBytes(MemorySegment w, long off) {
        return ByteVector.fromMemorySegment(B, w, off, LE);
    }

    /**
     * Shifts each byte right by n as 16-bit lanes: x86 has no byte shifts, and C2 widens and narrows for a
     * ByteVector shift. Bits from the neighbouring byte land above bit 7-n, so callers mask.
     */
    static ByteVector shiftRight(ByteVector v, int n) {
        return v.reinterpretAsShorts().lanewise(LSHR, n).reinterpretAsBytes();
    }

    /** As {@link #shiftRight}: bits from the neighbouring byte land below bit n, so callers mask. */
    static ByteVector shiftLeft(ByteVector v, int n) {
        return v.reinterpretAsShorts().lanewise(LSHL, n).reinterpretAsBytes();
    }

    /** Bit s (0..7) of each byte moved to bit 4, others cleared: the fifth bit of a Q5_K value. */
    static ByteVector bitToFour(ByteVector h, int s) {
        return shiftLeft(shiftRight(h, s).and((byte) 1), 4);
    }

    /** L signed bytes to L floats. */
    static FloatVector toFloats(ByteVector v) {
        return (FloatVector) v.castShape(F, 0);
    }

    static FloatVector toFloats(IntVector v) {
        return (FloatVector) v.castShape(F, 0);
    }

    /**
     * IEEE half to float for L lanes, bit-exact with {@link Float#float16ToFloat} (subnormals, infinities, NaN
     * payloads). The Vector API has no half-float conversion, so: move exponent and mantissa into float position
     * and rescale by 2^112, which is exact for normals and subnormals alike; exponent 31 maps to 255.
     */
    static FloatVector halfToFloat(MemorySegment w, long off) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S, w, off, LE).castShape(I, 0);
        IntVector em = h.and(0x7fff);
        IntVector bits = em.lanewise(LSHL, 13);
        IntVector scaled = bits.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        VectorMask<Integer> infNan = em.compare(GE, 0x7c00);
        IntVector magnitude = scaled.blend(bits.or(0x7f800000), infNan);
        return magnitude.or(h.and(0x8000).lanewise(LSHL, 16)).reinterpretAsFloats();
    }

    static FloatVector bf16ToFloat(MemorySegment w, long off) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S, w, off, LE).castShape(I, 0);
        return h.lanewise(LSHL, 16).reinterpretAsFloats();
    }

    // ---- float types ----------------------------------------------------------------------------------------

    static final class F32Vector implements RowKernel {
        @Override public GgmlType type() { return GgmlType.F32; }

        @Override
        public float dot(MemorySegment w, long rowOffset, float[] x, int xOff, int n) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            int i = 0;
            for (; i + 4 * L <= n; i += 4 * L) {
                long o = rowOffset + 4L * i;
                a0 = FloatVector.fromMemorySegment(F, w, o, LE).fma(FloatVector.fromArray(F, x, xOff + i), a0);
                a1 = FloatVector.fromMemorySegment(F, w, o + 4L * L, LE).fma(FloatVector.fromArray(F, x, xOff + i + L), a1);
                a2 = FloatVector.fromMemorySegment(F, w, o + 8L * L, LE).fma(FloatVector.fromArray(F, x, xOff + i + 2 * L), a2);
                a3 = FloatVector.fromMemorySegment(F, w, o + 12L * L, LE).fma(FloatVector.fromArray(F, x, xOff + i + 3 * L), a3);
            }
            for (; i + L <= n; i += L) {
                a0 = FloatVector.fromMemorySegment(F, w, rowOffset + 4L * i, LE).fma(FloatVector.fromArray(F, x, xOff + i), a0);
            }
            float s = a0.add(a1).add(a2.add(a3)).reduceLanes(ADD);
            for (; i < n; i++) s += w.get(ScalarKernels.F32, rowOffset + 4L * i) * x[xOff + i];
            return s;
        }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            MemorySegment.copy(w, ScalarKernels.F32, rowOffset, out, outOff, n);
        }
    }

    static final class F16Vector implements RowKernel {
        @Override public GgmlType type() { return GgmlType.F16; }

        @Override
        public float dot(MemorySegment w, long rowOffset, float[] x, int xOff, int n) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0;
            int i = 0;
            for (; i + L <= n; i += L) {
                FloatVector a = halfToFloat(w, rowOffset + 2L * i).fma(FloatVector.fromArray(F, x, xOff + i), a0);
                a0 = a1;
                a1 = a;
            }
            float s = a0.add(a1).reduceLanes(ADD);
            for (; i < n; i++) s += Fp16.toFloat(w.get(I16, rowOffset + 2L * i)) * x[xOff + i];
            return s;
        }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            int i = 0;
            for (; i + L <= n; i += L) halfToFloat(w, rowOffset + 2L * i).intoArray(out, outOff + i);
            for (; i < n; i++) out[outOff + i] = Fp16.toFloat(w.get(I16, rowOffset + 2L * i));
        }
    }

    static final class Bf16Vector implements RowKernel {
        @Override public GgmlType type() { return GgmlType.BF16; }

        @Override
        public float dot(MemorySegment w, long rowOffset, float[] x, int xOff, int n) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0;
            int i = 0;
            for (; i + L <= n; i += L) {
                FloatVector a = bf16ToFloat(w, rowOffset + 2L * i).fma(FloatVector.fromArray(F, x, xOff + i), a0);
                a0 = a1;
                a1 = a;
            }
            float s = a0.add(a1).reduceLanes(ADD);
            for (; i < n; i++) s += Fp16.bf16ToFloat(w.get(I16, rowOffset + 2L * i)) * x[xOff + i];
            return s;
        }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            int i = 0;
            for (; i + L <= n; i += L) bf16ToFloat(w, rowOffset + 2L * i).intoArray(out, outOff + i);
            for (; i < n; i++) out[outOff + i] = Fp16.bf16ToFloat(w.get(I16, rowOffset + 2L * i));
        }
    }

    // ---- 32-element block types -----------------------------------------------------------------------------

    /** Q8_0: per block, sum q*x in a vector, then one fma with the block scale into an accumulator. */
    static final class Q8_0Vector implements RowKernel {
        @Override public GgmlType type() { return GgmlType.Q8_0; }

        private static FloatVector block(MemorySegment w, long o, float[] x, int xi, FloatVector acc) {
            FloatVector t = bytesToFloats(w, o + 2).mul(FloatVector.fromArray(F, x, xi));
            for (int j = L; j < 32; j += L) t = bytesToFloats(w, o + 2 + j).fma(FloatVector.fromArray(F, x, xi + j), t);
            return t.fma(FloatVector.broadcast(F, f16(w, o)), acc);
        }

        @Override
        public float dot(MemorySegment w, long rowOffset, float[] x, int xOff, int n) {
            int nb = n / 32;
            FloatVector a0 = FloatVector.zero(F), a1 = a0;
            for (int b = 0; b < nb; b++) {
                FloatVector a = block(w, rowOffset + 34L * b, x, xOff + 32 * b, a0);
                a0 = a1;
                a1 = a;
            }
            return a0.add(a1).reduceLanes(ADD);
        }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / 32; b++) {
                long o = rowOffset + 34L * b;
                float d = f16(w, o);
                for (int j = 0; j < 32; j += L) bytesToFloats(w, o + 2 + j).mul(d).intoArray(out, outOff + 32 * b + j);
            }
        }
    }

    /** Q4_0: 16 bytes widened once to ints; low nibbles are elements 0..15, high nibbles 16..31; minus 8. */
    static final class Q4_0Vector implements RowKernel {
        @Override public GgmlType type() { return GgmlType.Q4_0; }

        private static FloatVector block(MemorySegment w, long o, float[] x, int xi, FloatVector acc) {
            FloatVector t = FloatVector.zero(F);
            for (int j = 0; j < 16; j += L) {
                ByteVector q = loadBytes(w, o + 2 + j);
                t = toFloats(q.and((byte) 0x0f).sub((byte) 8)).fma(FloatVector.fromArray(F, x, xi + j), t);
                t = toFloats(shiftRight(q, 4).and((byte) 0x0f).sub((byte) 8)).fma(FloatVector.fromArray(F, x, xi + 16 + j), t);
            }
            return t.fma(FloatVector.broadcast(F, f16(w, o)), acc);
        }

        @Override
        public float dot(MemorySegment w, long rowOffset, float[] x, int xOff, int n) {
            int nb = n / 32;
            FloatVector a0 = FloatVector.zero(F), a1 = a0;
            for (int b = 0; b < nb; b++) {
                FloatVector a = block(w, rowOffset + 18L * b, x, xOff + 32 * b, a0);
                a0 = a1;
                a1 = a;
            }
            return a0.add(a1).reduceLanes(ADD);
        }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / 32; b++) {
                long o = rowOffset + 18L * b;
                float d = f16(w, o);
                int y = outOff + 32 * b;
                for (int j = 0; j < 16; j += L) {
                    ByteVector q = loadBytes(w, o + 2 + j);
                    toFloats(q.and((byte) 0x0f).sub((byte) 8)).mul(d).intoArray(out, y + j);
                    toFloats(shiftRight(q, 4).and((byte) 0x0f).sub((byte) 8)).mul(d).intoArray(out, y + 16 + j);
                }
            }
        }
    }

    /** Q4_1: w = q*d + m, formed in registers. */
    static final class Q4_1Vector implements RowKernel {
        @Override public GgmlType type() { return GgmlType.Q4_1; }

        private static FloatVector block(MemorySegment w, long o, float[] x, int xi, FloatVector acc) {
            FloatVector d = FloatVector.broadcast(F, f16(w, o));
            FloatVector m = FloatVector.broadcast(F, f16(w, o + 2));
            for (int j = 0; j < 16; j += L) {
                ByteVector q = loadBytes(w, o + 4 + j);
                acc = toFloats(q.and((byte) 0x0f)).fma(d, m).fma(FloatVector.fromArray(F, x, xi + j), acc);
                acc = toFloats(shiftRight(q, 4).and((byte) 0x0f)).fma(d, m).fma(FloatVector.fromArray(F, x, xi + 16 + j), acc);
            }
            return acc;
        }

        @Override
        public float dot(MemorySegment w, long rowOffset, float[] x, int xOff, int n) {
            int nb = n / 32;
            FloatVector a0 = FloatVector.zero(F), a1 = a0;
            for (int b = 0; b < nb; b++) {
                FloatVector a = block(w, rowOffset + 20L * b, x, xOff + 32 * b, a0);
                a0 = a1;
                a1 = a;
            }
            return a0.add(a1).reduceLanes(ADD);
        }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / 32; b++) {
                long o = rowOffset + 20L * b;
                float d = f16(w, o), m = f16(w, o + 2);
                int y = outOff + 32 * b;
                for (int j = 0; j < 16; j += L) {
                    ByteVector q = loadBytes(w, o + 4 + j);
                    toFloats(q.and((byte) 0x0f)).mul(d).add(m).intoArray(out, y + j);
                    toFloats(shiftRight(q, 4).and((byte) 0x0f)).mul(d).add(m).intoArray(out, y + 16 + j);
                }
            }
        }
    }

    /** The fifth bits of elements j..j+L of a Q5 block: (qh >>> bit) & 1, moved to bit 4. */
    static IntVector fifthBits(IntVector qh, int j) {
        return qh.lanewise(LSHR, IntVector.fromArray(I, BIT_INDEX, j)).lanewise(LSHL, 4).and(0x10);
    }

    /** Q5_0: nibble | fifth bit from qh, minus 16. */
    static final class Q5_0Vector implements RowKernel {
        @Override public GgmlType type() { return GgmlType.Q5_0; }

        private static FloatVector block(MemorySegment w, long o, float[] x, int xi, FloatVector acc) {
            IntVector qh = IntVector.broadcast(I, w.get(I32, o + 2));
            FloatVector t = FloatVector.zero(F);
            for (int j = 0; j < 16; j += L) {
                IntVector q = bytesToInts(w, o + 6 + j);
                t = toFloats(q.and(0x0f).or(fifthBits(qh, j)).sub(16)).fma(FloatVector.fromArray(F, x, xi + j), t);
                t = toFloats(highNibbles(q).or(fifthBits(qh, 16 + j)).sub(16)).fma(FloatVector.fromArray(F, x, xi + 16 + j), t);
            }
            return t.fma(FloatVector.broadcast(F, f16(w, o)), acc);
        }

        @Override
        public float dot(MemorySegment w, long rowOffset, float[] x, int xOff, int n) {
            int nb = n / 32;
            FloatVector a0 = FloatVector.zero(F), a1 = a0;
            for (int b = 0; b < nb; b++) {
                FloatVector a = block(w, rowOffset + 22L * b, x, xOff + 32 * b, a0);
                a0 = a1;
                a1 = a;
            }
            return a0.add(a1).reduceLanes(ADD);
        }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / 32; b++) {
                long o = rowOffset + 22L * b;
                float d = f16(w, o);
                IntVector qh = IntVector.broadcast(I, w.get(I32, o + 2));
                int y = outOff + 32 * b;
                for (int j = 0; j < 16; j += L) {
                    IntVector q = bytesToInts(w, o + 6 + j);
                    toFloats(q.and(0x0f).or(fifthBits(qh, j)).sub(16)).mul(d).intoArray(out, y + j);
                    toFloats(highNibbles(q).or(fifthBits(qh, 16 + j)).sub(16)).mul(d).intoArray(out, y + 16 + j);
                }
            }
        }
    }

    /** Q5_1: w = (nibble | fifth bit) * d + m. */
    static final class Q5_1Vector implements RowKernel {
        @Override public GgmlType type() { return GgmlType.Q5_1; }

        private static FloatVector block(MemorySegment w, long o, float[] x, int xi, FloatVector acc) {
            FloatVector d = FloatVector.broadcast(F, f16(w, o));
            FloatVector m = FloatVector.broadcast(F, f16(w, o + 2));
            IntVector qh = IntVector.broadcast(I, w.get(I32, o + 4));
            for (int j = 0; j < 16; j += L) {
                IntVector q = bytesToInts(w, o + 8 + j);
                acc = toFloats(q.and(0x0f).or(fifthBits(qh, j))).fma(d, m).fma(FloatVector.fromArray(F, x, xi + j), acc);
                acc = toFloats(highNibbles(q).or(fifthBits(qh, 16 + j))).fma(d, m)
                        .fma(FloatVector.fromArray(F, x, xi + 16 + j), acc);
            }
            return acc;
        }

        @Override
        public float dot(MemorySegment w, long rowOffset, float[] x, int xOff, int n) {
            int nb = n / 32;
            FloatVector a0 = FloatVector.zero(F), a1 = a0;
            for (int b = 0; b < nb; b++) {
                FloatVector a = block(w, rowOffset + 24L * b, x, xOff + 32 * b, a0);
                a0 = a1;
                a1 = a;
            }
            return a0.add(a1).reduceLanes(ADD);
        }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / 32; b++) {
                long o = rowOffset + 24L * b;
                float d = f16(w, o), m = f16(w, o + 2);
                IntVector qh = IntVector.broadcast(I, w.get(I32, o + 4));
                int y = outOff + 32 * b;
                for (int j = 0; j < 16; j += L) {
                    IntVector q = bytesToInts(w, o + 8 + j);
                    toFloats(q.and(0x0f).or(fifthBits(qh, j))).mul(d).add(m).intoArray(out, y + j);
                    toFloats(highNibbles(q).or(fifthBits(qh, 16 + j))).mul(d).add(m).intoArray(out, y + 16 + j);
                }
            }
        }
    }

    // ---- K-quants (256-element super-blocks) ---------------------------------------------------------------
    //
    // Work is split into units that take and return scalars (a float partial sum): a super-block or a group
    // holds too many vector operations for C2's inlining budget, and a unit it declines to inline then costs a
    // call, not a boxed vector per operation. Scale bytes are read with one or two wide loads and unpacked in
    // registers; sixteen bounds-checked byte reads per super-block cost more than the vector work.

    static final java.lang.foreign.ValueLayout.OfLong I64 =
            java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);

    /** Byte k (0..11) of a Q4_K/Q5_K scales field held as {@code lo} (bytes 0..7) and {@code hi} (bytes 8..11). */
    static int scaleByte(long lo, int hi, int k) {
        return k < 8 ? (int) (lo >>> (8 * k)) & 0xff : (hi >>> (8 * (k - 8))) & 0xff;
    }

    /** ggml's get_scale_min_k4, scale half, from the scales field in registers. */
    static int kScale(long lo, int hi, int j) {
        return j < 4
                ? scaleByte(lo, hi, j) & 63
                : (scaleByte(lo, hi, j + 4) & 0x0f) | ((scaleByte(lo, hi, j - 4) >>> 6) << 4);
    }

    /** ggml's get_scale_min_k4, min half. */
    static int kMin(long lo, int hi, int j) {
        return j < 4
                ? scaleByte(lo, hi, j + 4) & 63
                : (scaleByte(lo, hi, j + 4) >>> 4) | ((scaleByte(lo, hi, j) >>> 6) << 4);
    }

    /** Q4_K: per 64 elements, 32 bytes of nibbles and two (scale, min) pairs; w = (d*sc) * q - dmin*m. */
    static final class Q4_KVector implements RowKernel {
        @Override public GgmlType type() { return GgmlType.Q4_K; }

        @Override
        public float dot(MemorySegment w, long rowOffset, float[] x, int xOff, int n) {
            float s = 0;
            for (int b = 0; b < n / QK_K; b++) s += superBlock(w, rowOffset + 144L * b, x, xOff + QK_K * b);
            return s;
        }

        private static float superBlock(MemorySegment w, long o, float[] x, int xi) {
            float d = f16(w, o), min = f16(w, o + 2);
            long lo = w.get(I64, o + 4);
            int hi = w.get(I32, o + 12);
            FloatVector a0 = FloatVector.zero(F), a1 = a0; // low-nibble and high-nibble sub-blocks
            for (int g = 0; g < 4; g++) {
                FloatVector d1 = FloatVector.broadcast(F, d * kScale(lo, hi, 2 * g));
                FloatVector m1 = FloatVector.broadcast(F, -(min * kMin(lo, hi, 2 * g)));
                FloatVector d2 = FloatVector.broadcast(F, d * kScale(lo, hi, 2 * g + 1));
                FloatVector m2 = FloatVector.broadcast(F, -(min * kMin(lo, hi, 2 * g + 1)));
                long qs = o + 16 + 32L * g;
                int y = xi + 64 * g;
                for (int l = 0; l < 32; l += L) {
                    ByteVector q = loadBytes(w, qs + l);
                    a0 = toFloats(q.and((byte) 0x0f)).fma(d1, m1).fma(FloatVector.fromArray(F, x, y + l), a0);
                    a1 = toFloats(shiftRight(q, 4).and((byte) 0x0f)).fma(d2, m2).fma(FloatVector.fromArray(F, x, y + 32 + l), a1);
                }
            }
            return a0.add(a1).reduceLanes(ADD);
        }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / QK_K; b++) {
                long o = rowOffset + 144L * b;
                float d = f16(w, o), min = f16(w, o + 2);
                long lo = w.get(I64, o + 4);
                int hi = w.get(I32, o + 12);
                for (int g = 0; g < 4; g++) {
                    float d1 = d * kScale(lo, hi, 2 * g), m1 = min * kMin(lo, hi, 2 * g);
                    float d2 = d * kScale(lo, hi, 2 * g + 1), m2 = min * kMin(lo, hi, 2 * g + 1);
                    long qs = o + 16 + 32L * g;
                    int y = outOff + QK_K * b + 64 * g;
                    for (int l = 0; l < 32; l += L) {
                        ByteVector q = loadBytes(w, qs + l);
                        toFloats(q.and((byte) 0x0f)).mul(d1).sub(m1).intoArray(out, y + l);
                        toFloats(shiftRight(q, 4).and((byte) 0x0f)).mul(d2).sub(m2).intoArray(out, y + 32 + l);
                    }
                }
            }
        }
    }

    /** Q5_K: as Q4_K with bit 2g (low nibbles) or 2g+1 (high nibbles) of qh[l] adding 16; one unit per 64 elements. */
    static final class Q5_KVector implements RowKernel {
        @Override public GgmlType type() { return GgmlType.Q5_K; }

        @Override
        public float dot(MemorySegment w, long rowOffset, float[] x, int xOff, int n) {
            float s = 0;
            for (int b = 0; b < n / QK_K; b++) {
                long o = rowOffset + 176L * b;
                float d = f16(w, o), min = f16(w, o + 2);
                long lo = w.get(I64, o + 4);
                int hi = w.get(I32, o + 12);
                for (int g = 0; g < 4; g++) {
                    s += group(w, o, g, d * kScale(lo, hi, 2 * g), min * kMin(lo, hi, 2 * g),
                            d * kScale(lo, hi, 2 * g + 1), min * kMin(lo, hi, 2 * g + 1), x, xOff + QK_K * b + 64 * g);
                }
            }
            return s;
        }

        private static float group(MemorySegment w, long o, int g, float d1, float m1, float d2, float m2, float[] x, int y) {
            FloatVector vd1 = FloatVector.broadcast(F, d1), vm1 = FloatVector.broadcast(F, -m1);
            FloatVector vd2 = FloatVector.broadcast(F, d2), vm2 = FloatVector.broadcast(F, -m2);
            long qh = o + 16, qs = o + 48 + 32L * g;
            FloatVector a0 = FloatVector.zero(F), a1 = a0;
            for (int l = 0; l < 32; l += L) {
                ByteVector q = loadBytes(w, qs + l);
                ByteVector h = loadBytes(w, qh + l);
                ByteVector lo = q.and((byte) 0x0f).or(bitToFour(h, 2 * g));
                ByteVector hi = shiftRight(q, 4).and((byte) 0x0f).or(bitToFour(h, 2 * g + 1));
                a0 = toFloats(lo).fma(vd1, vm1).fma(FloatVector.fromArray(F, x, y + l), a0);
                a1 = toFloats(hi).fma(vd2, vm2).fma(FloatVector.fromArray(F, x, y + 32 + l), a1);
            }
            return a0.add(a1).reduceLanes(ADD);
        }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / QK_K; b++) {
                long o = rowOffset + 176L * b;
                float d = f16(w, o), min = f16(w, o + 2);
                long lo = w.get(I64, o + 4);
                int hi = w.get(I32, o + 12);
                for (int g = 0; g < 4; g++) {
                    dequantizeGroup(w, o, g, d * kScale(lo, hi, 2 * g), min * kMin(lo, hi, 2 * g),
                            d * kScale(lo, hi, 2 * g + 1), min * kMin(lo, hi, 2 * g + 1), out, outOff + QK_K * b + 64 * g);
                }
            }
        }

        private static void dequantizeGroup(MemorySegment w, long o, int g, float d1, float m1, float d2, float m2,
                                            float[] out, int y) {
            long qh = o + 16, qs = o + 48 + 32L * g;
            for (int l = 0; l < 32; l += L) {
                ByteVector q = loadBytes(w, qs + l);
                ByteVector h = loadBytes(w, qh + l);
                ByteVector lo = q.and((byte) 0x0f).or(bitToFour(h, 2 * g));
                ByteVector hi = shiftRight(q, 4).and((byte) 0x0f).or(bitToFour(h, 2 * g + 1));
                toFloats(lo).mul(d1).sub(m1).intoArray(out, y + l);
                toFloats(hi).mul(d2).sub(m2).intoArray(out, y + 32 + l);
            }
        }
    }

    /**
     * Q6_K: per 128-element half, 64 bytes of low nibbles (ql) and 32 of high bit pairs (qh) give four 32-element
     * runs: low nibbles of ql[0..32) and ql[32..64) with qh bits 0-1 and 2-3, then their high nibbles with bits
     * 4-5 and 6-7. Every 16 elements share an int8 scale, and L (8 or 16) divides 16, so one scale per vector.
     */
    static final class Q6_KVector implements RowKernel {
        @Override public GgmlType type() { return GgmlType.Q6_K; }

        @Override
        public float dot(MemorySegment w, long rowOffset, float[] x, int xOff, int n) {
            float s = 0;
            for (int b = 0; b < n / QK_K; b++) {
                long o = rowOffset + 210L * b;
                float d = f16(w, o + 208);
                // Eight runs of 32 elements, one call site: run j of a half takes the low (j < 2) or high nibbles
                // of ql[32*(j&1) ..], qh bits 2j..2j+1 and scales 2j, 2j+1 (dequantize_row_q6_K's q1..q4). A
                // bigger unit (64 or 128 elements) overflowed C2's inlining budget and boxed vectors.
                for (int r = 0; r < 8; r++) {
                    int half = r >> 2, j = r & 3;
                    long sc = w.get(I64, o + 192 + 8L * half); // the half's 8 int8 scales
                    s += run(w, o + 64L * half + 32 * (j & 1), 4 * (j >> 1), o + 128 + 32L * half, 2 * j,
                            d * (byte) (sc >>> (16 * j)), d * (byte) (sc >>> (16 * j + 8)), x, xOff + QK_K * b + 128 * half + 32 * j);
                }
            }
            return s;
        }

        /** 32 elements: ((ql >> qShift) & 15 | ((qh >> hShift) & 3) << 4) - 32, times s0 (first 16) or s1. */
        private static float run(MemorySegment w, long ql, int qShift, long qh, int hShift, float s0, float s1, float[] x, int y) {
            FloatVector acc = FloatVector.zero(F);
            for (int l = 0; l < 32; l += L) {
                ByteVector q = shiftRight(loadBytes(w, ql + l), qShift).and((byte) 0x0f)
                        .or(shiftLeft(shiftRight(loadBytes(w, qh + l), hShift).and((byte) 3), 4));
                acc = toFloats(q.sub((byte) 32)).mul(l < 16 ? s0 : s1).fma(FloatVector.fromArray(F, x, y + l), acc);
            }
            return acc.reduceLanes(ADD);
        }

        /** Int8 scale k of a half's eight, times d: ggml's {@code d * sc[k]}. */
        private static float scale(float d, long sc, int k) {
            return d * (byte) (sc >>> (8 * k));
        }

        @Override
        public void dequantize(MemorySegment w, long rowOffset, float[] out, int outOff, int n) {
            for (int b = 0; b < n / QK_K; b++) {
                long o = rowOffset + 210L * b;
                float d = f16(w, o + 208);
                for (int half = 0; half < 2; half++) {
                    long sc = w.get(I64, o + 192 + 8L * half);
                    dequantizeHalf(w, o + 64L * half, o + 128 + 32L * half, d, sc, out, outOff + QK_K * b + 128 * half);
                }
            }
        }

        private static void dequantizeHalf(MemorySegment w, long ql, long qh, float d, long sc, float[] out, int y) {
            for (int l = 0; l < 32; l += L) {
                int is = l / 16;
                ByteVector lo0 = loadBytes(w, ql + l), lo1 = loadBytes(w, ql + 32 + l), h = loadBytes(w, qh + l);
                toFloats(lo0.and((byte) 0x0f).or(shiftLeft(h, 4).and((byte) 0x30)).sub((byte) 32))
                        .mul(scale(d, sc, is)).intoArray(out, y + l);
                toFloats(lo1.and((byte) 0x0f).or(shiftLeft(h, 2).and((byte) 0x30)).sub((byte) 32))
                        .mul(scale(d, sc, is + 2)).intoArray(out, y + 32 + l);
                toFloats(shiftRight(lo0, 4).and((byte) 0x0f).or(h.and((byte) 0x30)).sub((byte) 32))
                        .mul(scale(d, sc, is + 4)).intoArray(out, y + 64 + l);
                toFloats(shiftRight(lo1, 4).and((byte) 0x0f).or(shiftRight(h, 2).and((byte) 0x30)).sub((byte) 32))
                        .mul(scale(d, sc, is + 6)).intoArray(out, y + 96 + l);
            }
        }
    }
}
