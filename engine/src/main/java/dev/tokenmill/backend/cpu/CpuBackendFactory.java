package dev.tokenmill.backend.cpu;

import dev.tokenmill.EngineConfig;
import dev.tokenmill.backend.Backend;
import dev.tokenmill.backend.BackendFactory;
import dev.tokenmill.backend.BackendOptions;
import dev.tokenmill.kv.BlockPool;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelConfig;
import dev.tokenmill.tensor.GgmlType;
import dev.tokenmill.tensor.nativ.NativeKernels;

import java.util.function.Supplier;

/** The CPU backend: always available. */
public final class CpuBackendFactory implements BackendFactory {
    /** Why the native kernels cannot be used here, or null when they can. */
    private final Supplier<String> nativeUnavailable;

    public CpuBackendFactory() {
        this(NativeKernels::unavailableReason);
    }

    /** With another source of the native kernels' status: tests simulate a library that cannot load. */
    CpuBackendFactory(Supplier<String> nativeUnavailable) {
        this.nativeUnavailable = nativeUnavailable;
    }

    @Override
    public EngineConfig.Device device() { return EngineConfig.Device.CPU; }

    @Override
    public boolean available(StringBuilder why) { return true; }

    @Override
    public Backend open(Model model, BackendOptions o) {
        String unavailable = nativeUnavailable.get();
        if (o.nativeMode() == EngineConfig.NativeMode.REQUIRED && unavailable != null) {
            throw new IllegalArgumentException(model.gguf().path() + ": EngineConfig.nativeKernels = required (-Dtokenmill.native=required), "
                    + "but the native kernels cannot be used: " + unavailable);
        }
        ModelConfig mc = model.config();
        boolean f16 = o.kvType() == EngineConfig.KvType.F16;
        long perBlock = PagedKvCache.bytesPerBlock(mc.nLayers(), o.blockSize(), mc.kvDim(), f16);
        long kvBytes = o.kvCacheBytes() == EngineConfig.AUTO ? o.autoHostKvBytes(perBlock) : o.kvCacheBytes();
        if (kvBytes < perBlock) {
            throw new IllegalArgumentException("EngineConfig.kvCacheBytes = " + kvBytes + " is smaller than one KV block of "
                    + o.blockSize() + " tokens (" + perBlock + " bytes for this model with " + o.kvType() + " KV)");
        }
        int numBlocks = BlockPool.numBlocksFor(kvBytes, perBlock);
        CpuBackendConfig bc = new CpuBackendConfig(o.blockSize(), numBlocks, o.maxBatchTokens(), o.maxSeqs(), o.maxSeqLen(),
                o.preferredLogitRows(), f16 ? GgmlType.F16 : GgmlType.F32, o.threads(), true,
                o.nativeMode() != EngineConfig.NativeMode.OFF && unavailable == null, PackedWeightsCache.defaultDir());
        return new CpuBackend(model, bc);
    }
}
