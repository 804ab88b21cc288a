package dev.tokenmill.tensor;

/** Vector API kernels; only loaded when {@link VectorSupport#available()}. */
final class VectorKernels {
    private VectorKernels() {}

    static RowKernel forType(GgmlType t) {
        return null; // the vector twins follow
    }
}
