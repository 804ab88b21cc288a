package dev.tokenmill.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The driver calls of the step's hot path, made through FFM on {@code libcuda.so.1} (the library JCuda loaded):
 * kernel launches, asynchronous copies from and to pinned host memory, stream synchronization, pinned allocations.
 * JCuda's wrappers of the same calls build argument objects and cross JNI on every call; these reuse one native
 * argument buffer. Everything else (context, modules, device memory, events) goes through JCuda.
 */
final class CudaDriver {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup CUDA = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());
    private static final MethodHandle LAUNCH = handle("cuLaunchKernel", FunctionDescriptor.of(JAVA_INT, ADDRESS,
            JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS), true);
    private static final MethodHandle HTOD_ASYNC = handle("cuMemcpyHtoDAsync_v2",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS), true);
    private static final MethodHandle DTOH_ASYNC = handle("cuMemcpyDtoHAsync_v2",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS), true);
    private static final MethodHandle HTOD = handle("cuMemcpyHtoD_v2",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG), false);
    private static final MethodHandle SYNC = handle("cuStreamSynchronize", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
    private static final MethodHandle HOST_ALLOC = handle("cuMemHostAlloc",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), false);
    private static final MethodHandle FREE_HOST = handle("cuMemFreeHost", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
    private static final MethodHandle BEGIN_CAPTURE = handle("cuStreamBeginCapture_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), false);
    private static final MethodHandle END_CAPTURE = handle("cuStreamEndCapture", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), false);
    private static final MethodHandle INSTANTIATE = handle("cuGraphInstantiateWithFlags",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG), false);
    private static final MethodHandle GRAPH_LAUNCH = handle("cuGraphLaunch", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), false);
    private static final MethodHandle GRAPH_EXEC_DESTROY = handle("cuGraphExecDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
    private static final MethodHandle GRAPH_DESTROY = handle("cuGraphDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS), false);
    /** CU_STREAM_CAPTURE_MODE_THREAD_LOCAL: other threads' CUDA calls do not disturb a capture. */
    private static final int CAPTURE_THREAD_LOCAL = 1;
    private static final MethodHandle ERROR_NAME = handle("cuGetErrorName", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), false);

    /** Kernel arguments: 8 bytes a slot, and the array of slot addresses the driver reads them through. */
    static final int MAX_ARGS = 32;
    private final MemorySegment args, argPtrs;
    private final MemorySegment stream;
    private int nArgs;

    CudaDriver(long stream) {
        Arena arena = Arena.ofAuto();
        args = arena.allocate(8L * MAX_ARGS, 16);
        argPtrs = arena.allocate(8L * MAX_ARGS, 16);
        for (int i = 0; i < MAX_ARGS; i++) argPtrs.setAtIndex(JAVA_LONG, i, args.address() + 8L * i);
        this.stream = MemorySegment.ofAddress(stream);
    }

    private static MethodHandle handle(String name, FunctionDescriptor fd, boolean critical) {
        MemorySegment sym = CUDA.find(name).orElseThrow(() -> new CudaException("libcuda.so.1 has no " + name));
        return critical ? LINKER.downcallHandle(sym, fd, Linker.Option.critical(false)) : LINKER.downcallHandle(sym, fd);
    }

    // ---- kernel launches: begin, args in order, launch ----

    CudaDriver begin() {
        nArgs = 0;
        return this;
    }

    CudaDriver arg(long v) {
        args.setAtIndex(JAVA_LONG, nArgs++, v);
        return this;
    }

    CudaDriver arg(int v) {
        args.set(JAVA_INT, 8L * nArgs++, v);
        return this;
    }

    CudaDriver arg(float v) {
        args.set(ValueLayout.JAVA_FLOAT, 8L * nArgs++, v);
        return this;
    }

    void launch(Kernel k, int gx, int gy, int bx, int sharedBytes) {
        if (gx <= 0 || gy <= 0) return;
        int rc;
        try {
            rc = (int) LAUNCH.invokeExact(MemorySegment.ofAddress(k.handle()), gx, gy, 1, bx, 1, 1, sharedBytes, stream, argPtrs,
                    MemorySegment.NULL);
        } catch (Throwable t) {
            throw new CudaException("cuLaunchKernel(" + k.name() + ")", t);
        }
        check(rc, "cuLaunchKernel(" + k.name() + ", grid " + gx + "x" + gy + ", block " + bx + ")");
    }

    // ---- copies ----

    void copyToDevice(long dst, MemorySegment src, long bytes) {
        if (bytes == 0) return;
        int rc;
        try {
            rc = (int) HTOD_ASYNC.invokeExact(dst, src, bytes, stream);
        } catch (Throwable t) {
            throw new CudaException("cuMemcpyHtoDAsync", t);
        }
        check(rc, "cuMemcpyHtoDAsync(" + bytes + " bytes)");
    }

    void copyToHost(MemorySegment dst, long src, long bytes) {
        if (bytes == 0) return;
        int rc;
        try {
            rc = (int) DTOH_ASYNC.invokeExact(dst, src, bytes, stream);
        } catch (Throwable t) {
            throw new CudaException("cuMemcpyDtoHAsync", t);
        }
        check(rc, "cuMemcpyDtoHAsync(" + bytes + " bytes)");
    }

    /** A synchronous copy from any host memory (a mapped weight file, say). */
    static void copyToDeviceSync(long dst, MemorySegment src, long bytes) {
        int rc;
        try {
            rc = (int) HTOD.invokeExact(dst, src, bytes);
        } catch (Throwable t) {
            throw new CudaException("cuMemcpyHtoD", t);
        }
        check(rc, "cuMemcpyHtoD(" + bytes + " bytes)");
    }

    void synchronize() {
        int rc;
        try {
            rc = (int) SYNC.invokeExact(stream);
        } catch (Throwable t) {
            throw new CudaException("cuStreamSynchronize", t);
        }
        check(rc, "cuStreamSynchronize (a kernel of this step failed)");
    }

    // ---- CUDA graphs: a decode step captured once per batch size, then replayed with one launch ----

    void beginCapture() {
        int rc;
        try {
            rc = (int) BEGIN_CAPTURE.invokeExact(stream, CAPTURE_THREAD_LOCAL);
        } catch (Throwable t) {
            throw new CudaException("cuStreamBeginCapture", t);
        }
        check(rc, "cuStreamBeginCapture");
    }

    /** Ends the capture and instantiates its graph; returns the executable graph's handle. */
    long endCaptureAndInstantiate() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(ADDRESS), e = a.allocate(ADDRESS);
            int rc = (int) END_CAPTURE.invokeExact(stream, g);
            check(rc, "cuStreamEndCapture");
            MemorySegment graph = g.get(ADDRESS, 0);
            try {
                rc = (int) INSTANTIATE.invokeExact(e, graph, 0L);
                check(rc, "cuGraphInstantiate");
            } finally {
                int ignored = (int) GRAPH_DESTROY.invokeExact(graph);
            }
            return e.get(ADDRESS, 0).address();
        } catch (CudaException ex) {
            throw ex;
        } catch (Throwable t) {
            throw new CudaException("ending a stream capture", t);
        }
    }

    /** Ends a capture that failed part way, dropping what it recorded. */
    void abandonCapture() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(ADDRESS);
            int rc = (int) END_CAPTURE.invokeExact(stream, g);
            MemorySegment graph = g.get(ADDRESS, 0);
            if (rc == 0 && graph.address() != 0) {
                int ignored = (int) GRAPH_DESTROY.invokeExact(graph);
            }
        } catch (Throwable t) {
            // the capture is over either way
        }
    }

    void launchGraph(long exec) {
        int rc;
        try {
            rc = (int) GRAPH_LAUNCH.invokeExact(MemorySegment.ofAddress(exec), stream);
        } catch (Throwable t) {
            throw new CudaException("cuGraphLaunch", t);
        }
        check(rc, "cuGraphLaunch");
    }

    static void destroyGraphExec(long exec) {
        try {
            int ignored = (int) GRAPH_EXEC_DESTROY.invokeExact(MemorySegment.ofAddress(exec));
        } catch (Throwable t) {
            throw new CudaException("cuGraphExecDestroy", t);
        }
    }

    /** Page-locked host memory of {@code bytes}; free with {@link #freeHost}. */
    static MemorySegment allocHost(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int rc = (int) HOST_ALLOC.invokeExact(p, bytes, 0);
            check(rc, "cuMemHostAlloc(" + bytes + " bytes)");
            return p.get(ADDRESS, 0).reinterpret(bytes);
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cuMemHostAlloc", t);
        }
    }

    static void freeHost(MemorySegment s) {
        if (s == null) return;
        try {
            int rc = (int) FREE_HOST.invokeExact(s);
        } catch (Throwable t) {
            throw new CudaException("cuMemFreeHost", t);
        }
    }

    static void check(int rc, String what) {
        if (rc != 0) throw new CudaException(what + " failed: " + errorName(rc) + " (" + rc + ")");
    }

    static String errorName(int rc) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int r = (int) ERROR_NAME.invokeExact(rc, p);
            if (r != 0) return "CUDA error";
            return p.get(ADDRESS, 0).reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "CUDA error";
        }
    }

    /** A kernel of a loaded module. */
    record Kernel(String name, long handle) {}
}
