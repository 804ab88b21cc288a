package dev.tokenmill.model;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The model graphs Tokenmill runs, named as in {@code general.architecture}. They share one decoder-only
 * layer (RMSNorm, GQA attention with RoPE, SwiGLU FFN) and differ only in the flags below.
 */
public enum Architecture {
    /** Llama: rope on adjacent pairs (llama.cpp's LLAMA_ROPE_TYPE_NORM), no biases. */
    LLAMA("llama", false, false, false),
    /** Qwen2: NEOX rope (halves), biases on q/k/v. */
    QWEN2("qwen2", true, true, false),
    /** Qwen3: NEOX rope, per-head RMSNorm on q and k before rope, no biases. */
    QWEN3("qwen3", true, false, true);

    private final String ggufName;
    private final boolean neoxRope;
    private final boolean qkvBias;
    private final boolean qkNorm;

    Architecture(String ggufName, boolean neoxRope, boolean qkvBias, boolean qkNorm) {
        this.ggufName = ggufName;
        this.neoxRope = neoxRope;
        this.qkvBias = qkvBias;
        this.qkNorm = qkNorm;
    }

    /** The value of {@code general.architecture} and the prefix of the hyperparameter keys. */
    public String ggufName() { return ggufName; }

    /** True for NEOX rope (rotate x[i] with x[i + d/2]), false for normal rope (x[2i] with x[2i+1]). */
    public boolean neoxRope() { return neoxRope; }

    /** Whether attn_q/k/v carry bias vectors. */
    public boolean qkvBias() { return qkvBias; }

    /** Whether q and k get a per-head RMSNorm before rope. */
    public boolean qkNorm() { return qkNorm; }

    /** The architecture named {@code name}; throws naming the supported ones otherwise. */
    public static Architecture fromGgufName(String name) {
        for (Architecture a : values()) {
            if (a.ggufName.equals(name.toLowerCase(Locale.ROOT))) return a;
        }
        throw new UnsupportedModelException("general.architecture '" + name + "' is not supported; supported: " + supported());
    }

    static String supported() {
        return Arrays.stream(values()).map(Architecture::ggufName).collect(Collectors.joining(", "));
    }
}
