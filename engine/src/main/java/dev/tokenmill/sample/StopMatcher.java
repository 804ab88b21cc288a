package dev.tokenmill.sample;

import java.util.List;

/**
 * Finds stop strings in text that arrives piece by piece. {@link #push} returns the text that is safe to emit:
 * it holds back a tail that could still become a stop string, and once a stop string is complete it returns
 * the text before it and reports {@link #stopped()}. The stop string itself is never emitted.
 */
public final class StopMatcher {
    private final List<String> stops;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    public StopMatcher(List<String> stops) {
        for (String s : stops) {
            if (s.isEmpty()) throw new IllegalArgumentException("stop strings must not be empty");
        }
        this.stops = List.copyOf(stops);
    }

    public boolean stopped() { return stopped; }

    /** Adds a piece of generated text; returns what may be emitted now (possibly empty). */
    public String push(String piece) {
        if (stopped) return "";
        held.append(piece);
        int first = -1;
        for (String s : stops) {
            int i = held.indexOf(s);
            if (i >= 0 && (first < 0 || i < first)) first = i;
        }
        if (first >= 0) {
            stopped = true;
            String out = held.substring(0, first);
            held.setLength(0);
            return out;
        }
        int keep = longestPartialSuffix();
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    /** The held-back text, to emit when generation ends for another reason. */
    public String flush() {
        if (stopped) return "";
        String out = held.toString();
        held.setLength(0);
        return out;
    }

    /** Length of the longest suffix of the held text that is a proper prefix of some stop string. */
    private int longestPartialSuffix() {
        int best = 0;
        for (String s : stops) {
            for (int len = Math.min(s.length() - 1, held.length()); len > best; len--) {
                if (endsWith(held, s, len)) {
                    best = len;
                    break;
                }
            }
        }
        return best;
    }

    /** Whether the last {@code len} chars of {@code text} equal the first {@code len} of {@code s}. */
    private static boolean endsWith(CharSequence text, String s, int len) {
        int start = text.length() - len;
        for (int i = 0; i < len; i++) {
            if (text.charAt(start + i) != s.charAt(i)) return false;
        }
        return true;
    }
}
