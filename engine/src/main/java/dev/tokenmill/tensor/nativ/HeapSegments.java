package dev.tokenmill.tensor.nativ;

import java.lang.foreign.MemorySegment;

/**
 * Segments over the last few float arrays a thread passed to the native kernels, so that calls with float[]
 * allocate nothing once warm (MemorySegment.ofArray allocates a wrapper each time, which C2 does not remove
 * across a downcall). Holds at most {@value #SIZE} arrays per thread; engine threads pass the same few buffers
 * every step.
 */
final class HeapSegments {
    private static final int SIZE = 8;
    private static final ThreadLocal<HeapSegments> LOCAL = ThreadLocal.withInitial(HeapSegments::new);

    private final float[][] arrays = new float[SIZE][];
    private final MemorySegment[] segments = new MemorySegment[SIZE];
    private int next;

    private HeapSegments() {}

    static MemorySegment of(float[] a) {
        return LOCAL.get().lookup(a);
    }

    private MemorySegment lookup(float[] a) {
        for (int i = 0; i < SIZE; i++) {
            if (arrays[i] == a) return segments[i];
        }
        int i = next;
        next = (next + 1) % SIZE;
        arrays[i] = a;
        segments[i] = MemorySegment.ofArray(a);
        return segments[i];
    }
}
