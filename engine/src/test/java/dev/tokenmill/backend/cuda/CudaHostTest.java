package dev.tokenmill.backend.cuda;

import dev.tokenmill.EngineConfig;
import dev.tokenmill.backend.BackendFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** What the CUDA backend decides on the host, testable without a GPU. */
class CudaHostTest {
    @TempDir Path dir;

    @Test
    void theFactoryIsRegisteredAndAvailabilityNeverThrows() {
        assertThat(BackendFactory.all()).extracting(BackendFactory::device).contains(EngineConfig.Device.CPU, EngineConfig.Device.CUDA);
        StringBuilder why = new StringBuilder();
        boolean ok = new CudaBackendFactory().available(why);
        if (!ok) assertThat(why).as("a reason is given").isNotEmpty();
        // auto falls back to the CPU where there is no device, with one line saying why
        StringBuilder log = new StringBuilder();
        BackendFactory f = BackendFactory.select(EngineConfig.Device.AUTO, log::append);
        assertThat(f.device()).isEqualTo(ok ? EngineConfig.Device.CUDA : EngineConfig.Device.CPU);
        assertThat(log).isNotEmpty();
    }

    @Test
    void computeTypeFollowsTheMatrices() {
        var F32 = dev.tokenmill.tensor.GgmlType.F32;
        var F16 = dev.tokenmill.tensor.GgmlType.F16;
        var Q8 = dev.tokenmill.tensor.GgmlType.Q8_0;
        var BF16 = dev.tokenmill.tensor.GgmlType.BF16;
        assertThat(CudaBackend.ComputeType.choose(List.of(F32, F32))).isEqualTo(CudaBackend.ComputeType.F32);
        assertThat(CudaBackend.ComputeType.choose(List.of(F16, F16))).isEqualTo(CudaBackend.ComputeType.F16);
        assertThat(CudaBackend.ComputeType.choose(List.of(BF16, BF16))).isEqualTo(CudaBackend.ComputeType.BF16);
        assertThat(CudaBackend.ComputeType.choose(List.of(F16, Q8))).isEqualTo(CudaBackend.ComputeType.BF16);
        assertThat(CudaBackend.ComputeType.choose(List.of(F32, F16))).isEqualTo(CudaBackend.ComputeType.BF16);
    }

    @Test
    void deviceOrdinal() {
        assertThat(DeviceOrdinal.resolve(3)).isEqualTo(3);
        assertThat(DeviceOrdinal.parse("2")).isEqualTo(2);
        assertThat(DeviceOrdinal.parse(" 0 ")).isEqualTo(0);
        assertThat(DeviceOrdinal.parse("gpu0")).isNull();
        assertThat(DeviceOrdinal.parse("")).isNull();
        assertThat(DeviceOrdinal.parse(null)).isNull();
        assertThat(DeviceOrdinal.sparkGpuAddress()).as("no Spark task here").isNull();
        String old = System.getProperty("tokenmill.cuda.device");
        try {
            System.setProperty("tokenmill.cuda.device", "1");
            assertThat(DeviceOrdinal.resolve(-1)).isEqualTo(1);
            System.clearProperty("tokenmill.cuda.device");
            assertThat(DeviceOrdinal.resolve(-1)).isEqualTo(0);
        } finally {
            if (old != null) System.setProperty("tokenmill.cuda.device", old);
        }
    }

    @Test
    void cublasIsSearchedInOrder() throws Exception {
        Path a = Files.createDirectories(dir.resolve("a")), b = Files.createDirectories(dir.resolve("b"));
        Files.writeString(b.resolve("libcublas.so.12"), "");
        assertThat(Cublas.firstLibrary(List.of(a, b), Cublas.NAMES)).isEqualTo(b.resolve("libcublas.so.12"));
        Files.writeString(b.resolve("libcublas.so.13"), "");
        Files.writeString(a.resolve("libcublas.so.13"), "");
        assertThat(Cublas.firstLibrary(List.of(a, b), Cublas.NAMES)).isEqualTo(a.resolve("libcublas.so.13"));
        assertThat(Cublas.firstLibrary(List.of(dir.resolve("none")), Cublas.NAMES)).isNull();
        assertThat(Cublas.searchPath("/x:/y::")).containsExactly(Path.of("/x"), Path.of("/y"));
        assertThat(Cublas.searchPath(null)).isEmpty();
    }
}
