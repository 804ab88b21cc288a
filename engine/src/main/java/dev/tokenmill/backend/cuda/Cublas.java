package dev.tokenmill.backend.cuda;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * cuBLAS through FFM (JCuda's cuBLAS wrapper wants CUDA 12's sonames): one handle on the backend's stream, sharing
 * the primary context JCuda made current, and {@code cublasGemmEx} with f32 accumulation. The library is
 * {@code libcublas.so.13} or {@code .so.12}, found in {@code -Dtokenmill.cublas.path} (a file or folder),
 * {@code LD_LIBRARY_PATH}, {@code /usr/local/cuda*}, then Python environments' {@code nvidia/cu13/lib} and
 * {@code nvidia/cublas/lib}; {@code libcublasLt} beside it is loaded first so that cuBLAS finds it.
 */
final class Cublas implements AutoCloseable {
    static final int OP_N = 0, OP_T = 1;
    static final int R_32F = 0, R_16F = 2, R_16BF = 14;
    static final int COMPUTE_32F = 68;
    static final int GEMM_DEFAULT = -1;
    static final List<String> NAMES = List.of("libcublas.so.13", "libcublas.so.12");

    private final MethodHandle gemmEx, destroy;
    private final MemorySegment handle;
    private final MemorySegment one, zero;
    final Path library;

    /** Bytes of the workspace given to cuBLAS (32 MiB, as NVIDIA advises for Hopper), so a graph capture allocates nothing. */
    static final long WORKSPACE_BYTES = 32L << 20;
    private MethodHandle setWorkspace;

