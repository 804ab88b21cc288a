package dev.tokenmill.sample;

/** A read-only view of the tokens a sequence generated so far. */
public interface TokenHistory {
    int size();

    /** Generated token {@code i}, {@code 0 <= i < size()}. */
    int get(int i);

    /** A copy of all of them. */
    default int[] toArray() {
        int[] out = new int[size()];
        for (int i = 0; i < out.length; i++) out[i] = get(i);
        return out;
    }
}
