package dev.tokenmill.tensor.nativ;

import dev.tokenmill.tensor.GgmlType;
import java.lang.foreign.MemorySegment;

/**
 * A weight matrix of {@code rows} rows of {@code cols} elements repacked by {@link NativeKernels#pack} for the
 * native kernels: groups of 16 rows with their quants interleaved 4 bytes per row. Only the native kernels read
 * {@code data}; the ggml tensor it came from stays the reference.
 */
public record PackedWeights(GgmlType type, int rows, int cols, MemorySegment data) {}