    Cublas(long stream) {
        library = find();
        Arena arena = Arena.ofAuto();
        String lt = library.getFileName().toString().replace("libcublas.", "libcublasLt.");
        Path ltPath = library.resolveSibling(lt);
        if (Files.exists(ltPath)) SymbolLookup.libraryLookup(ltPath, Arena.global());
        SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
        Linker linker = Linker.nativeLinker();
        MethodHandle create = linker.downcallHandle(sym(lib, "cublasCreate_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        MethodHandle setStream = linker.downcallHandle(sym(lib, "cublasSetStream_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        destroy = linker.downcallHandle(sym(lib, "cublasDestroy_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        setWorkspace = linker.downcallHandle(sym(lib, "cublasSetWorkspace_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
        gemmEx = linker.downcallHandle(sym(lib, "cublasGemmEx"), FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS,
                JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS,
                JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        one = arena.allocate(JAVA_FLOAT);
        one.set(JAVA_FLOAT, 0, 1f);
        zero = arena.allocate(JAVA_FLOAT);
        zero.set(JAVA_FLOAT, 0, 0f);
        try {
            MemorySegment p = arena.allocate(ADDRESS);
            check((int) create.invokeExact(p), "cublasCreate");
            handle = p.get(ADDRESS, 0);
            check((int) setStream.invokeExact(handle, MemorySegment.ofAddress(stream)), "cublasSetStream");
        } catch (CudaException e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cuBLAS initialization through " + library, t);
        }
    }

    private static MemorySegment sym(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new CudaException("cuBLAS library has no symbol " + name));
    }

    /** Gives cuBLAS a workspace of {@link #WORKSPACE_BYTES} at device address {@code ptr}. */
    void setWorkspace(long ptr) {
        int rc;
        try {
            rc = (int) setWorkspace.invokeExact(handle, ptr, WORKSPACE_BYTES);
        } catch (Throwable t) {
            throw new CudaException("cublasSetWorkspace", t);
        }
        check(rc, "cublasSetWorkspace");
    }

    /**
     * {@code Y[n, m] (+)= X[n, k] . W[m, k]^T}, all row-major: W a weight matrix of m rows of k elements, X n rows of
     * activations, Y n rows of m outputs; {@code accumulate} adds to Y (the residual stream) instead of overwriting.
     * In cuBLAS's column-major terms: C[m, n] = op_T(A[k, m]) . B[k, n].
     */
    void gemm(long w, int wType, long x, int xType, long y, int yType, int m, int n, int k, boolean accumulate) {
        int rc;
        MemorySegment beta = accumulate ? one : zero; // a local: invokeExact types a conditional argument as Object
        try {
            rc = (int) gemmEx.invokeExact(handle, OP_T, OP_N, m, n, k, one, w, wType, k, x, xType, k,
                    beta, y, yType, m, COMPUTE_32F, GEMM_DEFAULT);
        } catch (Throwable t) {
            throw new CudaException("cublasGemmEx", t);
        }
        if (rc != 0) throw new CudaException("cublasGemmEx(m " + m + ", n " + n + ", k " + k + ") failed with status " + rc);
    }

    private static void check(int rc, String what) {
        if (rc != 0) throw new CudaException(what + " failed with cuBLAS status " + rc);
    }

    @Override
    public void close() {
        try {
            int rc = (int) destroy.invokeExact(handle);
        } catch (Throwable t) {
            throw new CudaException("cublasDestroy", t);
        }
    }

    /** The library to load, searched as the class comment says; throws naming every place looked at. */
    static Path find() {
        List<Path> dirs = new ArrayList<>();
        String configured = System.getProperty("tokenmill.cublas.path");
        if (configured != null && !configured.isBlank()) {
            Path p = Path.of(configured.trim());
            if (Files.isRegularFile(p)) return p;
            dirs.add(p);
        }
        dirs.addAll(searchPath(System.getenv("LD_LIBRARY_PATH")));
        for (Path root : List.of(Path.of("/usr/local"), Path.of("/opt"))) {
            for (Path cuda : glob(root, "cuda*")) {
                dirs.add(cuda.resolve("targets/x86_64-linux/lib"));
                dirs.add(cuda.resolve("lib64"));
            }
        }
        for (Path site : pythonSitePackages()) {
            dirs.add(site.resolve("nvidia/cu13/lib"));
            dirs.add(site.resolve("nvidia/cublas/lib"));
        }
        Path found = firstLibrary(dirs, NAMES);
        if (found == null) {
            throw new CudaException("no cuBLAS library (" + String.join(" or ", NAMES) + ") in -Dtokenmill.cublas.path, "
                    + "LD_LIBRARY_PATH, /usr/local/cuda*, or a Python environment's nvidia/cu13/lib; looked in " + dirs);
        }
        return found;
    }

    /** The first of {@code names} (in order of preference) found in {@code dirs} (in order). */
    static Path firstLibrary(List<Path> dirs, List<String> names) {
        for (String name : names) {
            for (Path d : dirs) {
                Path p = d.resolve(name);
                if (Files.isRegularFile(p)) return p;
            }
        }
        return null;
    }

    static List<Path> searchPath(String value) {
        List<Path> out = new ArrayList<>();
        if (value == null) return out;
        for (String s : value.split(":")) if (!s.isBlank()) out.add(Path.of(s));
        return out;
    }

    private static List<Path> pythonSitePackages() {
        List<Path> out = new ArrayList<>();
        List<Path> prefixes = new ArrayList<>(List.of(Path.of("/usr/local/lib"), Path.of("/usr/lib")));
        for (Path opt : glob(Path.of("/opt"), "*")) prefixes.add(opt.resolve(".venv/lib"));
        for (Path prefix : prefixes) {
            for (Path py : glob(prefix, "python3*")) {
                out.add(py.resolve("site-packages"));
                out.add(py.resolve("dist-packages"));
            }
        }
        return out;
    }

    private static List<Path> glob(Path dir, String pattern) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, pattern)) {
            for (Path p : ds) out.add(p);
        } catch (IOException | RuntimeException e) {
            // an unreadable folder is one place less to look
        }
        out.sort(null);
        return out;
    }
}
