package dev.tokenmill.sched;

import dev.tokenmill.FinishReason;
import dev.tokenmill.kv.BlockTable;

import java.util.Arrays;

/**
 * One request as the scheduler tracks it: its tokens (prompt, then generated), how many of them have K/V computed,
 * its KV blocks and its state. Created by the engine, handed to {@link Scheduler#add}, read by the engine (sampling
 * state, results) between steps. Only the scheduler changes it.
 *
 * <p>After a preemption the sequence recomputes from scratch: all its tokens (prompt and generated so far) are
 * prefilled again, and generation continues where it stopped.
 */
public final class Sequence {

    public enum State {
        /** Queued, never scheduled. */
        WAITING,
        /** Holds KV blocks and is scheduled every step (decode) or as the budget allows (prefill chunks). */
        RUNNING,
        /** Its blocks were taken back; queued at the front to recompute. */
        PREEMPTED,
        /** Done; see {@link #finishReason()}. */
        FINISHED
    }

    private final String requestId;
    private final SequenceParams params;
    private int[] tokens;
    private int numTokens;
    private int numPromptTokens;
    private int numTruncatedTokens;

    private State state = State.WAITING;
    private FinishReason finishReason;
    private String errorMessage;
    private Object attachment;
    private StopCondition stopCondition;

    // scheduler bookkeeping
    long arrival = -1;
    BlockTable blockTable;
    int numComputedTokens;
    int numCachedPromptTokens = -1;
    int numPreemptions;
    int numScheduledTokens;       // this step's tokens; > 0 while planned
    int nextPromptLogitPosition;  // first prompt position whose logits are still owed (promptLogits only)

    public Sequence(String requestId, int[] promptTokens, SequenceParams params) {
        if (requestId == null) throw new IllegalArgumentException("requestId must not be null");
        if (params == null) throw new IllegalArgumentException("params of request " + requestId + " must not be null");
        this.requestId = requestId;
        this.params = params;
        this.numPromptTokens = promptTokens.length;
        this.numTokens = promptTokens.length;
        this.tokens = Arrays.copyOf(promptTokens, Math.max(16, promptTokens.length + Math.min(params.maxNewTokens(), 256)));
        this.stopCondition = StopCondition.of(params);
    }

    /** Replaces the default stop rule ({@link StopCondition#of} its params); set before it is added to a scheduler. */
    public void setStopCondition(StopCondition condition) {
        if (condition == null) throw new IllegalArgumentException("stop condition of " + requestId + " must not be null");
        this.stopCondition = condition;
    }

    StopCondition stopCondition() { return stopCondition; }

    /** With {@code promptLogits}: no logits rows are owed for prompt positions before {@code position}. */
    public void skipPromptLogitsBefore(int position) {
        nextPromptLogitPosition = Math.max(nextPromptLogitPosition, position);
    }

    public String requestId() { return requestId; }

    public SequenceParams params() { return params; }

    public State state() { return state; }

    public boolean isFinished() { return state == State.FINISHED; }

    /** Why it finished, or null while not finished. */
    public FinishReason finishReason() { return finishReason; }

    /** Why it failed, when {@link #finishReason()} is {@link FinishReason#ERROR}; else null. */
    public String errorMessage() { return errorMessage; }

    /** Prompt tokens (after any left truncation) plus generated tokens. */
    public int numTokens() { return numTokens; }

    public int numPromptTokens() { return numPromptTokens; }

    public int numGeneratedTokens() { return numTokens - numPromptTokens; }

    /** Prompt tokens dropped from the left to fit the context ({@link SequenceParams#truncateLeft()}). */
    public int numTruncatedPromptTokens() { return numTruncatedTokens; }

    /** Token {@code i} of prompt-then-generated. */
    public int tokenAt(int i) {
        if (i < 0 || i >= numTokens) throw new IndexOutOfBoundsException("token " + i + " of a sequence of " + numTokens);
        return tokens[i];
    }

    public int[] promptTokens() { return Arrays.copyOf(tokens, numPromptTokens); }

    public int[] generatedTokens() { return Arrays.copyOfRange(tokens, numPromptTokens, numTokens); }

    /** The last token (the last sampled one once generation started). */
    public int lastToken() { return tokens[numTokens - 1]; }

    /** Tokens whose K/V is in the sequence's blocks. */
    public int numComputedTokens() { return numComputedTokens; }

    /** Prompt tokens served from the prefix cache when first scheduled (0 before). */
    public int numCachedPromptTokens() { return Math.max(0, numCachedPromptTokens); }

    public int numPreemptions() { return numPreemptions; }

    /** Admission order (0, 1, 2, ... in {@link Scheduler#add} order); -1 before admission. */
    public long arrivalOrder() { return arrival; }

    /** The KV blocks it holds; null before {@link Scheduler#add} accepted it. */
    public BlockTable blockTable() { return blockTable; }

    /** Engine state riding along (the request, its future, its sampler), like {@code SelectionKey.attach}. */
    public Object attachment() { return attachment; }

    public void attach(Object value) { this.attachment = value; }

    // ---- changed by the scheduler only ----

    int[] tokenArray() { return tokens; }

    void append(int token) {
        if (numTokens == tokens.length) tokens = Arrays.copyOf(tokens, tokens.length * 2);
        tokens[numTokens++] = token;
    }

    void truncateLeftTo(int keep) {
        int drop = numPromptTokens - keep;
        System.arraycopy(tokens, drop, tokens, 0, keep);
        numPromptTokens = keep;
        numTokens = keep;
        numTruncatedTokens = drop;
    }

    void setState(State s) { this.state = s; }

    void finish(FinishReason reason, String message) {
        this.state = State.FINISHED;
        this.finishReason = reason;
        this.errorMessage = message;
    }

    @Override
    public String toString() {
        return "Sequence[" + requestId + ", " + state + ", tokens " + numTokens + " (prompt " + numPromptTokens
                + "), computed " + numComputedTokens + "]";
    }
}
