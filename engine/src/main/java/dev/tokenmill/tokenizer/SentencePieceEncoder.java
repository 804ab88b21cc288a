package dev.tokenmill.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.PriorityQueue;

/**
 * llama.cpp's {@code llm_tokenizer_spm_session}: the text is cut into UTF-8 characters, then the adjacent pair whose
 * concatenation is the vocabulary token with the highest score is merged, again and again (ties: leftmost first).
 * Characters left that are no token come out as byte tokens {@code <0xNN>}. The caller has already replaced spaces
 * by {@code ▁} and added the leading space.
 */
final class SentencePieceEncoder implements FragmentEncoder {
    private final Vocabulary vocab;

    SentencePieceEncoder(Vocabulary vocab) {
        this.vocab = vocab;
    }

    private record Bigram(int left, int right, float score, int size) {}

    @Override
    public void encode(String text, IntList out) {
        int n = text.codePointCount(0, text.length());
        if (n == 0) return;
        int[] start = new int[n];
        int[] len = new int[n]; // in chars; 0 once merged away
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0, pos = 0; i < n; i++) {
            int cpt = text.codePointAt(pos);
            start[i] = pos;
            len[i] = Character.charCount(cpt);
            pos += len[i];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        // std::priority_queue with llm_bigram_spm::comparator: highest score first, then the smaller left index
        PriorityQueue<Bigram> queue = new PriorityQueue<>(Math.max(1, n), (a, b) -> {
            if (a.score != b.score) return Float.compare(b.score, a.score);
            return Integer.compare(a.left, b.left);
        });
        for (int i = 1; i < n; i++) tryAddBigram(text, start, len, i - 1, i, queue);
        while (!queue.isEmpty()) {
            Bigram b = queue.poll();
            int l = b.left, r = b.right;
            // skip if one of the symbols was merged since this pair was queued
            if (len[l] == 0 || len[r] == 0 || len[l] + len[r] != b.size) continue;
            len[l] += len[r];
            len[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            tryAddBigram(text, start, len, prev[l], l, queue);
            tryAddBigram(text, start, len, l, next[l], queue);
        }
        for (int i = 0; i != -1; i = next[i]) resegment(text.substring(start[i], start[i] + len[i]), out);
    }

    private void tryAddBigram(String text, int[] start, int[] len, int left, int right, PriorityQueue<Bigram> queue) {
        if (left == -1 || right == -1) return;
        int size = len[left] + len[right];
        int id = vocab.idOf(text.substring(start[left], start[left] + size));
        if (id < 0) return;
        queue.add(new Bigram(left, right, vocab.score(id), size));
    }

    /**
     * A final symbol is a token, or its bytes. (llama.cpp also consults the pairs it merged, but every merged
     * symbol is a token by construction, so that branch never changes the result.)
     */
    private void resegment(String symbol, IntList out) {
        int id = vocab.idOf(symbol);
        if (id >= 0) {
            out.add(id);
            return;
        }
        for (byte b : symbol.getBytes(StandardCharsets.UTF_8)) out.add(vocab.byteToken(b & 0xFF));
    }
}
