package dev.tokenmill;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What became of one {@link Request}.
 *
 * @param id                 the request's id
 * @param text               the generated text, decoded from {@code tokenIds} without a final stop/EOS token and cut
 *                           before a matched stop string; empty when the model has no tokenizer
 * @param tokenIds           generated token ids, including a stop or end-of-generation token that ended generation
 * @param finishReason       why generation ended
 * @param promptTokens       prompt tokens the model saw (after any left truncation)
 * @param completionTokens   generated tokens ({@code tokenIds.length})
 * @param cachedPromptTokens prompt tokens whose K/V came from the prefix cache instead of being computed
 * @param logprobs           per generated token, when the request asked for {@code logprobs}; else null
 * @param promptLogprobs     per prompt token after the first, when the request asked for {@code promptLogprobs}; else
 *                           null
 * @param timings            where the request's time went
 * @param error              why the request failed, when {@code finishReason} is {@link FinishReason#ERROR}, {@link FinishReason#ABORT}
 *                           or {@link FinishReason#TIMEOUT}; else null
 * @param incomplete         the request had a constraint ({@code SamplingParams.constraint}) and {@code text} does not
 *                           satisfy it: cut short by {@code maxTokens} (finish reason {@code length}), a deadline, an
 *                           abort or an error. Never true with finish reason {@code stop}; always false without a
 *                           constraint
 * @param choiceProbabilities for a {@code choice} constraint, each choice (in the request's order) and its probability
 *                           given the prompt (the product of its tokens' conditional probabilities, normalised over the
 *                           choices); {@code text} is the most probable one. Null otherwise
 */
public record Result(String id, String text, int[] tokenIds, FinishReason finishReason, int promptTokens,
                     int completionTokens, int cachedPromptTokens, List<TokenLogprobs> logprobs,
                     List<TokenLogprobs> promptLogprobs, Timings timings, String error, boolean incomplete,
                     Map<String, Double> choiceProbabilities) {

    /** A token and its natural-log probability under the model (raw logits, before penalties and temperature). */
    public record Logprob(int token, double logprob) {}

    /**
     * The log-probability of one token (generated, or of the prompt) and the most likely alternatives at its
     * position, best first (ties to the lower id); the token itself may be among them.
     */
    public record TokenLogprobs(int token, double logprob, List<Logprob> top) {
        public TokenLogprobs {
            top = List.copyOf(top);
        }
    }

    /**
     * Milliseconds from submission to first scheduling ({@code queueMs}), from then to the first generated token
     * ({@code prefillMs}, recomputation after preemption included), and from the first to the last generated token
     * ({@code decodeMs}).
     */
    public record Timings(double queueMs, double prefillMs, double decodeMs) {}

    public Result {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(finishReason, "finishReason");
        tokenIds = tokenIds.clone();
        if (logprobs != null) logprobs = List.copyOf(logprobs);
        if (promptLogprobs != null) promptLogprobs = List.copyOf(promptLogprobs);
        if (choiceProbabilities != null) choiceProbabilities = Collections.unmodifiableMap(new LinkedHashMap<>(choiceProbabilities));
    }

    /** A result without a constraint (the form before structured output): not incomplete, no choice probabilities. */
    public Result(String id, String text, int[] tokenIds, FinishReason finishReason, int promptTokens, int completionTokens,
                  int cachedPromptTokens, List<TokenLogprobs> logprobs, List<TokenLogprobs> promptLogprobs, Timings timings,
                  String error) {
        this(id, text, tokenIds, finishReason, promptTokens, completionTokens, cachedPromptTokens, logprobs, promptLogprobs,
                timings, error, false, null);
    }

    /** The generated ids (a copy). */
    @Override
    public int[] tokenIds() {
        return tokenIds.clone();
    }

    public boolean isError() {
        return finishReason == FinishReason.ERROR || finishReason == FinishReason.ABORT;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Result r && id.equals(r.id) && text.equals(r.text) && Arrays.equals(tokenIds, r.tokenIds)
                && finishReason == r.finishReason && promptTokens == r.promptTokens
                && completionTokens == r.completionTokens && cachedPromptTokens == r.cachedPromptTokens
                && Objects.equals(logprobs, r.logprobs) && Objects.equals(promptLogprobs, r.promptLogprobs)
                && Objects.equals(timings, r.timings) && Objects.equals(error, r.error) && incomplete == r.incomplete
                && Objects.equals(choiceProbabilities, r.choiceProbabilities);
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, text, Arrays.hashCode(tokenIds), finishReason, promptTokens, completionTokens,
                cachedPromptTokens, logprobs, promptLogprobs, timings, error, incomplete, choiceProbabilities);
    }

    @Override
    public String toString() {
        return "Result[id=" + id + ", finishReason=" + finishReason.wireName() + ", tokens=" + Arrays.toString(tokenIds)
                + ", text=" + text + ", promptTokens=" + promptTokens + ", cachedPromptTokens=" + cachedPromptTokens
                + (incomplete ? ", incomplete" : "") + (choiceProbabilities == null ? "" : ", choices=" + choiceProbabilities)
                + (error == null ? "" : ", error=" + error) + "]";
    }
}
