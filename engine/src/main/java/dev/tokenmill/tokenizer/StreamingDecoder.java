package dev.tokenmill.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.IntFunction;

/**
 * Turns generated token ids into text one at a time. A token may carry only part of a UTF-8 character (byte tokens,
 * byte-level BPE pieces); such bytes are held back until the character is complete, so the text returned never ends
 * in half a character. Bytes that can never form a valid character come out as U+FFFD. Each piece is the token's
 * {@link Tokenizer#tokenBytes bytes}, as llama.cpp's {@code token_to_piece} streams them (no space cleaning).
 * Not thread-safe: one decoder per sequence.
 */
public final class StreamingDecoder {
    /** Token id to its bytes (not copied: must not be modified). */
    private final IntFunction<byte[]> pieces;
    private byte[] pending = new byte[16];
    private int pendingLength;

    StreamingDecoder(IntFunction<byte[]> pieces) {
        this.pieces = pieces;
    }

    /** Adds one token; returns the text that became complete (possibly empty). */
    public String accept(int id) {
        byte[] piece = pieces.apply(id);
        if (pendingLength + piece.length > pending.length) {
            pending = Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLength + piece.length));
        }
        System.arraycopy(piece, 0, pending, pendingLength, piece.length);
        pendingLength += piece.length;
        int complete = completePrefix(pending, pendingLength);
        return take(complete);
    }

    /** Returns whatever is held back (an incomplete character becomes U+FFFD) and resets the decoder. */
    public String flush() {
        return take(pendingLength);
    }

    /** Bytes held back because they may be the start of a character. */
    public int pendingBytes() {
        return pendingLength;
    }

    private String take(int n) {
        if (n == 0) return "";
        String s = new String(pending, 0, n, StandardCharsets.UTF_8);
        System.arraycopy(pending, n, pending, 0, pendingLength - n);
        pendingLength -= n;
        return s;
    }

    /**
     * Length of the longest prefix that ends at a character boundary: everything except a trailing sequence that
     * is a valid but unfinished UTF-8 character.
     */
    static int completePrefix(byte[] b, int length) {
        // an unfinished character starts at most 3 bytes before the end
        for (int back = 1; back <= Math.min(3, length); back++) {
            int lead = b[length - back] & 0xFF;
            if ((lead & 0xC0) == 0x80) continue; // continuation byte: look further back
            int need = lead >= 0xF0 && lead <= 0xF4 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 && lead < 0xE0 ? 2 : 1;
            if (lead >= 0xF5) need = 1; // never valid
            if (need > back && plausiblePrefix(b, length - back, back)) return length - back;
            return length;
        }
        return length;
    }

    /** Whether the bytes after the lead can still continue it (second-byte ranges per RFC 3629). */
    private static boolean plausiblePrefix(byte[] b, int start, int count) {
        int lead = b[start] & 0xFF;
        if (count >= 2) {
            int second = b[start + 1] & 0xFF;
            int lo = 0x80, hi = 0xBF;
            if (lead == 0xE0) lo = 0xA0;
            else if (lead == 0xED) hi = 0x9F;
            else if (lead == 0xF0) lo = 0x90;
            else if (lead == 0xF4) hi = 0x8F;
            if (second < lo || second > hi) return false;
        }
        return true;
    }
}
