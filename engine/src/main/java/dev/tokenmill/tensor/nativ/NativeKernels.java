package dev.tokenmill.tensor.nativ;

import dev.tokenmill.tensor.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Native int8 matrix products (libtokenmill.so: AVX-512 VNNI or AVX2, chosen at run time) for Q8_0, Q4_0, Q4_1,
 * Q5_0, Q5_1, Q4_K, Q5_K and Q6_K weights repacked once at load time, with activations quantized to int8 blocks once per step.
 *
 * <p>Use: at load, {@code packed = pack(type, tensor, rows, cols, arena)} for each matrix of a
 * {@link #supports supported} type; per step, {@code acts.quantize(x, batch, cols)} once per input (q, k and v
 * share one), then on each thread {@code gemm(packed, acts, y, rowFrom, rowTo)} with row ranges split at
 * multiples of {@link #ROW_GROUP} ({@link #splitPoint}).
 * A row's result has the same bits whatever the batch size, tile or thread split (see {@link ScalarTwin} for
 * the arithmetic). When {@link #available()} is false (not Linux x86-64, no AVX2, library not built,
 * {@code -Dtokenmill.native=off}) use the Java kernels ({@code dev.tokenmill.tensor.MatMul}).
 */
public final class NativeKernels {
    /** Rows computed together; row ranges that start and end at multiples of it never share work. */
    public static final int ROW_GROUP = 16;

    private NativeKernels() {}

    /**
     * Boundary {@code i} (0..parts) of a split of {@code rows} rows into {@code parts} near-equal ranges that start and
     * end at multiples of {@link #ROW_GROUP} (the last ends at {@code rows}): thread t computes
     * {@code [splitPoint(rows, parts, t), splitPoint(rows, parts, t + 1))}.
     */
    public static int splitPoint(int rows, int parts, int i) {
        long groups = (rows + ROW_GROUP - 1) / ROW_GROUP;
        return (int) Math.min(rows, groups * i / parts * ROW_GROUP);
    }

    /** Whether the native library is loaded and usable on this CPU. */
    public static boolean available() {
        return NativeLibrary.LOADED != null;
    }

    /** Why {@link #available()} is false, in words; null when it is true. */
    public static String unavailableReason() {
        return NativeLibrary.UNAVAILABLE_REASON;
    }

    /** Whether {@link #pack} and {@link #gemm} handle this weight type. */
    public static boolean supports(GgmlType type) {
        return available() && switch (type) {
            case Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K -> true;
            default -> false;
        };
    }

    /** "AVX-512 VNNI", "AVX2", or "off". */
    public static String describe() {
        if (!available()) return "off";
        return isa() == 2 ? "AVX-512 VNNI" : "AVX2";
    }

    /**
     * Repacks a ggml matrix ({@code rows} rows of {@code cols} elements from byte 0 of {@code w}) into memory of
     * {@code arena}, which must be shared or global when other threads run the gemm (a confined arena's memory is
     * readable by its owner thread only). One pass over the weights (about 1 GB/s for K-quants, several GB/s for
     * Q8_0/Q4_0); the result takes as many bytes as the ggml tensor and lives as long as the arena.
     */
    public static PackedWeights pack(GgmlType type, MemorySegment w, int rows, int cols, Arena arena) {
        return pack(type, w, rows, cols, arena, packed -> { });
    }

    /**
     * As {@link #pack(GgmlType, MemorySegment, int, int, Arena)}, in slices of rows;
     * after each slice {@code donePacking} receives the part of {@code w} it read (e.g. to drop those pages of a
     * mapped file, so that a large matrix is never resident twice).
     */
    public static PackedWeights pack(GgmlType type, MemorySegment w, int rows, int cols, Arena arena,
                                     java.util.function.Consumer<MemorySegment> donePacking) {
        MemorySegment out = arena.allocate(packedBytes(type, rows, cols), 64);
        return pack(type, w, rows, cols, out, donePacking);
    }

    /**
     * As {@link #pack(GgmlType, MemorySegment, int, int, Arena, java.util.function.Consumer)} into {@code out}, which
     * must hold {@link #packedBytes} bytes (more are left alone) and be readable by the threads that run the gemm.
     */
    public static PackedWeights pack(GgmlType type, MemorySegment w, int rows, int cols, MemorySegment out,
                                     java.util.function.Consumer<MemorySegment> donePacking) {
        NativeLibrary lib = library();
        long bytes = type.bytesFor((long) rows * cols);
        if (w.byteSize() < bytes) {
            throw new IllegalArgumentException(type + " matrix " + rows + " x " + cols + " needs " + bytes + " bytes, segment has " + w.byteSize());
        }
        long packedBytes = packedBytes(type, rows, cols);
        if (out.byteSize() < packedBytes) {
            throw new IllegalArgumentException("packed " + type + " matrix " + rows + " x " + cols + " needs " + packedBytes
                    + " bytes, output has " + out.byteSize());
        }
        out = out.asSlice(0, packedBytes);
        try {
            int groups = (rows + ROW_GROUP - 1) / ROW_GROUP;
            long rowBytes = type.bytesFor(cols);
            int slice = Math.max(1, (int) ((16L << 20) / (rowBytes * ROW_GROUP))); // about 16 MB of weights per slice
            MemorySegment src = w.asSlice(0, bytes);
            for (int g0 = 0; g0 < groups; g0 += slice) {
                int g1 = Math.min(groups, g0 + slice);
                int rc = (int) lib.pack.invokeExact(type.id(), src, rows, cols, out, g0, g1);
                if (rc != 0) throw new IllegalStateException("tm_pack returned " + rc + " for " + type + " " + rows + " x " + cols);
                long from = (long) g0 * ROW_GROUP * rowBytes, to = Math.min(bytes, (long) g1 * ROW_GROUP * rowBytes);
                donePacking.accept(src.asSlice(from, to - from));
            }
            return new PackedWeights(type, rows, cols, out);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("native pack failed", t);
        }
    }

