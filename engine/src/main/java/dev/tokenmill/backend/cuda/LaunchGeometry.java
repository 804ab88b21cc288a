package dev.tokenmill.backend.cuda;

import java.util.List;

/** Grid and block sizes of the kernels, and which kernel each module holds; pure arithmetic, tested without a GPU. */
final class LaunchGeometry {
    /**
     * Head-size capacities attention.cu is instantiated for (a warp's lanes hold HD / 32 output elements each); a
     * model's head size runs on the smallest one that holds it, so any multiple of 8 up to 128 is supported.
     */
    static final List<Integer> HEAD_DIMS = List.of(32, 64, 128);
    /** Threads of an attention block: four warps (attention.cu's WARPS). */
    static final int ATTENTION_THREADS = 128;

    private LaunchGeometry() {}

    static boolean supportedHeadDim(int hd) {
        return hd > 0 && hd % 8 == 0 && hd <= HEAD_DIMS.getLast(); // K/V rows are read in 16-byte chunks
    }

    /** The capacity (HD) of the attention kernel that runs head size {@code hd}. */
    static int attentionCapacity(int hd) {
        if (!supportedHeadDim(hd)) throw new IllegalArgumentException("no attention kernel for head size " + hd + " (a multiple of 8, at most 128)");
        for (int c : HEAD_DIMS) if (hd <= c) return c;
        throw new AssertionError(hd);
    }

    static String attentionKernel(int hd) {
        return "attention_hd" + attentionCapacity(hd);
    }

    /** qkv_rope_kv: a warp per head, eight heads (256 threads) a block (rope_kv.cu's HEADS_PER_BLOCK). */
    static final int ROPE_THREADS = 256;
    static final int ROPE_HEADS_PER_BLOCK = ROPE_THREADS / 32;

    /** qkv_rope_kv's grid height for {@code heads} q, k and v heads of a token. */
    static int ropeBlocks(int heads) {
        return Math.ceilDiv(heads, ROPE_HEADS_PER_BLOCK);
    }

    /** swiglu4 (four elements a thread) when the width allows 16-byte loads, else swiglu. */
    static String swigluKernel(int ffn) {
        return ffn % 4 == 0 ? "swiglu4" : "swiglu";
    }

    /** Blocks of {@code perBlock} threads covering {@code total} elements. */
    static int blocks(long total, int perBlock) {
        long b = Math.ceilDiv(total, perBlock);
        if (b > Integer.MAX_VALUE) throw new IllegalArgumentException(total + " elements exceed one launch's grid");
        return (int) b;
    }

    /** Tokens up to which a product runs on gemv.cu instead of cuBLAS (gemv.cu's GEMV_MAX_N). */
    static final int GEMV_MAX_N = 4;
    /** Rows of W per gemv block: a warp each (gemv.cu's GEMV_WARPS). */
    static final int GEMV_ROWS_PER_BLOCK = 8;

    /** Whether gemv.cu takes a product of {@code n} tokens over rows of {@code k} 16-bit elements. */
    static boolean gemv(int n, int k, boolean sixteenBit) {
        return sixteenBit && n <= GEMV_MAX_N && k % 8 == 0;
    }

    /** The kernels each PTX module exports. */
    static List<String> functionsOf(String module) {
        return switch (module) {
            case "embed" -> List.of("embed_gather");
            case "rmsnorm" -> List.of("rmsnorm");
            case "rope_kv" -> List.of("qkv_rope_kv");
            case "attention" -> List.of("attention_hd32", "attention_hd64", "attention_hd128", "attn_combine");
            case "swiglu" -> List.of("swiglu", "swiglu4");
            case "sampling" -> List.of("argmax_rows");
            case "gemv" -> List.of("gemv");
            default -> throw new IllegalArgumentException("unknown PTX module " + module);
        };
    }
}
