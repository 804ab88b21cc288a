package dev.tokenmill.backend.cpu;

import dev.tokenmill.backend.BackendContractTest;
import dev.tokenmill.backend.BackendFactory;

/** The CPU backend against the backend contract: float32 arithmetic, and the same bits however the work is laid out. */
class CpuBackendContractTest extends BackendContractTest {

    @Override
    protected BackendFactory factory() {
        return new CpuBackendFactory();
    }

    /**
     * Float32 against float64 on logits of a few units: each value passes through ~10 chains of float ops of length
     * <= 256, relative error ~1e-6; 2e-4 leaves two orders of magnitude while a wrong rope pair, bias or norm moves
     * logits by 1e-1 or more.
     */
    @Override
    protected double referenceTolerance() {
        return 2e-4;
    }
}
