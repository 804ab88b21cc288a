package dev.tokenmill.backend.cuda;

import dev.tokenmill.EngineConfig;
import dev.tokenmill.backend.BackendContractTest;
import dev.tokenmill.backend.BackendFactory;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The CUDA backend against the backend contract, on the tiny F32 models: the products run on tensor cores in f32
 * accumulation from the uploaded weights and the KV cache is f16 (the GPU has no F32 cache), so logits stay within
 * f16 rounding of the float64 reference; layouts (batch, blocks, prefix cache, preemption) may change cuBLAS's
 * algorithm choice and so the last bits, never more than 1e-3 on logits of a few units. Skipped without a device.
 */
@Tag("gpu")
class CudaBackendContractTest extends BackendContractTest {

    @BeforeEach
    void needsADevice() {
        StringBuilder why = new StringBuilder();
        assumeTrue(new CudaBackendFactory().available(why), "no CUDA device: " + why);
    }

    @Override
    protected BackendFactory factory() {
        return new CudaBackendFactory();
    }

    @Override
    protected double referenceTolerance() {
        return 3e-2;
    }

    @Override
    protected double consistencyTolerance() {
        return 1e-3;
    }

    @Override
    protected EngineConfig.KvType kvType() {
        return EngineConfig.KvType.F16;
    }
}
