package dev.tokenmill.sched;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * What one step runs, beside the {@code ForwardBatch} it filled: which sequence sits in each batch slot, which
 * sequence and position each logits row belongs to, and which rows are sampled. One instance is reused by its
 * scheduler every step; read it before the next {@link Scheduler#schedule}.
 *
 * <p>Logits rows come in {@code ForwardBatch.logitRows} order. Every sampled sequence has exactly one row, the one
 * of its last scheduled token; a sequence asking for prompt logits has extra rows for its prompt positions.
 * Without prompt logits, sample {@code i} is logits row {@code i}.
 */
public final class SchedulerOutput {
    final Sequence[] seqs;        // [slot] sequence in ForwardBatch slot
    final int[] slotTokens;       // [slot] tokens scheduled this step
    int numSeqs;

    final Sequence[] rowSeqs;     // [logits row] its sequence
    final int[] rowPositions;     // [logits row] position of the token whose logits the row holds
    int numRows;

    final Sequence[] sampleSeqs;  // [sample] sequence that samples its next token this step
    final int[] sampleRows;       // [sample] its logits row
    int numSamples;

    final ArrayList<Sequence> preempted = new ArrayList<>();
    private final List<Sequence> preemptedView = Collections.unmodifiableList(preempted);
    int numTokens;
    int numPrefillTokens;
    int numCachedTokens;
    boolean awaitingUpdate;

    SchedulerOutput(int maxTokens, int maxSeqs) {
        seqs = new Sequence[maxSeqs];
        slotTokens = new int[maxSeqs];
        rowSeqs = new Sequence[maxTokens];
        rowPositions = new int[maxTokens];
        sampleSeqs = new Sequence[maxSeqs];
        sampleRows = new int[maxSeqs];
    }

    void clear() {
        Arrays.fill(seqs, 0, numSeqs, null);
        Arrays.fill(rowSeqs, 0, numRows, null);
        Arrays.fill(sampleSeqs, 0, numSamples, null);
        numSeqs = 0;
        numRows = 0;
        numSamples = 0;
        numTokens = 0;
        numPrefillTokens = 0;
        numCachedTokens = 0;
        preempted.clear();
    }

    /** Sequences in this step (batch slots {@code 0..numSequences()}). */
    public int numSequences() { return numSeqs; }

    /** The sequence in batch slot {@code slot}. */
    public Sequence sequence(int slot) { return seqs[checkIndex(slot, numSeqs)]; }

    /** Tokens of slot {@code slot} computed this step (1 for a decode, the chunk length for a prefill). */
    public int numScheduledTokens(int slot) { return slotTokens[checkIndex(slot, numSeqs)]; }

    public int numLogitRows() { return numRows; }

    public Sequence logitRowSequence(int row) { return rowSeqs[checkIndex(row, numRows)]; }

    /** Position of the token whose logits row {@code row} holds (the row predicts position + 1). */
    public int logitRowPosition(int row) { return rowPositions[checkIndex(row, numRows)]; }

    /** Sequences that sample a token this step; {@code update} takes one sampled token per sample, in this order. */
    public int numSamples() { return numSamples; }

    public Sequence sampleSequence(int i) { return sampleSeqs[checkIndex(i, numSamples)]; }

    /** The logits row sample {@code i} is drawn from. */
    public int sampleLogitRow(int i) { return sampleRows[checkIndex(i, numSamples)]; }

    /** Sequences preempted while planning this step (they wait at the front of the queue). */
    public List<Sequence> preempted() { return preemptedView; }

    /** Tokens computed this step, over all sequences. */
    public int numTokens() { return numTokens; }

    /** Tokens of this step that are prefill (every token except single-token decodes). */
    public int numPrefillTokens() { return numPrefillTokens; }

    /** Prompt tokens served from the prefix cache for sequences admitted this step. */
    public int numCachedTokens() { return numCachedTokens; }

    public boolean isEmpty() { return numSeqs == 0; }

    private static int checkIndex(int i, int n) {
        if (i < 0 || i >= n) throw new IndexOutOfBoundsException("index " + i + " of " + n);
        return i;
    }
}
