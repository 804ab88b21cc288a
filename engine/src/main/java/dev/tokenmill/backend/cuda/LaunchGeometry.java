package dev.tokenmill.backend.cuda;

import java.util.List;

/** Grid and block sizes of the kernels, and which kernel each module holds; pure arithmetic, tested without a GPU. */
final class LaunchGeometry {
    /**
     * Head-size capacities attention.cu is instantiated for (a warp's lanes hold HD / 32 output elements each); a
     * model's head size runs on the smallest one that holds it, so any even head size up to 128 is supported.
     */
    static final List<Integer> HEAD_DIMS = List.of(32, 64, 128);
    /** Threads of an attention block: four warps (attention.cu's WARPS). */
    static final int ATTENTION_THREADS = 128;

    private LaunchGeometry() {}

    static boolean supportedHeadDim(int hd) {
        return hd > 0 && hd % 2 == 0 && hd <= HEAD_DIMS.getLast();
    }

    /** The capacity (HD) of the attention kernel that runs head size {@code hd}. */
    static int attentionCapacity(int hd) {
        if (!supportedHeadDim(hd)) throw new IllegalArgumentException("no attention kernel for head size " + hd + " (even, at most 128)");
        for (int c : HEAD_DIMS) if (hd <= c) return c;
        throw new AssertionError(hd);
    }

    static String attentionKernel(int hd) {
        return "attention_hd" + attentionCapacity(hd);
    }

    /** qkv_rope_kv: a thread per pair of a head's elements, at least one warp, at most 1024. */
    static int ropeThreads(int hd) {
        return Math.min(1024, Math.max(32, Math.ceilDiv(hd / 2, 32) * 32));
    }

    /** Blocks of {@code perBlock} threads covering {@code total} elements. */
    static int blocks(long total, int perBlock) {
        long b = Math.ceilDiv(total, perBlock);
        if (b > Integer.MAX_VALUE) throw new IllegalArgumentException(total + " elements exceed one launch's grid");
        return (int) b;
    }

    /** The kernels each PTX module exports. */
    static List<String> functionsOf(String module) {
        return switch (module) {
            case "embed" -> List.of("embed_gather");
            case "rmsnorm" -> List.of("rmsnorm");
            case "rope_kv" -> List.of("qkv_rope_kv");
            case "attention" -> List.of("attention_hd32", "attention_hd64", "attention_hd128", "attn_combine");
            case "swiglu" -> List.of("swiglu");
            case "sampling" -> List.of("argmax_rows");
            default -> throw new IllegalArgumentException("unknown PTX module " + module);
        };
    }
}
