package dev.tokenmill.sample;

import dev.tokenmill.sample.constrain.Constraint;

import java.util.List;

/**
 * How to pick each next token, with llama.cpp's meanings and defaults. {@code temperature == 0} is greedy
 * (argmax after penalties, ties to the lowest id). {@code topK == 0}, {@code topP == 1}, {@code minP == 0},
 * {@code repetitionPenalty == 1} and zero presence/frequency penalties switch the respective step off.
 * Penalties look at the last {@code penaltyLastN} tokens of the sequence (prompt included, as llama.cpp's CLI).
 * A {@code seed} of {@link #RANDOM_SEED} draws a fresh seed; any other seed makes the choice reproducible.
 * Generation ends after {@code maxTokens} tokens, at an end-of-generation token, at one of {@code stopTokenIds},
 * or when the text contains one of {@code stopStrings} (which is cut off).
 *
 * <p>{@code constraint} (null for none) is structured output: a JSON Schema, any JSON object, a regex, a list of
 * choices or a GBNF grammar (see {@link Constraint}). Tokens that would leave it are masked before sampling (after the
 * penalties and the request's own logits processors), end-of-generation tokens are allowed only where the text is
 * complete, and generation stops by itself when nothing can follow. When the finish reason is {@code stop} the text
 * satisfies the constraint; when {@code maxTokens} cuts it short the finish reason is {@code length} and
 * {@code Result.incomplete()} says so. A {@code choice} is scored, not sampled (see {@link Constraint.Choice}). Stop
 * strings cannot be combined with a constraint.
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
        List<Integer> stopTokenIds,
        Constraint constraint) {

    public static final long RANDOM_SEED = -1;

    /** Without a constraint (the form before structured output). */
    public SamplingParams(float temperature, int topK, float topP, float minP, float repetitionPenalty, float presencePenalty,
                          float frequencyPenalty, int penaltyLastN, long seed, int maxTokens, List<String> stopStrings,
                          List<Integer> stopTokenIds) {
        this(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty, penaltyLastN, seed,
                maxTokens, stopStrings, stopTokenIds, null);
    }

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
        if (constraint != null) {
            require(stopStrings.isEmpty(), "stop strings cannot be combined with a " + constraint.kind() + " constraint");
            if (constraint instanceof Constraint.Choice c) {
                require(!c.choices().isEmpty(), "choice needs at least one string");
                require(c.choices().stream().allMatch(x -> x != null && !x.isEmpty()), "choices must not be null or empty");
                require(new java.util.HashSet<>(c.choices()).size() == c.choices().size(), "choices must be distinct");
            }
        }
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
                .maxTokens(maxTokens).stopStrings(stopStrings).stopTokenIds(stopTokenIds).constraint(constraint);
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
        private Constraint constraint;

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
        /** Structured output (null for none); the shorthands below set one kind. */
        public Builder constraint(Constraint v) { constraint = v; return this; }
        /** Output one JSON value valid against this JSON Schema (its JSON text). */
        public Builder jsonSchema(String schema) { return constraint(new Constraint.JsonSchema(schema)); }
        /** Output any JSON object. */
        public Builder jsonObject() { return constraint(new Constraint.JsonObject()); }
        /** Output text the regular expression matches as a whole. */
        public Builder regex(String pattern) { return constraint(new Constraint.Regex(pattern)); }
        /** Output one of these strings, chosen by scoring (the result holds every choice's probability). */
        public Builder choice(List<String> choices) { return constraint(new Constraint.Choice(choices)); }
        /** Output text a GBNF grammar (llama.cpp's format, start rule {@code root}) accepts. */
        public Builder grammar(String gbnf) { return constraint(new Constraint.Grammar(gbnf)); }

        /** Builds and {@link SamplingParams#validate() validates}; {@link #buildUnchecked()} leaves that to the engine. */
        public SamplingParams build() {
            return buildUnchecked().validate();
        }

        /** Builds without checking values: a request carrying them fails alone when submitted (per-row options). */
        public SamplingParams buildUnchecked() {
            return new SamplingParams(temperature, topK, topP, minP, repetitionPenalty, presencePenalty, frequencyPenalty,
                    penaltyLastN, seed, maxTokens, stopStrings, stopTokenIds, constraint);
        }
    }
}
