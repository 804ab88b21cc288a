package dev.tokenmill;

import dev.tokenmill.sample.LogitsProcessor;
import dev.tokenmill.sample.PromptLogitsSink;
import dev.tokenmill.sample.SamplingParams;
import dev.tokenmill.tokenizer.ChatMessage;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One generation request: an id, exactly one prompt (text, token ids, or chat messages) and how to sample.
 * Build with {@link #text}, {@link #tokens} or {@link #chat}. Options are checked by {@link #validate()} when the
 * request is submitted: a missing prompt or an option out of range fails that request alone, with an error naming
 * the request and the option.
 *
 * @param id              caller's identifier, copied to the {@link Result}; need not be unique
 * @param prompt          prompt text, tokenized with the model's tokenizer (BOS as the model asks, special-token
 *                        text such as {@code <|im_start|>} parsed as those tokens); or null
 * @param promptTokenIds  the prompt as token ids, used as given; or null
 * @param messages        chat messages rendered with the model's {@code tokenizer.chat_template}; or null
 * @param sampling        temperature, top-k/p, min-p, penalties, per-request seed, {@code maxTokens}, stop strings
 *                        and stop token ids
 * @param ignoreEos       keep generating through end-of-generation tokens (EOS, EOT, ...); explicit
 *                        {@code stopTokenIds} still stop
 * @param minTokens       no stop (token or string) ends generation before this many tokens: stop tokens are masked
 *                        out of the sampling until then, and stop strings are only searched for in text generated
 *                        after it
 * @param logprobs        {@link #NO_LOGPROBS}, or return for each generated token its log-probability and the
 *                        {@code logprobs} most likely alternatives (0..{@link #MAX_LOGPROBS})
 * @param promptLogprobs  {@link #NO_LOGPROBS}, or return for each prompt token after the first its log-probability
 *                        given the tokens before it, and the {@code promptLogprobs} most likely alternatives
 * @param truncateLeft    a prompt longer than the context keeps its last tokens instead of failing
 * @param processors      logits processors run on this request's logits after the penalties, in order (see
 *                        {@link LogitsProcessor}); each sequence gets fresh ones from these factories
 * @param timeout         deadline from submission: a request not finished by then ends with finish reason
 *                        {@code timeout} and what it generated so far; null for none
 * @param promptLogits    receives the raw logits row of every prompt position from {@code promptLogitsFrom} on, the
 *                        last one included (see {@link PromptLogitsSink}); null for none
 * @param promptLogitsFrom first prompt position whose row {@code promptLogits} receives (0 = all)
 */
public record Request(String id, String prompt, int[] promptTokenIds, List<ChatMessage> messages, SamplingParams sampling,
                      boolean ignoreEos, int minTokens, int logprobs, int promptLogprobs, boolean truncateLeft,
                      List<LogitsProcessor.Factory> processors, Duration timeout, PromptLogitsSink promptLogits,
                      int promptLogitsFrom) {

    /** For {@code logprobs} and {@code promptLogprobs}: none wanted. */
    public static final int NO_LOGPROBS = -1;
    /** Most alternatives per token that {@code logprobs} and {@code promptLogprobs} may ask for. */
    public static final int MAX_LOGPROBS = 20;

    /**
     * Copies arrays and lists. Values are not checked here but by {@link #validate()}, which {@link Engine#submit}
     * runs: a request built from a bad row (null prompt, NaN temperature, ...) can be submitted and fails alone, with
     * a {@link Result} whose {@code error} says why. Only a null id is refused here (the result needs it).
     */
    public Request {
        if (id == null) throw new RequestException("request id must not be null");
        if (promptTokenIds != null) promptTokenIds = promptTokenIds.clone();
        if (messages != null) messages = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(messages));
        if (processors == null) processors = List.of();
        else processors = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(processors));
    }

    /**
     * Checks everything that does not need the model: exactly one non-empty prompt, sampling values in range,
     * {@code minTokens}, logprob counts, processors, timeout. A {@link RequestException} names the request and the
     * problem.
     */
    public Request validate() {
        int prompts = (prompt != null ? 1 : 0) + (promptTokenIds != null ? 1 : 0) + (messages != null ? 1 : 0);
        if (prompts != 1) {
            throw new RequestException("request " + id + ": exactly one of prompt, promptTokenIds and messages must be set, got "
                    + (prompts == 0 ? "none (null prompt)" : prompts));
        }
        if (prompt != null && prompt.isEmpty()) throw new RequestException("request " + id + ": the prompt is empty");
        if (promptTokenIds != null) {
            if (promptTokenIds.length == 0) throw new RequestException("request " + id + ": promptTokenIds is empty; at least 1 token is needed");
            for (int i = 0; i < promptTokenIds.length; i++) {
                if (promptTokenIds[i] < 0) {
                    throw new RequestException("request " + id + ": promptTokenIds[" + i + "] = " + promptTokenIds[i] + " is negative");
                }
            }
        }
        if (messages != null) {
            if (messages.isEmpty()) throw new RequestException("request " + id + ": messages is empty; at least 1 message is needed");
            for (ChatMessage m : messages) {
                if (m == null) throw new RequestException("request " + id + ": messages must not contain null");
                if (m.role() == null || m.role().isBlank()) throw new RequestException("request " + id + ": a chat message has an empty role");
                if (m.content() == null) {
                    throw new RequestException("request " + id + ": chat message content of role '" + m.role() + "' must not be null");
                }
            }
        }
        if (sampling == null) throw new RequestException("request " + id + ": sampling must not be null");
        try {
            sampling.validate();
        } catch (IllegalArgumentException e) {
            throw new RequestException("request " + id + ": " + e.getMessage());
        }
        if (minTokens < 0 || minTokens > sampling.maxTokens()) {
            throw new RequestException("request " + id + ": minTokens must be in [0, maxTokens = " + sampling.maxTokens()
                    + "], got " + minTokens);
        }
        checkLogprobs(id, "logprobs", logprobs);
        checkLogprobs(id, "promptLogprobs", promptLogprobs);
        for (LogitsProcessor.Factory f : processors) {
            if (f == null) throw new RequestException("request " + id + ": logits processor factories must not be null");
        }
        if (promptLogitsFrom < 0) {
            throw new RequestException("request " + id + ": promptLogitsFrom must be >= 0, got " + promptLogitsFrom);
        }
        if (timeout != null && (timeout.isNegative() || timeout.isZero())) {
            throw new RequestException("request " + id + ": timeout must be positive, got " + timeout);
        }
        return this;
    }

    /** A request for prompt text, with {@link SamplingParams#defaults()} until changed. */
    public static Builder text(String id, String prompt) {
        return new Builder(id).prompt(prompt);
    }

    /** A request for a prompt given as token ids. */
    public static Builder tokens(String id, int... promptTokenIds) {
        return new Builder(id).promptTokenIds(promptTokenIds);
    }

    /** A request for chat messages, rendered with the model's chat template. */
    public static Builder chat(String id, List<ChatMessage> messages) {
        return new Builder(id).messages(messages);
    }

    /** The prompt ids as given (a copy), or null. */
    @Override
    public int[] promptTokenIds() {
        return promptTokenIds == null ? null : promptTokenIds.clone();
    }

    /** The prompt ids without a copy, for the engine. */
    int[] promptTokenIdsUnsafe() {
        return promptTokenIds;
    }

    public boolean wantsLogprobs() { return logprobs != NO_LOGPROBS; }

    public boolean wantsPromptLogprobs() { return promptLogprobs != NO_LOGPROBS; }

    public Builder toBuilder() {
        return new Builder(id).prompt(prompt).promptTokenIds(promptTokenIds).messages(messages).sampling(sampling)
                .ignoreEos(ignoreEos).minTokens(minTokens).logprobs(logprobs).promptLogprobs(promptLogprobs)
                .truncateLeft(truncateLeft).logitsProcessors(processors).timeout(timeout)
                .promptLogits(promptLogits, promptLogitsFrom);
    }

    private static void checkLogprobs(String id, String name, int n) {
        if (n != NO_LOGPROBS && (n < 0 || n > MAX_LOGPROBS)) {
            throw new RequestException("request " + id + ": " + name + " must be " + NO_LOGPROBS + " (none) or in [0, "
                    + MAX_LOGPROBS + "], got " + n);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Request r && id.equals(r.id) && Objects.equals(prompt, r.prompt)
                && Arrays.equals(promptTokenIds, r.promptTokenIds) && Objects.equals(messages, r.messages)
                && sampling.equals(r.sampling) && ignoreEos == r.ignoreEos && minTokens == r.minTokens
                && logprobs == r.logprobs && promptLogprobs == r.promptLogprobs && truncateLeft == r.truncateLeft
                && processors.equals(r.processors) && Objects.equals(timeout, r.timeout)
                && Objects.equals(promptLogits, r.promptLogits) && promptLogitsFrom == r.promptLogitsFrom;
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, prompt, Arrays.hashCode(promptTokenIds), messages, sampling, ignoreEos, minTokens,
                logprobs, promptLogprobs, truncateLeft, processors, timeout, promptLogits, promptLogitsFrom);
    }

    @Override
    public String toString() {
        String p = prompt != null ? "prompt=" + prompt.length() + " chars"
                : promptTokenIds != null ? "promptTokenIds=" + promptTokenIds.length + " ids"
                : messages != null ? "messages=" + messages.size() : "no prompt";
        return "Request[id=" + id + ", " + p + ", sampling=" + sampling + ", ignoreEos=" + ignoreEos + ", minTokens="
                + minTokens + ", logprobs=" + logprobs + ", promptLogprobs=" + promptLogprobs + ", truncateLeft="
                + truncateLeft + (processors.isEmpty() ? "" : ", processors=" + processors.size())
                + (timeout == null ? "" : ", timeout=" + timeout) + "]";
    }

    /** Mutable builder; {@link #build()} validates. */
    public static final class Builder {
        private final String id;
        private String prompt;
        private int[] promptTokenIds;
        private List<ChatMessage> messages;
        private SamplingParams sampling = SamplingParams.defaults();
        private boolean ignoreEos;
        private int minTokens;
        private int logprobs = NO_LOGPROBS;
        private int promptLogprobs = NO_LOGPROBS;
        private boolean truncateLeft;
        private List<LogitsProcessor.Factory> processors = List.of();
        private Duration timeout;
        private PromptLogitsSink promptLogits;
        private int promptLogitsFrom;

        private Builder(String id) {
            this.id = id;
        }

        public Builder prompt(String v) { prompt = v; return this; }
        public Builder promptTokenIds(int... v) { promptTokenIds = v; return this; }
        public Builder messages(List<ChatMessage> v) { messages = v; return this; }
        public Builder sampling(SamplingParams v) { sampling = v; return this; }
        /** Shorthand for {@code sampling(SamplingParams.greedy(maxTokens))}. */
        public Builder greedy(int maxTokens) { sampling = SamplingParams.greedy(maxTokens); return this; }
        public Builder ignoreEos(boolean v) { ignoreEos = v; return this; }
        public Builder minTokens(int v) { minTokens = v; return this; }
        public Builder logprobs(int v) { logprobs = v; return this; }
        public Builder promptLogprobs(int v) { promptLogprobs = v; return this; }
        public Builder truncateLeft(boolean v) { truncateLeft = v; return this; }
        /** Logits processors, run in this order after the penalties (see {@link LogitsProcessor}). */
        public Builder logitsProcessors(List<LogitsProcessor.Factory> v) { processors = v; return this; }
        /** Adds one logits processor after those already set. */
        public Builder logitsProcessor(LogitsProcessor.Factory v) {
            List<LogitsProcessor.Factory> all = new java.util.ArrayList<>(processors);
            all.add(v);
            processors = all;
            return this;
        }
        /** Deadline from submission; the request then ends with finish reason {@code timeout}. */
        public Builder timeout(Duration v) { timeout = v; return this; }
        /** Hands the raw logits row of every prompt position from {@code from} on to {@code sink}. */
        public Builder promptLogits(PromptLogitsSink sink, int from) { promptLogits = sink; promptLogitsFrom = from; return this; }

        /**
         * Builds without checking values (only a null id is refused): the engine checks a request when it is
         * submitted, and a bad one fails alone. Call {@link Request#validate()} to check earlier.
         */
        public Request build() {
            return new Request(id, prompt, promptTokenIds, messages, sampling, ignoreEos, minTokens, logprobs,
                    promptLogprobs, truncateLeft, processors, timeout, promptLogits, promptLogitsFrom);
        }
    }
}
