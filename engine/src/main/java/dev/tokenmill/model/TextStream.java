package dev.tokenmill.model;

/** Turns generated token ids into text as they arrive, holding back incomplete characters. */
public interface TextStream {
    /** Adds one generated token; returns the text that became complete (possibly empty). */
    String accept(int token);

    /** Returns whatever is still held back, at the end of generation. */
    String flush();

    /** Whether this token ends generation (EOS, EOT, ...); the token's text is then not added. */
    boolean isEndOfGeneration(int token);
}
