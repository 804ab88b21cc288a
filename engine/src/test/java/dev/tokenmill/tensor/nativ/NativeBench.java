package dev.tokenmill.tensor.nativ;

import dev.tokenmill.tensor.Fp16;
import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.Kernels;
import dev.tokenmill.tensor.MatMul;
import dev.tokenmill.tensor.RowKernel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;

/**
 * Native kernels against the Java kernels (MatMul.matvec / MatMul.matmul with Kernels.forType), side by side in
 * one run, on llama-1b's matrix shapes. Not a test: run by hand with scripts/native-bench.sh.
 *
 * <p>Batch 1 reports GB/s of ggml weight bytes over enough copies of each matrix (a model's worth of layers) that
 * the weights stream from memory; batch 32 reports GOP/s (2 * batch * rows * cols per product). Threads split the
 * rows at multiples of 16 and each runs its share of a whole pass, so dispatch cost is not included. Native
 * times include nothing but the gemm (activations are quantized once per step, timed separately).
 */
public final class NativeBench {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int PASSES = 5;
    private static final int[][] SHAPES = {{2048, 2048}, {8192, 2048}, {2048, 8192}, {128256, 2048}};

    private static volatile float sink;
    private static long packNs, packBytes;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();

    public static void main(String[] args) throws Exception {
        long mb = args.length > 0 ? Long.parseLong(args[0]) : 384;
        List<GgmlType> types = new ArrayList<>();
        List<Integer> batches = new ArrayList<>(), threadCounts = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (a.startsWith("b=")) for (String s : a.substring(2).split(",")) batches.add(Integer.parseInt(s));
            else if (a.startsWith("t=")) for (String s : a.substring(2).split(",")) threadCounts.add(Integer.parseInt(s));
            else types.add(GgmlType.parse(a));
        }
        if (types.isEmpty()) types = List.of(GgmlType.Q8_0, GgmlType.Q4_0);
        if (batches.isEmpty()) batches = List.of(1, 32);
        if (threadCounts.isEmpty()) threadCounts = List.of(1, 2);
        if (!NativeKernels.available()) {
            System.out.println("native kernels not available");
            return;
        }
        System.out.printf(Locale.ROOT, "native %s; %d MB of weights per batch-1 pass; best / median of %d passes%n",
                NativeKernels.describe(), mb, PASSES);
        Arena arena = Arena.global();
        long largest = 0; // the output matrix must fit at least once
        for (GgmlType t : types) for (int[] shape : SHAPES) largest = Math.max(largest, t.bytesFor((long) shape[0] * shape[1]));
        MemorySegment raw = arena.allocate(Math.max(mb << 20, largest), 64);
        SplittableRandom rnd = new SplittableRandom(42);
        for (long i = 0; i + 8 <= raw.byteSize(); i += 8) raw.set(ValueLayout.JAVA_LONG_UNALIGNED, i, rnd.nextLong());
        System.out.println("batch 1: GB/s of weights; batch > 1: GOP/s; each as wall best / wall median / CPU-time best;"
                + " ratio of wall best (and of CPU-time best)");
        System.out.printf(Locale.ROOT, "%-5s %-13s %5s %3s %20s %20s %15s%n", "type", "rows x cols", "batch", "thr",
                "java", "native", "ratio");
        for (GgmlType t : types) {
            setScales(raw, t);
            for (int[] shape : SHAPES) {
                int rows = shape[0], cols = shape[1];
                long bytes = t.bytesFor((long) rows * cols);
                int copies = (int) Math.max(1, raw.byteSize() / bytes);
                try (Arena packArena = Arena.ofShared()) {
                    PackedWeights[] packed = new PackedWeights[copies];
                    long p0 = System.nanoTime();
                    for (int c = 0; c < copies; c++) packed[c] = NativeKernels.pack(t, raw.asSlice(c * bytes, bytes), rows, cols, packArena);
                    packNs += System.nanoTime() - p0;
                    packBytes += bytes * copies;
                    for (int batch : batches) {
                        // batch 1 streams every copy (memory-bound); bigger batches are compute-bound: ~64 MB is plenty
                        int use = batch == 1 ? copies : (int) Math.max(1, Math.min(copies, (64L << 20) / bytes));
                        for (int threads : threadCounts) {
                            Run run = new Run(t, raw, packed, use, bytes, rows, cols, batch, threads, packArena);
                            double[] java = run.time(false), nat = run.time(true);
                            double unit = batch == 1 ? (double) bytes * use : 2.0 * batch * rows * (double) cols * use;
                            System.out.printf(Locale.ROOT, "%-5s %-13s %5d %3d %20s %20s %6.2fx (%5.2fx)%n", t, rows + "x" + cols,
                                    batch, threads, rate(unit, java, batch), rate(unit, nat, batch), java[0] / nat[0], java[2] / nat[2]);
                        }
                    }
                }
            }
            quantizeCost(arena, 32, 2048);
        }
        System.out.printf(Locale.ROOT, "pack: %.2f GB/s of ggml weights (one thread)%n", packBytes / (double) packNs);
        System.out.printf(Locale.ROOT, "bytes allocated by a native gemm call, after warm-up: %d%n", allocation(arena));
    }

    private static String rate(double unit, double[] ns, int batch) {
        return String.format(Locale.ROOT, "%.1f/%.1f/%.1f", unit / ns[0], unit / ns[1], unit / ns[2]);
    }

    /** Heap bytes one thread allocates per native gemm into a float[] (should be 0 once C2 has compiled the call). */
    private static long allocation(Arena arena) {
        int rows = 64, cols = 256, batch = 4;
        MemorySegment w = arena.allocate(GgmlType.Q8_0.bytesFor((long) rows * cols));
        PackedWeights packed = NativeKernels.pack(GgmlType.Q8_0, w, rows, cols, arena);
        Q8Activations acts = new Q8Activations(arena, batch, cols);
        float[] x = new float[batch * cols], y = new float[batch * rows];
        for (int i = 0; i < 200_000; i++) {
            acts.quantize(x, batch, cols);
            NativeKernels.gemm(packed, acts, y, 0, rows);
        }
        long a0 = THREADS.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 10_000; i++) {
            acts.quantize(x, batch, cols);
            NativeKernels.gemm(packed, acts, y, 0, rows);
        }
        return (THREADS.getCurrentThreadAllocatedBytes() - a0) / 10_000;
    }

    private static void quantizeCost(Arena arena, int batch, int cols) {
        Q8Activations acts = new Q8Activations(arena, batch, cols);
        float[] x = new float[batch * cols];
        for (int i = 0; i < x.length; i++) x[i] = (i % 17) * 0.1f - 0.8f;
        long best = Long.MAX_VALUE;
        for (int p = 0; p < 2000; p++) {
            long t0 = System.nanoTime();
            acts.quantize(x, batch, cols);
            best = Math.min(best, System.nanoTime() - t0);
        }
        System.out.printf(Locale.ROOT, "quantize %d x %d activations: %.1f us%n", batch, cols, best / 1e3);
    }

    /** One configuration: each thread owns a row range of every matrix copy; one barrier per pass. */
    private static final class Run {
        final GgmlType t;
        final MemorySegment raw;
        final PackedWeights[] packed;
        final int use, rows, cols, batch, threads;
        final long bytes;
        final float[] x;
        final float[] y;
        final Q8Activations acts;

        Run(GgmlType t, MemorySegment raw, PackedWeights[] packed, int use, long bytes, int rows, int cols, int batch,
            int threads, Arena arena) {
            this.t = t; this.raw = raw; this.packed = packed; this.use = use; this.bytes = bytes;
            this.rows = rows; this.cols = cols; this.batch = batch; this.threads = threads;
            x = new float[batch * cols];
            SplittableRandom rnd = new SplittableRandom(3);
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextDouble(-1, 1);
            y = new float[batch * rows];
            acts = new Q8Activations(arena, batch, cols);
            acts.quantize(x, batch, cols);
        }

        /**
         * Best and median ns of a pass over the first {@code use} copies, by wall clock and by the busiest thread's
         * CPU time (the steadier number on a shared machine).
         */
        double[] time(boolean nat) throws Exception {
            int passes = PASSES + 2;
            long[][] ns = new long[threads][passes];
            long[][] cpu = new long[threads][passes];
            CyclicBarrier barrier = new CyclicBarrier(threads);
            Thread[] ts = new Thread[threads];
            for (int i = 0; i < threads; i++) {
                final int id = i;
                int groups = (rows + 15) / 16;
                int from = Math.min(rows, groups * id / threads * 16), to = Math.min(rows, groups * (id + 1) / threads * 16);
                ts[i] = new Thread(() -> {
                    RowKernel k = Kernels.forType(t);
                    float[] scratch = new float[MatMul.scratchFloats(cols)];
                    try {
                        for (int p = 0; p < passes; p++) {
                            barrier.await();
                            long c0 = THREADS.getCurrentThreadCpuTime();
                            long t0 = System.nanoTime();
                            for (int c = 0; c < use; c++) {
                                if (nat) NativeKernels.gemm(packed[c], acts, y, from, to);
                                else if (batch == 1) MatMul.matvec(k, raw.asSlice(c * bytes, bytes), rows, cols, x, y, from, to);
                                else MatMul.matmul(k, raw.asSlice(c * bytes, bytes), rows, cols, x, batch, y, from, to, scratch);
                            }
                            ns[id][p] = System.nanoTime() - t0;
                            cpu[id][p] = THREADS.getCurrentThreadCpuTime() - c0;
                            barrier.await();
                        }
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                ts[i].start();
            }
            for (Thread th : ts) th.join();
            sink += y[0];
            long[] wall = new long[PASSES], busy = new long[PASSES];
            for (int p = 0; p < PASSES; p++) {
                for (int i = 0; i < threads; i++) {
                    wall[p] = Math.max(wall[p], ns[i][p + 2]);
                    busy[p] = Math.max(busy[p], cpu[i][p + 2]);
                }
            }
            Arrays.sort(wall);
            Arrays.sort(busy);
            return new double[] {wall[0], wall[PASSES / 2], busy[0]};
        }
    }

    /** Finite small f16 scales in every block of the type, so values are realistic numbers, not NaN/Inf. */
    private static void setScales(MemorySegment w, GgmlType t) {
        SplittableRandom rnd = new SplittableRandom(t.id());
        long blocks = w.byteSize() / t.blockBytes();
        int[] offsets = switch (t) {
            case Q4_K -> new int[] {0, 2};
            case Q6_K -> new int[] {208};
            default -> new int[] {0};
        };
        for (long b = 0; b < blocks; b++) {
            for (int off : offsets) w.set(I16, b * t.blockBytes() + off, Fp16.fromFloat((float) rnd.nextDouble(-0.05, 0.05)));
        }
    }
}
