package dev.tokenmill.sample;

import java.util.List;

/**
 * How to pick each next token, with llama.cpp's meanings and defaults. {@code temperature == 0} is greedy
 * (argmax after penalties, ties to the lowest id). {@code topK == 0}, {@code topP == 1}, {@code minP == 0},
 * {@code repetitionPenalty == 1} and zero presence/frequency penalties switch the respective step off.
 * Penalties look at the last {@code penaltyLastN} tokens of the sequence (prompt included, as llama.cpp's CLI).
 * A {@code seed} of {@link #RANDOM_SEED} draws a fresh seed; any other seed makes the choice reproducible.
 * Generation ends after {@code maxTokens} tokens, at an end-of-generation token, at one of {@code stopTokenIds},
 * or when the text contains one of {@code stopStrings} (which is cut off).
 */
public record SamplingParams(
        float temperature,
        int topK,
        float topP,
        float minP,
        float repetitionPenalty,
        float presencePenalty,
        float frequencyPenalty,
        int penaltyLastN,
        long seed,
        int maxTokens,
        List<String> stopStrings,
        List<Integer> stopTokenIds) {

    public static final long RANDOM_SEED = -1;

    /**
     * Normalises null lists to empty ones and copies them; values are not checked here, so that a request built from a
     * bad row can still be submitted and fail alone: {@link #validate()} checks them (the engine does, per request).
     */
    public SamplingParams {
        stopStrings = stopStrings == null ? List.of() : java.util.Collections.unmodifiableList(new java.util.ArrayList<>(stopStrings));
        stopTokenIds = stopTokenIds == null ? List.of() : java.util.Collections.unmodifiableList(new java.util.ArrayList<>(stopTokenIds));
    }

    /** Checks every value; an {@link IllegalArgumentException} names the first parameter out of range. */
    public SamplingParams validate() {
        require(Float.isFinite(temperature) && temperature >= 0, "temperature must be >= 0, got " + temperature);
        require(topK >= 0, "topK must be >= 0 (0 = off), got " + topK);
        require(topP > 0 && topP <= 1, "topP must be in (0, 1], got " + topP);
        require(minP >= 0 && minP <= 1, "minP must be in [0, 1], got " + minP);
        require(Float.isFinite(repetitionPenalty) && repetitionPenalty > 0, "repetitionPenalty must be > 0 (1 = off), got " + repetitionPenalty);
        require(Float.isFinite(presencePenalty), "presencePenalty must be finite, got " + presencePenalty);
        require(Float.isFinite(frequencyPenalty), "frequencyPenalty must be finite, got " + frequencyPenalty);
        require(penaltyLastN >= 0, "penaltyLastN must be >= 0, got " + penaltyLastN);
        require(maxTokens >= 1, "maxTokens must be >= 1, got " + maxTokens);
        for (String s : stopStrings) require(s != null && !s.isEmpty(), "stop strings must not be null or empty");
        for (Integer id : stopTokenIds) require(id != null && id >= 0, "stop token ids must be >= 0, got " + id);
        return this;
    }

    /** llama.cpp's defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, no penalties, window 64. */
    public static Builder builder() {
        return new Builder();
    }

    public static SamplingParams defaults() {
        return builder().build();
    }

    /** Argmax decoding of {@code maxTokens} tokens. */
    public static SamplingParams greedy(int maxTokens) {
        return builder().temperature(0).maxTokens(maxTokens).buildUnchecked();
    }

    public boolean isGreedy() {
        return temperature == 0f;
    }

    public boolean hasPenalties() {
        return penaltyLastN > 0 && (repetitionPenalty != 1f || presencePenalty != 0f || frequencyPenalty != 0f);
    }

    public Builder toBuilder() {
        return new Builder().temperature(temperature).topK(topK).topP(topP).minP(minP).repetitionPenalty(repetitionPenalty)
                .presencePenalty(presencePenalty).frequencyPenalty(frequencyPenalty).penaltyLastN(penaltyLastN).seed(seed)
                .maxTokens(maxTokens).stopStrings(stopStrings).stopTokenIds(stopTokenIds);
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException("invalid sampling parameter: " + message);
    }

    /** Mutable builder starting from the defaults; {@link #build()} validates. */
    public static final class Builder {
        private float temperature = 0.8f;
        private int topK = 40;
        private float topP = 0.95f;
        private float minP = 0.05f;
        private float repetitionPenalty = 1f;
        private float presencePenalty = 0f;
        private float frequencyPenalty = 0f;
        private int penaltyLastN = 64;
        private long seed = RANDOM_SEED;
        private int maxTokens = 256;
        private List<String> stopStrings = List.of();
        private List<Integer> stopTokenIds = List.of();

        private Builder() {}

        public Builder temperature(float v) { temperature = v; return this; }
        public Builder topK(int v) { topK = v; return this; }
        public Builder topP(float v) { topP = v; return this; }
        public Builder minP(float v) { minP = v; return this; }
        public Builder repetitionPenalty(float v) { repetitionPenalty = v; return this; }
        public Builder presencePenalty(float v) { presencePenalty = v; return this; }
        public Builder frequencyPenalty(float v) { frequencyPenalty = v; return this; }
        public Builder penaltyLastN(int v) { penaltyLastN = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder maxTokens(int v) { maxTokens = v; return this; }
        public Builder stopStrings(List<String> v) { stopStrings = v; return this; }
        public Builder stopTokenIds(List<Integer> v) { stopTokenIds = v; return this; }

        /** Builds and {@link SamplingParams#validate() validates}; {@link #buildUnchecked()} leaves that to the engine. */
        public SamplingParams build() {
            return buildUnchecked().validate();
        }

        /** Builds without checking values: a request carrying them fails alone when submitted (per-row options). */
        public SamplingParams buildUnchecked() {
            return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty,
                    penaltyLastN, seed, maxTokens, stopStrings, stopTokenIds);
        }
    }
}
