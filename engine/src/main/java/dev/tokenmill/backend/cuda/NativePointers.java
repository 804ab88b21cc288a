package dev.tokenmill.backend.cuda;

import jcuda.NativePointerObject;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The address inside a JCuda handle ({@code CUdeviceptr}, {@code CUfunction}, {@code CUstream}, {@code CUcontext}) as a
 * {@code long}, so the same handle can be passed to cuBLAS and to the driver calls made through FFM. JCuda keeps it
 * in the private field {@code nativePointer} of {@link NativePointerObject}; it is read here and nowhere else.
 */
final class NativePointers {
    private static final VarHandle FIELD;

    static {
        try {
            FIELD = MethodHandles.privateLookupIn(NativePointerObject.class, MethodHandles.lookup())
                    .findVarHandle(NativePointerObject.class, "nativePointer", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError("JCuda's NativePointerObject has no nativePointer field: " + e);
        }
    }

    private NativePointers() {}

    static long address(NativePointerObject p) {
        return (long) FIELD.get(p);
    }
}
