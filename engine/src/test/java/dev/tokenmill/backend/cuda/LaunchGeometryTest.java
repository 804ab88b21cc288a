package dev.tokenmill.backend.cuda;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LaunchGeometryTest {
    @Test
    void headSizesRunOnTheSmallestKernelThatHoldsThem() {
        assertThat(LaunchGeometry.attentionKernel(8)).isEqualTo("attention_hd32");
        assertThat(LaunchGeometry.attentionKernel(32)).isEqualTo("attention_hd32");
        assertThat(LaunchGeometry.attentionKernel(64)).isEqualTo("attention_hd64");
        assertThat(LaunchGeometry.attentionKernel(80)).isEqualTo("attention_hd128");
        assertThat(LaunchGeometry.supportedHeadDim(12)).as("16-byte K/V reads need multiples of 8").isFalse();
        assertThat(LaunchGeometry.attentionKernel(128)).isEqualTo("attention_hd128");
        assertThat(LaunchGeometry.supportedHeadDim(256)).isFalse();
        assertThat(LaunchGeometry.supportedHeadDim(7)).isFalse();
        assertThatThrownBy(() -> LaunchGeometry.attentionKernel(256)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void blockSizes() {
        assertThat(LaunchGeometry.ropeBlocks(48)).isEqualTo(6);
        assertThat(LaunchGeometry.ropeBlocks(49)).isEqualTo(7);
        assertThat(LaunchGeometry.ropeBlocks(3)).isEqualTo(1);
        assertThat(LaunchGeometry.swigluKernel(8192)).isEqualTo("swiglu4");
        assertThat(LaunchGeometry.swigluKernel(4862)).isEqualTo("swiglu");
        assertThat(LaunchGeometry.gemv(1, 2048, true)).isTrue();
        assertThat(LaunchGeometry.gemv(4, 8192, true)).isTrue();
        assertThat(LaunchGeometry.gemv(5, 2048, true)).isFalse();
        assertThat(LaunchGeometry.gemv(1, 2044, true)).isFalse();
        assertThat(LaunchGeometry.gemv(1, 2048, false)).as("f32 weights stay on cuBLAS").isFalse();
        assertThat(LaunchGeometry.blocks(1, 256)).isEqualTo(1);
        assertThat(LaunchGeometry.blocks(256, 256)).isEqualTo(1);
        assertThat(LaunchGeometry.blocks(257, 256)).isEqualTo(2);
        assertThat(LaunchGeometry.blocks(8192L * 8192, 256)).isEqualTo(262144);
    }

    @Test
    void kernelConstantsMatchTheSources() throws Exception {
        String attention = Files.readString(Path.of("src/main/cuda/attention.cu"));
        assertThat(attention).contains("#define MAX_ROWS " + StepPlan.MAX_ROWS).contains("#define WARPS " + LaunchGeometry.ATTENTION_THREADS / 32);
        for (int hd : LaunchGeometry.HEAD_DIMS) assertThat(attention).contains("ATTENTION(" + hd + ",");
        assertThat(LaunchGeometry.functionsOf("attention")).hasSize(LaunchGeometry.HEAD_DIMS.size() + 1);
        assertThat(Files.readString(Path.of("src/main/cuda/gemv.cu"))).contains("#define GEMV_MAX_N " + LaunchGeometry.GEMV_MAX_N)
                .contains("#define GEMV_WARPS " + LaunchGeometry.GEMV_ROWS_PER_BLOCK);
        assertThat(Files.readString(Path.of("src/main/cuda/rope_kv.cu"))).contains("#define HEADS_PER_BLOCK " + LaunchGeometry.ROPE_HEADS_PER_BLOCK);
        assertThatThrownBy(() -> LaunchGeometry.functionsOf("nope")).isInstanceOf(IllegalArgumentException.class);
        assertThat(Ptx.MODULES).allSatisfy(m -> assertThat(LaunchGeometry.functionsOf(m)).isNotEmpty());
        assertThat(List.copyOf(Ptx.MODULES)).doesNotHaveDuplicates();
    }
}
