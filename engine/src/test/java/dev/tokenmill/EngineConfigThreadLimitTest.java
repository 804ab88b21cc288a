package dev.tokenmill;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class EngineConfigThreadLimitTest {
    @Test
    void threadCountsFarAboveTheProcessorsAreRefusedNamingTheOption() {
        int limit = 4 * Runtime.getRuntime().availableProcessors();
        assertThat(EngineConfig.builder().threads(limit).build().threads()).isEqualTo(limit);
        assertThatThrownBy(() -> EngineConfig.builder().threads(limit + 1).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("EngineConfig.threads").hasMessageContaining("[1, " + limit + "]")
                .hasMessageContaining("got " + (limit + 1));
        assertThatThrownBy(() -> EngineConfig.builder().threads(1000 * limit).build()).hasMessageContaining("EngineConfig.threads");
    }
}
