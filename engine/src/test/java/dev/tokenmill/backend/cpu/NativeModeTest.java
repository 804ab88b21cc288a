package dev.tokenmill.backend.cpu;

import dev.tokenmill.Engine;
import dev.tokenmill.EngineConfig;
import dev.tokenmill.EngineConfig.NativeMode;
import dev.tokenmill.backend.Backend;
import dev.tokenmill.backend.BackendOptions;
import dev.tokenmill.backend.ForwardBatch;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelLoader;
import dev.tokenmill.model.TinyModel;
import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.nativ.NativeKernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code EngineConfig.nativeKernels} (and {@code -Dtokenmill.native}): {@code required} opens on the native kernels or
 * fails with the reason, {@code auto} falls back to the Java kernels, {@code off} never uses the native ones.
 */
class NativeModeTest {
    private static final String SIMULATED = "simulated: libtokenmill.so is not on the class path";

    @TempDir Path dir;

    /** A build run with {@code -Dtokenmill.native=required} (CI: the default on Linux x86-64) must have the library. */
    private static void needNativeKernels() {
        if (NativeMode.fromSystemProperty() == NativeMode.REQUIRED) {
            assertThat(NativeKernels.available()).as("tokenmill.native=required, but: %s", NativeKernels.unavailableReason()).isTrue();
        }
        assumeTrue(NativeKernels.available(), "native kernels are not available here: " + NativeKernels.unavailableReason());
    }

    private static BackendOptions options(NativeMode mode) {
        return new BackendOptions(4, 32, 2, 64, 1L << 20, EngineConfig.KvType.F32, 2, mode, -1, 0.5);
    }

    private Model q8Model() throws Exception {
        return ModelLoader.load(TinyModel.llamaQuantizable(41).writeQuantized(dir, GgmlType.Q8_0));
    }

    private static float[] lastLogits(Backend backend) {
        ForwardBatch b = new ForwardBatch(8, 1, 2);
        b.nSeqs = 1;
        b.contextLens[0] = 8;
        b.blockTables[0][1] = 1;
        for (int i = 0; i < 8; i++) b.addToken(0, 3 + 7 * i, i, i == 7);
        return backend.forward(b).copyRow(0);
    }

    @Test
    void theBuildUnderTestHasTheNativeLibraryWhenItIsRequired() {
        assumeTrue(NativeMode.fromSystemProperty() == NativeMode.REQUIRED, "tokenmill.native is not required in this run");
        assertThat(NativeKernels.available()).as("the native kernels must load: %s", NativeKernels.unavailableReason()).isTrue();
        assertThat(NativeKernels.unavailableReason()).isNull();
    }

    @Test
    void requiredOpensOnTheNativeKernelsWhenTheLibraryLoads() throws Exception {
        needNativeKernels();
        try (Model m = q8Model(); Backend backend = new CpuBackendFactory().open(m, options(NativeMode.REQUIRED))) {
            assertThat(backend.kernelPath()).isEqualTo("cpu: native " + NativeKernels.describe()).containsPattern("AVX-512 VNNI|AVX2");
        }
        Path p = dir.resolve("tiny-llama-Q8_0.gguf");
        try (Engine engine = Engine.open(p, EngineConfig.builder().nativeKernels(NativeMode.REQUIRED).threads(1).maxSeqs(2)
                .maxBatchTokens(16).kvCacheBytes(1L << 20).build())) {
            assertThat(engine.config().nativeKernels()).isEqualTo(NativeMode.REQUIRED);
        }
    }

    @Test
    void requiredFailsOpenWithTheReasonWhenTheLibraryCannotLoad() throws Exception {
        try (Model m = q8Model()) {
            assertThatThrownBy(() -> new CpuBackendFactory(() -> SIMULATED).open(m, options(NativeMode.REQUIRED)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(m.gguf().path().toString())
                    .hasMessageContaining("nativeKernels = required")
                    .hasMessageEndingWith("the native kernels cannot be used: " + SIMULATED);
        }
    }

    @Test
    void autoFallsBackToTheJavaKernelsWhenTheLibraryCannotLoad() throws Exception {
        try (Model m = q8Model();
             Backend fallback = new CpuBackendFactory(() -> SIMULATED).open(m, options(NativeMode.AUTO));
             Backend off = new CpuBackendFactory().open(m, options(NativeMode.OFF))) {
            assertThat(fallback.kernelPath()).isIn("cpu: Java Vector API", "cpu: Java scalar");
            assertThat(lastLogits(fallback)).containsExactly(lastLogits(off));
        }
    }

    @Test
    void offRunsTheJavaKernelsEvenWhenTheLibraryLoads() throws Exception {
        needNativeKernels();
        try (Model m = q8Model();
             Backend off = new CpuBackendFactory().open(m, options(NativeMode.OFF));
             Backend auto = new CpuBackendFactory().open(m, options(NativeMode.AUTO));
             CpuBackend java = new CpuBackend(m.config(), m.weights(),
                     new CpuBackendConfig(4, 64, 32, 2, 64, 32, GgmlType.F32, 2, true, false))) {
            assertThat(off.kernelPath()).isIn("cpu: Java Vector API", "cpu: Java scalar");
            assertThat(auto.kernelPath()).startsWith("cpu: native ");
            float[] offLogits = lastLogits(off);
            assertThat(offLogits).containsExactly(lastLogits(java));
            // the native path quantizes activations to 8 bits: it cannot give the Java path's bits
            assertThat(lastLogits(auto)).isNotEqualTo(offLogits);
        }
    }

    @Test
    void theModeParsesAsTheSystemPropertyIsWritten() {
        assertThat(NativeMode.parse(null)).isEqualTo(NativeMode.AUTO);
        assertThat(NativeMode.parse(" Auto ")).isEqualTo(NativeMode.AUTO);
        assertThat(NativeMode.parse("true")).isEqualTo(NativeMode.AUTO);
        assertThat(NativeMode.parse("REQUIRED")).isEqualTo(NativeMode.REQUIRED);
        assertThat(NativeMode.parse("off")).isEqualTo(NativeMode.OFF);
        assertThat(NativeMode.parse("false")).isEqualTo(NativeMode.OFF);
        assertThatThrownBy(() -> NativeMode.parse("yes")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("-Dtokenmill.native must be auto, required or off, got 'yes'");
    }
}
