package dev.tokenmill.sched;

import dev.tokenmill.FinishReason;

/**
 * Decides, after each generated token, whether a sequence ends: the one place where stop tokens, stop strings and
 * the token limit are judged ({@link Scheduler#update} asks it for every sampled token; the context limit, a resource
 * of the scheduler's, is checked there after it). Aborts, deadlines and errors are external events: the engine ends
 * those sequences with {@link Scheduler#finish}.
 */
@FunctionalInterface
public interface StopCondition {

    /** Why {@code seq} ends now that {@code token} (already appended) was generated, or null to go on. */
    FinishReason afterToken(Sequence seq, int token);

    /** The default: stop ids once {@code minNewTokens} are generated, then {@code maxNewTokens}. */
    static StopCondition of(SequenceParams p) {
        return (seq, token) -> {
            int generated = seq.numGeneratedTokens();
            if (generated >= p.minNewTokens() && p.isStopToken(token)) return FinishReason.STOP;
            if (generated >= p.maxNewTokens()) return FinishReason.LENGTH;
            return null;
        };
    }
}
