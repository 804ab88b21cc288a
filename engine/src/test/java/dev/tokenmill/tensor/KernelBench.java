package dev.tokenmill.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-thread kernel throughput on a weight matrix far larger than the caches, in GB/s of weight bytes read.
 * Not a test: run by hand (see scripts/kernel-bench.sh), e.g.
 * {@code java --add-modules jdk.incubator.vector -cp ... dev.tokenmill.tensor.KernelBench [MB] [types...]}.
 *
 * <p>For each type: {@code MatMul.matvec} over every row of a random matrix of ~MB megabytes with rows of 2048
 * elements (llama-1b's hidden size), then 8192; best and median of several passes. A plain vector sum over the
 * same bytes gives the machine's single-thread read bandwidth as the ceiling. With {@code batch} it also times
 * {@code MatMul.matmul} at batch 8 (GFLOP/s).
 */
public final class KernelBench {
    private static final int PASSES = 7;

    public static void main(String[] args) {
        long mb = args.length > 0 ? Long.parseLong(args[0]) : 512;
        String[] names = args.length > 1 ? Arrays.copyOfRange(args, 1, args.length)
                : new String[] {"Q8_0", "Q4_0", "F16", "F32", "Q4_K", "Q6_K", "BF16", "Q4_1", "Q5_0", "Q5_1", "Q5_K"};
        System.out.printf(Locale.ROOT, "species %s, %d MB matrix, single thread%n", VectorKernels.F, mb);
        MemorySegment w = Arena.global().allocate(mb << 20, 64);
        fillRandom(w);
        System.out.printf(Locale.ROOT, "%-6s %-5s %9s %9s %9s %9s %10s%n", "type", "cols", "wall best", "wall med",
                "cpu best", "cpu med", "alloc B");
        bench("read", 2048, w, null);
        boolean batch = false;
        for (String name : names) {
            if (name.equals("batch")) { batch = true; continue; }
            GgmlType t = GgmlType.parse(name);
            setScales(w, t);
            for (int cols : new int[] {2048, 8192}) bench(t.name(), cols, w, t);
            if (batch) benchBatch(t, w, 2048, 8);
        }
    }

    private static volatile float sink;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();

    /**
     * Prints best and median GB/s by wall clock and by this thread's CPU time (the machine this was written on
     * is shared, so CPU time is the steadier number), and the bytes allocated per pass, which is zero unless C2
     * failed to intrinsify a vector operation and boxed vectors.
     */
    private static void bench(String label, int cols, MemorySegment w, GgmlType t) {
        long rowBytes = t == null ? 4L * cols : t.bytesFor(cols);
        int rows = (int) (w.byteSize() / rowBytes);
        float[] x = new float[cols];
        SplittableRandom rnd = new SplittableRandom(1);
        for (int i = 0; i < cols; i++) x[i] = (float) rnd.nextDouble(-1, 1);
        float[] y = new float[rows];
        RowKernel k = t == null ? null : Kernels.forType(t);
        double[] wall = new double[PASSES], cpu = new double[PASSES];
        long allocated = 0;
        for (int p = -2; p < PASSES; p++) { // two warm-up passes let C2 compile the kernel
            long a0 = THREADS.getCurrentThreadAllocatedBytes();
            long c0 = THREADS.getCurrentThreadCpuTime();
            long t0 = System.nanoTime();
            if (k == null) sink += readAll(w, rows * rowBytes);
            else MatMul.matvec(k, w, rows, cols, x, y, 0, rows);
            long ns = System.nanoTime() - t0;
            long cns = THREADS.getCurrentThreadCpuTime() - c0;
            if (p >= 0) {
                wall[p] = rows * rowBytes / (double) ns;
                cpu[p] = rows * rowBytes / (double) cns;
                allocated = THREADS.getCurrentThreadAllocatedBytes() - a0;
            }
            sink += y[rows / 2];
        }
        Arrays.sort(wall);
        Arrays.sort(cpu);
        System.out.printf(Locale.ROOT, "%-6s %-5d %9.2f %9.2f %9.2f %9.2f %10d%n", label, cols,
                wall[PASSES - 1], wall[PASSES / 2], cpu[PASSES - 1], cpu[PASSES / 2], allocated);
    }

    private static void benchBatch(GgmlType t, MemorySegment w, int cols, int batch) {
        long rowBytes = t.bytesFor(cols);
        int rows = (int) Math.min(w.byteSize() / rowBytes, 16384);
        float[] x = new float[batch * cols];
        for (int i = 0; i < x.length; i++) x[i] = (i % 13) * 0.01f;
        float[] y = new float[batch * rows];
        float[] scratch = new float[MatMul.scratchFloats(cols)];
        RowKernel k = Kernels.forType(t);
        double best = 0, bestPerRow = 0;
        for (int p = -2; p < PASSES; p++) {
            long t0 = System.nanoTime();
            MatMul.matmul(k, w, rows, cols, x, batch, y, 0, rows, scratch);
            long ns = System.nanoTime() - t0;
            long t1 = System.nanoTime();
            for (int b = 0; b < batch; b++) {
                for (int r = 0; r < rows; r++) y[b * rows + r] = k.dot(w, r * rowBytes, x, b * cols, cols);
            }
            long nsPerRow = System.nanoTime() - t1;
            if (p >= 0) {
                best = Math.max(best, 2.0 * batch * rows * cols / ns);
                bestPerRow = Math.max(bestPerRow, 2.0 * batch * rows * cols / nsPerRow);
            }
            sink += y[0];
        }
        System.out.printf(Locale.ROOT, "%-6s matmul batch %d: %.1f GFLOP/s tiled, %.1f GFLOP/s as %d dots per row%n",
                t, batch, best, bestPerRow, batch);
    }

    /** The machine's read bandwidth: sum every long of the first {@code bytes} bytes. */
    private static float readAll(MemorySegment w, long bytes) {
        VectorSpecies<Long> s = LongVector.SPECIES_PREFERRED;
        LongVector a0 = LongVector.zero(s), a1 = a0, a2 = a0, a3 = a0;
        long step = s.vectorByteSize();
        long i = 0;
        for (; i + 4 * step <= bytes; i += 4 * step) {
            a0 = a0.add(LongVector.fromMemorySegment(s, w, i, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(LongVector.fromMemorySegment(s, w, i + step, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(LongVector.fromMemorySegment(s, w, i + 2 * step, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(LongVector.fromMemorySegment(s, w, i + 3 * step, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }

    private static void fillRandom(MemorySegment w) {
        SplittableRandom rnd = new SplittableRandom(42);
        for (long i = 0; i + 8 <= w.byteSize(); i += 8) w.set(ValueLayout.JAVA_LONG_UNALIGNED, i, rnd.nextLong());
    }

    /** Finite small scales in every block, so float types and scales are realistic numbers, not NaN/Inf. */
    private static void setScales(MemorySegment w, GgmlType t) {
        ValueLayout.OfShort i16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        SplittableRandom rnd = new SplittableRandom(t.id());
        if (!t.isQuantized()) {
            long width = t == GgmlType.F32 ? 4 : 2;
            for (long i = 0; i + width <= w.byteSize(); i += width) {
                float v = (float) rnd.nextDouble(-1, 1);
                if (t == GgmlType.F32) w.set(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
                else w.set(i16, i, t == GgmlType.F16 ? Fp16.fromFloat(v) : Fp16.floatToBf16(v));
            }
            return;
        }
        long blocks = w.byteSize() / t.blockBytes();
        int[] offsets = RandomBlocks.scaleOffsets(t);
        for (long b = 0; b < blocks; b++) {
            for (int off : offsets) w.set(i16, b * t.blockBytes() + off, Fp16.fromFloat((float) rnd.nextDouble(-0.05, 0.05)));
        }
    }
}