    /**
     * Version of {@link #pack}'s layout (tm_pack in tokenmill.c). Bump it whenever that layout changes: packed weights
     * cached on disk under an older version are then rebuilt instead of read.
     */
    public static final int PACK_LAYOUT_VERSION = 1;

    /** Bytes {@link #pack} writes for a {@code rows x cols} matrix of {@code type}. */
    public static long packedBytes(GgmlType type, int rows, int cols) {
        NativeLibrary lib = library();
        if (!supports(type)) throw new UnsupportedOperationException("no native kernel for tensor type " + type);
        if (rows < 1 || cols < type.blockSize() || cols % type.blockSize() != 0) {
            throw new IllegalArgumentException("cannot pack a " + rows + " x " + cols + " " + type + " matrix (cols a multiple of "
                    + type.blockSize() + ")");
        }
        try {
            return (long) lib.packedBytes.invokeExact(type.id(), rows, cols);
        } catch (Throwable t) {
            throw new IllegalStateException("tm_packed_bytes failed", t);
        }
    }

    /**
     * {@code y[b*rows + r] = dot(W[r], X[b])} for every batch row b of {@code x} and r in [rowFrom, rowTo):
     * Y is [batch][rows] row-major, as {@code MatMul.matmul} writes it. Allocates nothing; rows outside the range
     * are not touched.
     */
    public static void gemm(PackedWeights w, Q8Activations x, float[] y, int rowFrom, int rowTo) {
        if (y.length < (long) x.batch() * w.rows()) {
            throw new IllegalArgumentException("output holds " + y.length + " floats, needs " + x.batch() + " x " + w.rows());
        }
        gemmChecked(w, x, HeapSegments.of(y), w.rows(), rowFrom, rowTo);
    }

    /**
     * As {@link #gemm(PackedWeights, Q8Activations, float[], int, int)} into floats of {@code y} (on or off heap):
     * {@code y[b*ldy + r]}, with {@code ldy >= rows}.
     */
    public static void gemm(PackedWeights w, Q8Activations x, MemorySegment y, long ldy, int rowFrom, int rowTo) {
        if (ldy < w.rows() || y.byteSize() / 4 < (x.batch() - 1) * ldy + w.rows()) {
            throw new IllegalArgumentException("output of " + y.byteSize() / 4 + " floats with row stride " + ldy
                    + " cannot hold " + x.batch() + " x " + w.rows());
        }
        gemmChecked(w, x, y, ldy, rowFrom, rowTo);
    }

    private static void gemmChecked(PackedWeights w, Q8Activations x, MemorySegment y, long ldy, int rowFrom, int rowTo) {
        NativeLibrary lib = library();
        if (x.cols() != w.cols()) {
            throw new IllegalArgumentException("activations have " + x.cols() + " columns, the " + w.type() + " matrix " + w.cols());
        }
        if (rowFrom < 0 || rowTo > w.rows() || rowFrom > rowTo) {
            throw new IllegalArgumentException("row range [" + rowFrom + ", " + rowTo + ") outside the " + w.rows() + " rows of the matrix");
        }
        MemorySegment bias = w.type() == GgmlType.Q4_0 || w.type() == GgmlType.Q5_0 ? x.c4 : x.c8;
        int rc;
        try {
            MethodHandle h = y.isNative() ? lib.gemm : lib.gemmHeap;
            rc = (int) h.invokeExact(w.type().id(), w.data(), w.rows(), w.cols(), x.qs, x.d, bias, x.m, x.h0, x.h1, x.batch(),
                    y, ldy, rowFrom, rowTo);
        } catch (Throwable t) {
            throw new IllegalStateException("native gemm failed", t);
        }
        if (rc != 0) throw new IllegalStateException("tm_gemm returned " + rc + " for " + w.type() + " " + w.rows() + " x " + w.cols());
    }

    /** 2 = AVX-512 VNNI, 1 = AVX2. */
    static int isa() {
        try {
            return (int) library().isa.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException("tm_isa failed", t);
        }
    }

    /** Caps the ISA (tests run the AVX2 path this way) and returns the level now in use. */
    static int setIsa(int level) {
        try {
            return (int) library().setIsa.invokeExact(level);
        } catch (Throwable t) {
            throw new IllegalStateException("tm_set_isa failed", t);
        }
    }

    private static NativeLibrary library() {
        NativeLibrary lib = NativeLibrary.LOADED;
        if (lib == null) throw new IllegalStateException("native kernels are not available; check NativeKernels.available() first");
        return lib;
    }
}
