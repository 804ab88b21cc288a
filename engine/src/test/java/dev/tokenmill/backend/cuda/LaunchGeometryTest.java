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
        assertThat(LaunchGeometry.attentionKernel(128)).isEqualTo("attention_hd128");
        assertThat(LaunchGeometry.supportedHeadDim(256)).isFalse();
        assertThat(LaunchGeometry.supportedHeadDim(7)).isFalse();
        assertThatThrownBy(() -> LaunchGeometry.attentionKernel(256)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void blockSizes() {
        assertThat(LaunchGeometry.ropeThreads(8)).isEqualTo(32);
        assertThat(LaunchGeometry.ropeThreads(64)).isEqualTo(32);
        assertThat(LaunchGeometry.ropeThreads(128)).isEqualTo(64);
        assertThat(LaunchGeometry.ropeThreads(160)).isEqualTo(96);
        assertThat(LaunchGeometry.blocks(1, 256)).isEqualTo(1);
        assertThat(LaunchGeometry.blocks(256, 256)).isEqualTo(1);
        assertThat(LaunchGeometry.blocks(257, 256)).isEqualTo(2);
        assertThat(LaunchGeometry.blocks(8192L * 8192, 256)).isEqualTo(262144);
    }

    @Test
    void kernelConstantsMatchTheSources() throws Exception {
        String attention = Files.readString(Path.of("src/main/cuda/attention.cu"));
        assertThat(attention).contains("#define MAX_ROWS " + StepPlan.MAX_ROWS).contains("#define WARPS " + LaunchGeometry.ATTENTION_THREADS / 32);
        for (int hd : LaunchGeometry.HEAD_DIMS) assertThat(attention).contains("ATTENTION(" + hd + ")");
        assertThat(LaunchGeometry.functionsOf("attention")).hasSize(LaunchGeometry.HEAD_DIMS.size() + 1);
        assertThatThrownBy(() -> LaunchGeometry.functionsOf("nope")).isInstanceOf(IllegalArgumentException.class);
        assertThat(Ptx.MODULES).allSatisfy(m -> assertThat(LaunchGeometry.functionsOf(m)).isNotEmpty());
        assertThat(List.copyOf(Ptx.MODULES)).doesNotHaveDuplicates();
    }
}
