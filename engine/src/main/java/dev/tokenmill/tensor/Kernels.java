package dev.tokenmill.tensor;

import java.util.EnumMap;
import java.util.Map;

/**
 * Hands out the {@link RowKernel} for a tensor type: the Vector API one where the module is present,
 * the scalar reference otherwise. {@link #scalar(GgmlType)} always gives the reference twin.
 */
public final class Kernels {
    private static final Map<GgmlType, RowKernel> SCALAR = new EnumMap<>(GgmlType.class);
    private static final Map<GgmlType, RowKernel> FAST = new EnumMap<>(GgmlType.class);

    static {
        for (GgmlType t : GgmlType.values()) {
            RowKernel s = ScalarKernels.forType(t);
            if (s != null) SCALAR.put(t, s);
        }
        if (VectorSupport.available()) {
            for (GgmlType t : GgmlType.values()) {
                RowKernel v = VectorKernels.forType(t);
                if (v != null) FAST.put(t, v);
            }
        }
    }

    private Kernels() {}

    public static RowKernel forType(GgmlType type) {
        RowKernel k = FAST.get(type);
        return k != null ? k : scalar(type);
    }

    public static RowKernel scalar(GgmlType type) {
        RowKernel k = SCALAR.get(type);
        if (k == null) throw new UnsupportedOperationException("no kernel for tensor type " + type);
        return k;
    }
}
