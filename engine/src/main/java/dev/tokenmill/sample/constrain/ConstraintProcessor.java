package dev.tokenmill.sample.constrain;

import dev.tokenmill.sample.LogitsProcessor;
import dev.tokenmill.sample.TokenHistory;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The logits processor of one constrained sequence: masks every token that would leave the constraint's automaton
 * (the cached mask of the current state), allows the end-of-generation tokens only where the output so far is
 * complete, and advances the automaton by each chosen token. It keeps the text it accepted, which is the text the
 * constraint judged (byte for byte), and tells the engine when nothing can follow ({@link #isComplete()}).
 */
public final class ConstraintProcessor implements LogitsProcessor {
    private final Automaton automaton;
    private final int[] endIds;
    private final float[] savedEnd;
    private final ByteArrayOutputStream text = new ByteArrayOutputStream();
    private int state;
    private int tokens;

    ConstraintProcessor(Automaton automaton, int[] endIds) {
        this.automaton = automaton;
        this.endIds = endIds.clone();
        this.savedEnd = new float[endIds.length];
        this.state = automaton.initial;
    }

    @Override
    public void process(TokenHistory generated, float[] logits, int offset, int vocabSize) {
        long[] mask = automaton.mask(state, tokens == 0);
        boolean accepting = automaton.isAccepting(state);
        for (int i = 0; i < endIds.length; i++) savedEnd[i] = endIds[i] < vocabSize ? logits[offset + endIds[i]] : 0f;
        long any = 0;
        int words = Math.min(mask.length, (vocabSize + 63) >>> 6);
        for (int w = 0; w < words; w++) {
            long m = mask[w];
            any |= m;
            if (m == -1L) continue;
            int base = w << 6;
            int end = Math.min(base + 64, vocabSize);
            if (m == 0) {
                Arrays.fill(logits, offset + base, offset + end, Float.NEGATIVE_INFINITY);
                continue;
            }
            for (long off = ~m; off != 0; off &= off - 1) {
                int id = base + Long.numberOfTrailingZeros(off);
                if (id >= end) break;
                logits[offset + id] = Float.NEGATIVE_INFINITY;
            }
        }
        if (words * 64 < vocabSize) Arrays.fill(logits, offset + words * 64, offset + vocabSize, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < endIds.length; i++) {
            if (endIds[i] < vocabSize) logits[offset + endIds[i]] = accepting ? savedEnd[i] : Float.NEGATIVE_INFINITY;
        }
        if (any == 0 && !(accepting && endIds.length > 0)) {
            throw new ConstraintException("no token of the vocabulary can continue the constrained output after "
                    + tokens + " tokens (text so far: " + text() + ")");
        }
    }

    @Override
    public void accept(int token) {
        for (int id : endIds) if (id == token) return; // ends the sequence; not text
        byte[] b = automaton.index.bytesAt(token, tokens);
        int next = b == null ? Automaton.DEAD : automaton.advance(state, b);
        if (next == Automaton.DEAD) {
            throw new ConstraintException("token " + token + " does not continue the constrained output (a bug: it was not masked)");
        }
        state = next;
        tokens++;
        text.write(b, 0, b.length);
    }

    /** Whether the text so far satisfies the constraint (the automaton is in an accepting state). */
    public boolean isAccepting() {
        return automaton.isAccepting(state);
    }

    /** Whether the text is finished: it satisfies the constraint and no token can follow. */
    public boolean isComplete() {
        return automaton.isComplete(state);
    }

    /** The text accepted so far, as the constraint saw it (UTF-8). */
    public String text() {
        return new String(text.toByteArray(), StandardCharsets.UTF_8);
    }
}
