package dev.tokenmill.backend.cuda;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One device as the backend uses it, through JCuda's driver API: the primary context, one stream, the PTX modules
 * and their kernels, device allocations (all freed by {@link #close}), cuBLAS on the stream, and the FFM launcher.
 * Kernel tests drive single kernels through it.
 */
final class CudaContext implements AutoCloseable {
    private static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    private static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    private static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

    final int ordinal;
    private final CUdevice device = new CUdevice();
    private final CUcontext ctx = new CUcontext();
    private final CUstream stream = new CUstream();
    private final List<CUmodule> modules = new ArrayList<>();
    private final List<CUdeviceptr> allocations = new ArrayList<>();
    private final List<CUevent> events = new ArrayList<>();
    private final Map<String, CudaDriver.Kernel> kernels = new HashMap<>();
    CudaDriver drv;
    Cublas blas;
    String deviceName;
    int sms, ccMajor, ccMinor;
    private boolean closed;

    private CudaContext(int ordinal) {
        this.ordinal = ordinal;
    }

    /** Opens device {@code ordinal}; on failure what was made is released and the exception passed on. */
    static CudaContext open(int ordinal) {
        CudaContext c = new CudaContext(ordinal);
        try {
            c.init();
            return c;
        } catch (RuntimeException | Error e) {
            try {
                c.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private void init() {
        JCudaDriver.setExceptionsEnabled(true);
        JCudaDriver.cuInit(0);
        int[] count = new int[1];
        JCudaDriver.cuDeviceGetCount(count);
        if (ordinal >= count[0]) throw new CudaException("device ordinal " + ordinal + " asked for, the driver sees " + count[0] + " device(s)");
        JCudaDriver.cuDeviceGet(device, ordinal);
        JCudaDriver.cuDevicePrimaryCtxRetain(ctx, device);
        JCudaDriver.cuCtxSetCurrent(ctx);
        byte[] name = new byte[256];
        JCudaDriver.cuDeviceGetName(name, name.length, device);
        int len = 0;
        while (len < name.length && name[len] != 0) len++;
        deviceName = new String(name, 0, len).trim();
        sms = attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        ccMajor = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        ccMinor = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        if (ccMajor < 9) {
            throw new CudaException(deviceName + " has compute capability " + ccMajor + "." + ccMinor
                    + "; the shipped PTX is built for sm_90 (Hopper) and later");
        }
        JCudaDriver.cuStreamCreate(stream, 0);
        long streamAddr = NativePointers.address(stream);
        drv = new CudaDriver(streamAddr);
        blas = new Cublas(streamAddr);
        blas.setWorkspace(alloc(Cublas.WORKSPACE_BYTES));
        for (String m : Ptx.MODULES) {
            CUmodule mod = new CUmodule();
            JCudaDriver.cuModuleLoadData(mod, Ptx.load(m));
            modules.add(mod);
            for (String fn : LaunchGeometry.functionsOf(m)) {
                CUfunction f = new CUfunction();
                JCudaDriver.cuModuleGetFunction(f, mod, fn);
                kernels.put(fn, new CudaDriver.Kernel(fn, NativePointers.address(f)));
            }
        }
    }

    private int attribute(int attr) {
        int[] v = new int[1];
        JCudaDriver.cuDeviceGetAttribute(v, attr, device);
        return v[0];
    }

    CudaDriver.Kernel kernel(String name) {
        CudaDriver.Kernel k = kernels.get(name);
        if (k == null) throw new IllegalArgumentException("no kernel " + name);
        return k;
    }

    /** Makes this context current on the calling thread (the engine loop is not the thread that opened it). */
    void makeCurrent() {
        JCudaDriver.cuCtxSetCurrent(ctx);
    }

    long freeMemory() {
        long[] free = new long[1], total = new long[1];
        JCudaDriver.cuMemGetInfo(free, total);
        return free[0];
    }

    long alloc(long bytes) {
        CUdeviceptr p = new CUdeviceptr();
        JCudaDriver.cuMemAlloc(p, Math.max(bytes, 256));
        allocations.add(p);
        return NativePointers.address(p);
    }

    /** Fills {@code bytes} at {@code ptr} with {@code value} (tests poison outputs with 0xFF: NaN floats). */
    void fill(long ptr, byte value, long bytes) {
        for (CUdeviceptr p : allocations) {
            if (NativePointers.address(p) == ptr) {
                JCudaDriver.cuMemsetD8(p, value, bytes);
                return;
            }
        }
        throw new IllegalArgumentException("fill works on whole allocations of this context");
    }

    long upload(float[] v) {
        if (v == null) return 0;
        long d = alloc(4L * v.length);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(4L * Math.max(1, v.length), 16);
            MemorySegment.copy(v, 0, s, ValueLayout.JAVA_FLOAT, 0, v.length);
            CudaDriver.copyToDeviceSync(d, s, 4L * v.length);
        }
        return d;
    }

    long upload(int[] v) {
        long d = alloc(4L * v.length);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(4L * Math.max(1, v.length), 16);
            MemorySegment.copy(v, 0, s, ValueLayout.JAVA_INT, 0, v.length);
            CudaDriver.copyToDeviceSync(d, s, 4L * v.length);
        }
        return d;
    }

    long upload(short[] v) {
        long d = alloc(2L * v.length);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(2L * Math.max(1, v.length), 16);
            MemorySegment.copy(v, 0, s, ValueLayout.JAVA_SHORT, 0, v.length);
            CudaDriver.copyToDeviceSync(d, s, 2L * v.length);
        }
        return d;
    }

    float[] downloadFloats(long ptr, int n) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(4L * Math.max(1, n), 16);
            drv.copyToHost(s, ptr, 4L * n);
            drv.synchronize();
            return s.asSlice(0, 4L * n).toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    int[] downloadInts(long ptr, int n) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(4L * Math.max(1, n), 16);
            drv.copyToHost(s, ptr, 4L * n);
            drv.synchronize();
            return s.asSlice(0, 4L * n).toArray(ValueLayout.JAVA_INT);
        }
    }

    short[] downloadShorts(long ptr, int n) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(2L * Math.max(1, n), 16);
            drv.copyToHost(s, ptr, 2L * n);
            drv.synchronize();
            return s.asSlice(0, 2L * n).toArray(ValueLayout.JAVA_SHORT);
        }
    }

    /** A new event, destroyed at close. */
    CUevent event() {
        CUevent e = new CUevent();
        JCudaDriver.cuEventCreate(e, 0);
        events.add(e);
        return e;
    }

    CUstream stream() {
        return stream;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        JCudaDriver.setExceptionsEnabled(false);
        try {
            if (NativePointers.address(ctx) != 0) {
                JCudaDriver.cuCtxSetCurrent(ctx);
                JCudaDriver.cuCtxSynchronize();
            }
            if (blas != null) blas.close();
            for (CUdeviceptr p : allocations) JCudaDriver.cuMemFree(p);
            allocations.clear();
            for (CUevent e : events) JCudaDriver.cuEventDestroy(e);
            for (CUmodule m : modules) JCudaDriver.cuModuleUnload(m);
            if (NativePointers.address(stream) != 0) JCudaDriver.cuStreamDestroy(stream);
            if (NativePointers.address(ctx) != 0) JCudaDriver.cuDevicePrimaryCtxRelease(device);
        } finally {
            JCudaDriver.setExceptionsEnabled(true);
        }
    }
}
