package dev.tokenmill.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The kernels' PTX, compiled from {@code engine/src/main/cuda/*.cu} by {@code scripts/build-ptx.sh} and shipped as
 * resources. Each file begins with {@code // tokenmill-src NAME sha256=HEX} lines naming the sources it was built
 * from, which PtxStalenessTest checks against the sources (so a .cu edited without rebuilding its PTX fails CI).
 */
final class Ptx {
    /** The modules, one per .cu file. */
    static final List<String> MODULES = List.of("embed", "rmsnorm", "rope_kv", "attention", "swiglu", "sampling", "gemv");
    static final String RESOURCE_DIR = "/dev/tokenmill/backend/cuda/ptx/";

    private Ptx() {}

    /** The PTX of {@code module} as NUL-terminated bytes, as cuModuleLoadData wants them. */
    static byte[] load(String module) {
        try (InputStream in = Ptx.class.getResourceAsStream(RESOURCE_DIR + module + ".ptx")) {
            if (in == null) throw new IllegalStateException("no PTX resource " + RESOURCE_DIR + module + ".ptx (run scripts/build-ptx.sh)");
            byte[] b = in.readAllBytes();
            byte[] z = java.util.Arrays.copyOf(b, b.length + 1);
            return z;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The {@code source -> sha256} lines of a PTX header. */
    static Map<String, String> sourceHashes(String ptx) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : ptx.split("\n", 64)) {
            if (!line.startsWith("//")) break;
            String l = line.substring(2).trim();
            if (!l.startsWith("tokenmill-src ")) continue;
            String[] f = l.substring("tokenmill-src ".length()).trim().split("\\s+");
            if (f.length == 2 && f[1].startsWith("sha256=")) out.put(f[0], f[1].substring(7));
        }
        return out;
    }

    /** The architecture named in a PTX header ({@code sm_90}), or null. */
    static String arch(String ptx) {
        String first = ptx.lines().findFirst().orElse("");
        int i = first.indexOf("arch=");
        if (i < 0) return null;
        return first.substring(i + 5).split("\\s+")[0];
    }

    static String text(byte[] ptx) {
        return new String(ptx, StandardCharsets.UTF_8);
    }
}
