package dev.tokenmill.tensor.quant;

import dev.tokenmill.tensor.GgmlType;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which type each tensor of a model gets for a {@link FileType}: a port of llama.cpp's {@code llama_tensor_get_type}
 * (src/llama-quant.cpp) for dense models and the file types of {@link FileType}. 1-D tensors, norms and a few
 * small tables keep their type; the output matrix (or the tied token embedding) gets Q6_K in the quantized mixes
 * other than Q8_0; the _M mixes give attn_v and ffn_down of some layers Q6_K; rows that are not whole blocks fall
 * back to a type whose block fits (Q4_K to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0, else F16).
 *
 * <p>One divergence: where llama.cpp has no fallback (Q8_0, Q4_0, ... on rows that are not a multiple of 32) and
 * stops, this policy falls back to F16 and reports it.
 */
public final class TensorTypePolicy {
    private static final Pattern LAYER = Pattern.compile("^blk\\.(\\d+)\\.");

    /** A tensor as the policy sees it: its name, ggml shape and current type. */
    public record Tensor(String name, long[] shape, GgmlType type) {}

    /** The chosen types in the input order, and one line per tensor that needed a fallback. */
    public record Choice(Map<String, GgmlType> types, List<String> fallbacks) {}

    private enum Category { TOKEN_EMBD, ATTN_Q, ATTN_K, ATTN_V, ATTN_OUTPUT, FFN_UP, FFN_GATE, FFN_DOWN, OUTPUT, OTHER }

    private TensorTypePolicy() {}

    /**
     * Chooses a type for every tensor.
     *
     * @param nLayer the model's block count ({@code {arch}.block_count})
     * @param is70B  llama.cpp's LLM_TYPE_70B (llama, 80 layers, grouped-query attention): attn_v gets Q5_K there
     */
    public static Choice choose(FileType fileType, List<Tensor> tensors, int nLayer, boolean is70B) {
        boolean tied = tensors.stream().noneMatch(t -> t.name().equals("output.weight"));
        int nAttnV = (int) tensors.stream().filter(t -> category(t.name()) == Category.ATTN_V).count();
        // llama.cpp visits tensors in its loader's order (layer number, then name): the attn_v counter follows it
        List<Tensor> visit = new ArrayList<>(tensors);
        visit.sort(Comparator.comparingInt((Tensor t) -> layerOf(t.name())).thenComparing(Tensor::name));
        Map<String, GgmlType> chosen = new LinkedHashMap<>();
        List<String> fallbacks = new ArrayList<>();
        int[] counters = new int[2]; // i_attention_wv, i_ffn_down
        for (Tensor t : visit) {
            chosen.put(t.name(), typeOf(fileType, t, tied, nAttnV, nLayer, is70B, counters, fallbacks));
        }
        Map<String, GgmlType> ordered = new LinkedHashMap<>();
        for (Tensor t : tensors) ordered.put(t.name(), chosen.get(t.name()));
        return new Choice(ordered, fallbacks);
    }

    private static GgmlType typeOf(FileType ft, Tensor t, boolean tied, int nAttnV, int nLayer, boolean is70B,
                                   int[] counters, List<String> fallbacks) {
        if (!allowsQuantization(t.name(), t.shape())) return t.type();
        GgmlType newType = ft.defaultType();
        if (!newType.isQuantized()) return newType;
        Category cat = category(t.name());
        long nx = t.shape()[0];
        if (cat == Category.OUTPUT || (tied && cat == Category.TOKEN_EMBD)) {
            if (nx % newType.blockSize() != 0) newType = GgmlType.Q8_0;
            else if (newType != GgmlType.Q8_0) newType = GgmlType.Q6_K;
        } else if (cat == Category.ATTN_V) {
            int i = counters[0];
            if ((ft == FileType.Q4_K_M || ft == FileType.Q5_K_M) && useMoreBits(i, nAttnV)) newType = GgmlType.Q6_K;
            else if (ft == FileType.Q4_K_S && i < 4) newType = GgmlType.Q5_K;
            if (is70B && newType == GgmlType.Q4_K) newType = GgmlType.Q5_K;
            counters[0]++;
        } else if (cat == Category.FFN_DOWN) {
            int i = counters[1];
            if (ft == FileType.Q4_K_M && useMoreBits(i, nLayer)) newType = GgmlType.Q6_K;
            else if (ft == FileType.Q5_K_M && useMoreBits(i, nLayer)) newType = GgmlType.Q6_K;
            else if (ft == FileType.Q4_K_S && i < nLayer / 8) newType = GgmlType.Q5_K;
            counters[1]++;
        }
        return fallback(t, newType, fallbacks);
    }

    /** tensor_type_fallback: a type whose block divides the row length. */
    private static GgmlType fallback(Tensor t, GgmlType target, List<String> fallbacks) {
        long ncols = t.shape()[0];
        if (ncols % target.blockSize() == 0) return target;
        GgmlType r = switch (target) {
            case Q4_K -> GgmlType.Q5_0;
            case Q5_K -> GgmlType.Q5_1;
            case Q6_K -> GgmlType.Q8_0;
            default -> GgmlType.F16;
        };
        if (ncols % r.blockSize() != 0) r = GgmlType.F16;
        fallbacks.add(t.name() + ": rows of " + ncols + " are not a multiple of " + target.blockSize()
                + " (" + target + "), using " + r);
        return r;
    }

    /** llama.cpp's use_more_bits: the first and last eighth of the layers, and every third one between. */
    static boolean useMoreBits(int iLayer, int nLayers) {
        return iLayer < nLayers / 8 || iLayer >= 7 * nLayers / 8 || (iLayer - nLayers / 8) % 3 == 2;
    }

    /** tensor_allows_quantization: 2-D+ weights other than norms and a few small or special tables. */
    public static boolean allowsQuantization(String name, long[] shape) {
        int nDims = 1;
        for (int i = shape.length - 1; i >= 1; i--) {
            if (shape[i] > 1) {
                nDims = i + 1;
                break;
            }
        }
        if (nDims < 2) return false;
        if (!name.endsWith("weight")) return false;
        for (String s : new String[] {"_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
                "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "time_mix_", "attn_rel_b.weight",
                ".position_embd", ".rel_pos", ".patch_embd", ".patch_merger", "indexer.k_proj.weight",
                "indexer.q_proj.weight"}) {
            if (name.contains(s)) return false;
        }
        return !name.equals("position_embd.weight") && !name.equals("token_types.weight");
    }

    private static Category category(String name) {
        if (name.equals("output.weight")) return Category.OUTPUT;
        if (name.equals("token_embd.weight") || name.equals("per_layer_token_embd.weight")) return Category.TOKEN_EMBD;
        if (name.contains("attn_qkv.weight") || name.contains("attn_kv_b.weight") || name.contains("attn_v.weight")) {
            return Category.ATTN_V;
        }
        if (name.contains("attn_k.weight")) return Category.ATTN_K;
        if (name.contains("attn_q.weight")) return Category.ATTN_Q;
        if (name.contains("attn_output.weight")) return Category.ATTN_OUTPUT;
        if (name.contains("ffn_up")) return Category.FFN_UP;
        if (name.contains("ffn_gate")) return Category.FFN_GATE;
        if (name.contains("ffn_down")) return Category.FFN_DOWN;
        return Category.OTHER;
    }

    private static int layerOf(String name) {
        Matcher m = LAYER.matcher(name);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }
}
