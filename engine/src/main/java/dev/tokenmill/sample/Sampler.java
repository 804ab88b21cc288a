package dev.tokenmill.sample;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token of one sequence from its logits: the one sampling pipeline. Penalties, then the
 * {@link LogitsProcessor}s in order, then (llama.cpp's sampler-chain order) top-k, top-p, min-p, temperature and a
 * seeded draw. With temperature 0 it returns the argmax of the processed logits (ties to the lowest id). Feed every
 * token of the sequence (prompt and generated) to {@link #accept(int)} so the penalties see them; the processors
 * are told of generated tokens through {@link #acceptGenerated(int)}. Buffers are sized once for the vocabulary;
 * {@link #sample} allocates nothing.
 */
public final class Sampler {
    private final SamplingParams params;
    private final LogitsProcessor[] processors;
    private final int vocabSize;
    private final SplittableRandom random;
    private final float[] work;   // penalized logits
    private final long[] order;   // candidates as sortable (logit desc, id asc) keys
    private final double[] probs;
    /** Longest penalty window stored; longer windows behave the same on any sequence an engine can hold. */
    static final int MAX_WINDOW = 1 << 20;
    // penalty window: the last penaltyLastN accepted tokens and their counts
    private final int[] window;
    private final int[] counts;
    private int windowLen;
    private int windowHead;

    public Sampler(SamplingParams params, int vocabSize) {
        this(params, vocabSize, java.util.List.of());
    }

    /** A sampler whose pipeline runs {@code processors} after the penalties; see {@link LogitsProcessor}. */
    public Sampler(SamplingParams params, int vocabSize, java.util.List<LogitsProcessor> processors) {
        if (vocabSize <= 0) throw new IllegalArgumentException("vocabSize must be positive, got " + vocabSize);
        params.validate();
        this.params = params;
        this.processors = processors.toArray(new LogitsProcessor[0]);
        this.vocabSize = vocabSize;
        long seed = params.seed() == SamplingParams.RANDOM_SEED ? new SplittableRandom().nextLong() : params.seed();
        this.random = new SplittableRandom(seed);
        this.work = new float[vocabSize];
        this.order = new long[vocabSize];
        this.probs = new double[vocabSize];
        // a window longer than any sequence is that sequence: no need to allocate an absurd penaltyLastN
        this.window = new int[Math.max(1, Math.min(params.penaltyLastN(), MAX_WINDOW))];
        this.counts = params.hasPenalties() ? new int[vocabSize] : null;
    }

    public SamplingParams params() { return params; }

    /** Records a token of the sequence for the penalty window. */
    public void accept(int token) {
        if (counts == null) return;
        if (token < 0 || token >= vocabSize) throw new IllegalArgumentException("token " + token + " outside vocabulary of " + vocabSize);
        if (windowLen == window.length) {
            counts[window[windowHead]]--;
            window[windowHead] = token;
            windowHead = (windowHead + 1) % window.length;
        } else {
            window[(windowHead + windowLen) % window.length] = token;
            windowLen++;
        }
        counts[token]++;
    }

    /** The processors' pipeline with no history: for a sampler without processors. */
    public int sample(float[] logits, int off) {
        return sample(logits, off, NO_HISTORY);
    }

    private static final TokenHistory NO_HISTORY = new TokenHistory() {
        @Override public int size() { return 0; }
        @Override public int get(int i) { throw new IndexOutOfBoundsException(i); }
    };

    /**
     * Chooses the next token from {@code logits[off..off+vocabSize)} (not modified); {@code generated} is what the
     * processors see. Fails with {@link IllegalStateException} when the processors masked every token.
     */
    public int sample(float[] logits, int off, TokenHistory generated) {
        System.arraycopy(logits, off, work, 0, vocabSize);
        if (counts != null) applyPenalties();
        for (LogitsProcessor p : processors) p.process(generated, work, 0, vocabSize);
        if (processors.length > 0) requireCandidate();
        if (params.isGreedy()) return argmax(work);

        int n = params.topK() > 0 && params.topK() < vocabSize ? selectTopK(params.topK()) : sortAll();
        if (params.topP() < 1f) n = topP(n);
        if (params.minP() > 0f) n = minP(n);
        // temperature, then softmax and draw
        float temp = params.temperature();
        float max = work[id(order[0])] / temp;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            probs[i] = Math.exp(work[id(order[i])] / temp - max);
            sum += probs[i];
        }
        double u = random.nextDouble() * sum;
        double acc = 0;
        for (int i = 0; i < n; i++) {
            acc += probs[i];
            if (u < acc) return id(order[i]);
        }
        return id(order[n - 1]);
    }

    /** Tells the processors of a token chosen for the sequence (after {@link #accept(int)}). */
    public void acceptGenerated(int token) {
        for (LogitsProcessor p : processors) p.accept(token);
    }

    public boolean hasProcessors() { return processors.length > 0; }

    private void requireCandidate() {
        for (int i = 0; i < vocabSize; i++) if (work[i] > Float.NEGATIVE_INFINITY) return;
        throw new IllegalStateException("the logits processors masked every token of the vocabulary");
    }

    /** All candidates, best first. */
    private int sortAll() {
        for (int i = 0; i < vocabSize; i++) order[i] = key(work[i], i);
        Arrays.sort(order, 0, vocabSize);
        return vocabSize;
    }

    /**
     * The k best candidates, best first, in O(V log k): a max-heap of keys in {@code order[0..k)} keeps the k
     * smallest keys (largest logits) seen so far; the worst of them sits at the root.
     */
    private int selectTopK(int k) {
        for (int i = 0; i < k; i++) {
            order[i] = key(work[i], i);
            siftUp(i);
        }
        for (int i = k; i < vocabSize; i++) {
            long kv = key(work[i], i);
            if (kv < order[0]) {
                order[0] = kv;
                siftDown(k);
            }
        }
        Arrays.sort(order, 0, k);
        return k;
    }

    private void siftUp(int i) {
        long v = order[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (order[parent] >= v) break;
            order[i] = order[parent];
            i = parent;
        }
        order[i] = v;
    }

    private void siftDown(int size) {
        long v = order[0];
        int i = 0;
        while (true) {
            int c = 2 * i + 1;
            if (c >= size) break;
            if (c + 1 < size && order[c + 1] > order[c]) c++;
            if (order[c] <= v) break;
            order[i] = order[c];
            i = c;
        }
        order[i] = v;
    }

    /** As llama_sampler_penalties_apply: repeat penalty scales away from zero, then frequency and presence subtract. */
    private void applyPenalties() {
        float rep = params.repetitionPenalty(), freq = params.frequencyPenalty(), pres = params.presencePenalty();
        for (int i = 0; i < windowLen; i++) {
            int tok = window[(windowHead + i) % window.length];
            int c = counts[tok];
            if (c <= 0) continue;
            // a token repeated in the window is penalized once: mark it done by negating its count
            float l = work[tok];
            l = l <= 0 ? l * rep : l / rep;
            work[tok] = l - (c * freq + pres);
            counts[tok] = -c;
        }
        for (int i = 0; i < windowLen; i++) {
            int tok = window[(windowHead + i) % window.length];
            if (counts[tok] < 0) counts[tok] = -counts[tok];
        }
    }

    /** Smallest prefix of the sorted candidates whose probability reaches topP (at least one token). */
    private int topP(int n) {
        double sum = softmaxSorted(n);
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += probs[i] / sum;
            if (cum >= params.topP()) return i + 1;
        }
        return n;
    }

    /** Candidates whose logit is at least max + ln(minP), i.e. probability at least minP times the best. */
    private int minP(int n) {
        float threshold = work[id(order[0])] + (float) Math.log(params.minP());
        int keep = 1;
        while (keep < n && work[id(order[keep])] >= threshold) keep++;
        return keep;
    }

    private double softmaxSorted(int n) {
        float max = work[id(order[0])];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            probs[i] = Math.exp(work[id(order[i])] - max);
            sum += probs[i];
        }
        return sum;
    }

    /** Index of the largest value, the lowest index among equals. */
    public static int argmax(float[] v) {
        return argmax(v, 0, v.length);
    }

    /** Argmax of {@code v[off..off+n)} relative to {@code off}, ties to the lowest index. */
    public static int argmax(float[] v, int off, int n) {
        int best = 0;
        float bv = v[off];
        for (int i = 1; i < n; i++) {
            if (v[off + i] > bv) {
                bv = v[off + i];
                best = i;
            }
        }
        return best;
    }

    /** A long that sorts ascending by (logit descending, id ascending). */
    private static long key(float logit, int id) {
        int bits = Float.floatToIntBits(logit);
        int sortable = bits ^ ((bits >> 31) & 0x7fffffff); // monotone in the float's value as a signed int
        return ((long) ~sortable << 32) | (id & 0xffffffffL);
    }

    private static int id(long key) {
        return (int) key;
    }
}
