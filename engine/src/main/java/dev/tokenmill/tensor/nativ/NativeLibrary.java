package dev.tokenmill.tensor.nativ;

import dev.tokenmill.EngineConfig;

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
 * Any failure (another OS or CPU, library not built, CPU without AVX2, {@code -Dtokenmill.native=off}) logs
 * one line and leaves {@link #LOADED} null, with the reason in {@link #UNAVAILABLE_REASON}, so callers use the
 * Java kernels (or, asked for {@code required}, fail with that reason).
 */
final class NativeLibrary {
    private static final Logger LOG = LoggerFactory.getLogger(NativeLibrary.class);
    static final String RESOURCE = "/native/linux-x86_64/libtokenmill.so";

    /** The library bound, or null with the reason why not. */
    record Outcome(NativeLibrary library, String reason) {
        static Outcome unavailable(String reason) {
            return new Outcome(null, reason);
        }
    }

    private static final Outcome OUTCOME = load(System.getProperty("tokenmill.native"), RESOURCE);
    /** The bound library, or null when the native kernels are off or cannot load. */
    static final NativeLibrary LOADED = OUTCOME.library();
    /** Why {@link #LOADED} is null, in words (null when it is not). */
    static final String UNAVAILABLE_REASON = OUTCOME.reason();

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

    /**
     * Loads the library at class path resource {@code resource} unless {@code mode} (the value of
     * {@code -Dtokenmill.native}, parsed as {@code EngineConfig.NativeMode} parses it) switches it off. Logs one line
     * when it does not load; never throws.
     */
    static Outcome load(String mode, String resource) {
        EngineConfig.NativeMode parsed;
        try {
            parsed = EngineConfig.NativeMode.parse(mode);
        } catch (IllegalArgumentException e) {
            LOG.warn("native kernels not loaded: {}", e.getMessage());
            return Outcome.unavailable(e.getMessage());
        }
        if (parsed == EngineConfig.NativeMode.OFF) {
            LOG.info("native kernels off (-Dtokenmill.native={}); using the Java kernels", mode);
            return Outcome.unavailable("switched off by -Dtokenmill.native=" + mode);
        }
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.startsWith("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            LOG.debug("no native kernels for {} {}; using the Java kernels", os, arch);
            return Outcome.unavailable("no native kernels are built for " + os + " " + arch);
        }
        try {
            URL url = NativeLibrary.class.getResource(resource);
            if (url == null) {
                LOG.warn("native kernels not found on the classpath ({}; gcc missing at build time?); using the Java kernels", resource);
                return Outcome.unavailable(resource + " is not on the class path (gcc missing when the engine was built?)");
            }
            Path path = "file".equals(url.getProtocol()) ? Path.of(url.toURI()) : extract(url);
            NativeLibrary lib = new NativeLibrary(SymbolLookup.libraryLookup(path, Arena.global()));
            int level = (int) lib.isa.invokeExact();
            if (level == 0) {
                LOG.warn("native kernels need AVX2, FMA and F16C, which this CPU lacks; using the Java kernels");
                return Outcome.unavailable("this CPU lacks AVX2, FMA or F16C");
            }
            String cap = System.getProperty("tokenmill.isa", "auto").trim().toLowerCase(Locale.ROOT);
            int wanted = switch (cap) {
                case "auto", "", "avx512", "avx512vnni" -> 2;
                case "avx2" -> 1;
                default -> {
                    LOG.warn("-Dtokenmill.isa={} is not one of auto, avx2, avx512; ignored", cap);
                    yield 2;
                }
            };
            if (wanted < level) level = (int) lib.setIsa.invokeExact(wanted);
            LOG.debug("native kernels loaded from {} ({})", path, level == 2 ? "AVX-512 VNNI" : "AVX2");
            return new Outcome(lib, null);
        } catch (Throwable t) {
            LOG.warn("native kernels failed to load ({}); using the Java kernels", t.toString());
            return Outcome.unavailable("loading " + resource + " failed: " + t);
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
