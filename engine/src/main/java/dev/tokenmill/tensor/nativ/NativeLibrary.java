package dev.tokenmill.tensor.nativ;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Finds, loads and binds libtokenmill.so (built from src/main/c into the classpath by the Maven build) once.
 * Any failure (another OS or CPU, library not built, CPU without AVX2, {@code -Dtokenmill.native=false}) logs
 * one line and leaves {@link #LOADED} null, so callers use the Java kernels.
 */
final class NativeLibrary {
    private static final Logger LOG = LoggerFactory.getLogger(NativeLibrary.class);
    static final String RESOURCE = "/native/linux-x86_64/libtokenmill.so";

    /** The bound library, or null when the native kernels are off. */
    /** Why the library is not loaded (null when it is). */
    static volatile String unavailableReason;
    static final NativeLibrary LOADED = load();

    final MethodHandle isa;          // int tm_isa(void)
    final MethodHandle setIsa;       // int tm_set_isa(int)
    final MethodHandle packedBytes;  // int64 tm_packed_bytes(int type, int rows, int cols)
    final MethodHandle pack;         // int tm_pack(int type, u8 *w, int rows, int cols, u8 *out, int gFrom, int gTo)
    final MethodHandle quantize;     // int tm_quantize_q8(f32 *x, int batch, int cols, int64 ldx, int blockFrom, int blockTo, i8 *qs, f32 *d, i32 *c4, i32 *c8, f32 *m, i32 *h0, i32 *h1)
    final MethodHandle quantizeHeap; // the same, critical: x may be a heap segment
    final MethodHandle gemmHeap;     // the same as gemm, critical: y may be a heap segment
    final MethodHandle gemm;         // int tm_gemm(int type, u8 *w, int rows, int cols, i8 *xq, f32 *xd, i32 *xc, f32 *xm, i32 *xh0, i32 *xh1, int batch, f32 *y, int64 ldy, int rowFrom, int rowTo)

    private NativeLibrary(SymbolLookup lib) {
        Linker linker = Linker.nativeLinker();
        // Heap arrays (float[]) go to critical downcalls, which may read and write them in place: no copy, no
        // thread-state transition, but the thread holds up safepoints (GC) until the call returns, so callers keep
        // such calls short (split rows). Off-heap arguments use ordinary downcalls, which never delay a safepoint.
        Linker.Option critical = Linker.Option.critical(true);
        isa = linker.downcallHandle(lib.findOrThrow("tm_isa"), FunctionDescriptor.of(JAVA_INT));
        setIsa = linker.downcallHandle(lib.findOrThrow("tm_set_isa"), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        packedBytes = linker.downcallHandle(lib.findOrThrow("tm_packed_bytes"),
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT));
        pack = linker.downcallHandle(lib.findOrThrow("tm_pack"),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        FunctionDescriptor quantizeType = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT,
                JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        quantize = linker.downcallHandle(lib.findOrThrow("tm_quantize_q8"), quantizeType);
        quantizeHeap = linker.downcallHandle(lib.findOrThrow("tm_quantize_q8"), quantizeType, critical);
        FunctionDescriptor gemmType = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT);
        gemm = linker.downcallHandle(lib.findOrThrow("tm_gemm"), gemmType);
        gemmHeap = linker.downcallHandle(lib.findOrThrow("tm_gemm"), gemmType, critical);
    }

    private static NativeLibrary load() {
        String mode = System.getProperty("tokenmill.native", "auto");
        if ("false".equalsIgnoreCase(mode) || "off".equalsIgnoreCase(mode)) {
            unavailableReason = "switched off by -Dtokenmill.native=" + System.getProperty("tokenmill.native");
            LOG.info("native kernels off (-Dtokenmill.native={}); using the Java kernels", System.getProperty("tokenmill.native"));
            return null;
        }
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.startsWith("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            unavailableReason = "no native kernels are built for " + os + " " + arch;
            LOG.debug("no native kernels for {} {}; using the Java kernels", os, arch);
            return null;
        }
        try {
            URL url = NativeLibrary.class.getResource(RESOURCE);
            if (url == null) {
                unavailableReason = RESOURCE + " is not on the class path (gcc missing when the engine was built?)";
                LOG.warn("native kernels not found on the classpath ({}; gcc missing at build time?); using the Java kernels", RESOURCE);
                return null;
            }
            Path path = "file".equals(url.getProtocol()) ? Path.of(url.toURI()) : extract(url);
            NativeLibrary lib = new NativeLibrary(SymbolLookup.libraryLookup(path, Arena.global()));
            int level = (int) lib.isa.invokeExact();
            if (level == 0) {
                unavailableReason = "this CPU lacks AVX2, FMA or F16C";
                LOG.warn("native kernels need AVX2, FMA and F16C, which this CPU lacks; using the Java kernels");
                return null;
            }
            LOG.debug("native kernels loaded from {} ({})", path, level == 2 ? "AVX-512 VNNI" : "AVX2");
            return lib;
        } catch (Throwable t) {
            unavailableReason = "loading failed: " + t;
            LOG.warn("native kernels failed to load ({}); using the Java kernels", t.toString());
            return null;
        }
    }

    /** Copies the library out of a jar into a temporary file, deleted when the JVM exits. */
    private static Path extract(URL url) throws IOException {
        Path tmp = Files.createTempFile("libtokenmill", ".so");
        tmp.toFile().deleteOnExit();
        try (InputStream in = url.openStream()) {
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
        }
        return tmp;
    }
}
