package dev.tokenmill.spark;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Seeded short prompts of plain words (plain JDK: the cluster job ships this class). */
final class TestPrompts {
    private static final String[] WORDS = {"the", "cat", "sat", "on", "a", "mat", "while", "rain", "fell", "over", "quiet", "hills"};

    private TestPrompts() {}

    static List<String> words(int n, int seed) {
        List<String> out = new ArrayList<>();
        Random r = new Random(seed);
        for (int i = 0; i < n; i++) {
            StringBuilder sb = new StringBuilder();
            for (int k = 0, len = 2 + r.nextInt(6); k < len; k++) sb.append(k == 0 ? "" : " ").append(WORDS[r.nextInt(WORDS.length)]);
            out.add(sb.toString());
        }
        return out;
    }
}
