package dev.tokenmill.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * llama.cpp's {@code llm_tokenizer_bpe_session}: each pre-tokenized word is cut into characters, then the adjacent
 * pair with the lowest merge rank is merged until no ranked pair is left (ties: leftmost first). A final symbol that
 * is no token falls back to one token per byte where the vocabulary has one.
 */
final class BpeEncoder implements FragmentEncoder {
    private final Vocabulary vocab;
    private final PreTokenizer preTokenizer;
    /** Merge rank by the merge line "left right" as stored in {@code tokenizer.ggml.merges}; first occurrence wins. */
    private final Map<String, Integer> ranks;
    private final boolean ignoreMerges;
    private final boolean byteEncode;

    BpeEncoder(Vocabulary vocab, PreTokenizer preTokenizer, Map<String, Integer> ranks, boolean ignoreMerges,
               boolean byteEncode) {
        this.vocab = vocab;
        this.preTokenizer = preTokenizer;
        this.ranks = ranks;
        this.ignoreMerges = ignoreMerges;
        this.byteEncode = byteEncode;
    }

    private record Bigram(int left, int right, String text, int rank) {}

    @Override
    public void encode(String text, IntList out) {
        List<String> words = preTokenizer.split(text);
        for (String word : words) encodeWord(word, out);
    }

    private void encodeWord(String word, IntList out) {
        if (word.isEmpty()) return;
        if (ignoreMerges) {
            int id = vocab.idOf(word);
            if (id >= 0) {
                out.add(id);
                return;
            }
        }
        int n = word.codePointCount(0, word.length());
        int[] start = new int[n];
        int[] len = new int[n];
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0, pos = 0; i < n; i++) {
            start[i] = pos;
            len[i] = Character.charCount(word.codePointAt(pos));
            pos += len[i];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        // llm_bigram_bpe::comparator: lowest rank first, then the smaller left index
        PriorityQueue<Bigram> queue = new PriorityQueue<>(Math.max(1, n), (a, b) -> {
            if (a.rank != b.rank) return Integer.compare(a.rank, b.rank);
            return Integer.compare(a.left, b.left);
        });
        for (int i = 1; i < n; i++) addBigram(word, start, len, i - 1, i, queue);
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            int l = b.left, r = b.right;
            if (len[l] == 0 || len[r] == 0) continue;
            // outdated if either side changed since the pair was queued
            if (len[l] + len[r] != b.text.length() || !word.startsWith(b.text, start[l]) || next[l] != r) continue;
            len[l] += len[r];
            len[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            addBigram(word, start, len, prev[l], l, queue);
            addBigram(word, start, len, l, next[l], queue);
        }
        for (int i = 0; i != -1; i = next[i]) {
            String symbol = word.substring(start[i], start[i] + len[i]);
            int id = vocab.idOf(symbol);
            if (id >= 0) {
                out.add(id);
                continue;
            }
            for (byte b : symbol.getBytes(StandardCharsets.UTF_8)) {
                int t = byteEncode ? singleByteToken(b) : vocab.idOf(Vocabulary.hexByteText(b & 0xFF));
                if (t >= 0) out.add(t);
            }
        }
    }

    /** llama.cpp looks up the one-byte string; only an ASCII byte can be a (valid UTF-8) token text. */
    private int singleByteToken(byte b) {
        return b >= 0 ? vocab.idOf(String.valueOf((char) b)) : -1;
    }

    private void addBigram(String word, int[] start, int[] len, int left, int right, PriorityQueue<Bigram> queue) {
        if (left == -1 || right == -1) return;
        String leftText = word.substring(start[left], start[left] + len[left]);
        String rightText = word.substring(start[right], start[right] + len[right]);
        Integer rank = ranks.get(leftText + ' ' + rightText);
        if (rank == null) return;
        queue.add(new Bigram(left, right, leftText + rightText, rank));
    }
}
