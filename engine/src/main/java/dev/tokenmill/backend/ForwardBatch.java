package dev.tokenmill.backend;

/**
 * One engine step as flat arrays, sized once for the engine's limits and refilled every step (no allocation per
 * step). Token {@code i} of the step has id {@code tokens[i]}, position {@code positions[i]} in its sequence and
 * belongs to sequence slot {@code seqOfToken[i]}; tokens of one sequence are contiguous and in position order.
 * Sequence slot {@code s} attends over its first {@code contextLens[s]} positions (including this step's tokens),
 * stored in the KV blocks {@code blockTables[s][0..]}: position p lives in block {@code blockTables[s][p / blockSize]}
 * at offset {@code p % blockSize}. Logits are wanted for the tokens listed in {@code logitRows[0..nLogits)}; where
 * {@code argmaxOnly[r]} is set, the engine needs only that row's argmax (greedy, no processor, no logprobs), and a
 * backend may return just {@link Logits#argmax(int)} for it instead of the whole row (a GPU saves the copy).
 */
public final class ForwardBatch {
    public final int maxTokens;
    public final int maxSeqs;
    public final int maxBlocksPerSeq;

    public final int[] tokens;
    public final int[] positions;
    public final int[] seqOfToken;
    public int nTokens;

    public final int[][] blockTables; // [maxSeqs][maxBlocksPerSeq]
    public final int[] contextLens;   // [maxSeqs]
    public int nSeqs;

    public final int[] logitRows;     // token indices whose logits are returned, in order
    public final boolean[] argmaxOnly; // [logit row] only the argmax of this row is needed
    public int nLogits;

    public ForwardBatch(int maxTokens, int maxSeqs, int maxBlocksPerSeq) {
        if (maxTokens <= 0 || maxSeqs <= 0 || maxBlocksPerSeq <= 0) {
            throw new IllegalArgumentException("ForwardBatch limits must be positive: tokens " + maxTokens
                    + ", seqs " + maxSeqs + ", blocks per seq " + maxBlocksPerSeq);
        }
        this.maxTokens = maxTokens;
        this.maxSeqs = maxSeqs;
        this.maxBlocksPerSeq = maxBlocksPerSeq;
        tokens = new int[maxTokens];
        positions = new int[maxTokens];
        seqOfToken = new int[maxTokens];
        blockTables = new int[maxSeqs][maxBlocksPerSeq];
        contextLens = new int[maxSeqs];
        logitRows = new int[maxTokens];
        argmaxOnly = new boolean[maxTokens];
    }

    public void clear() {
        nTokens = 0;
        nSeqs = 0;
        nLogits = 0;
    }

    /** Appends one token of sequence slot {@code seq}; returns its row index. */
    public int addToken(int seq, int token, int position, boolean wantLogits) {
        if (nTokens == maxTokens) throw new IllegalStateException("ForwardBatch is full (" + maxTokens + " tokens)");
        int row = nTokens++;
        tokens[row] = token;
        positions[row] = position;
        seqOfToken[row] = seq;
        if (wantLogits) {
            argmaxOnly[nLogits] = false;
            logitRows[nLogits++] = row;
        }
        return row;
    }
}
