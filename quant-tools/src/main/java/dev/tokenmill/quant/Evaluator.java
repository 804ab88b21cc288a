package dev.tokenmill.quant;

import dev.tokenmill.Engine;
import dev.tokenmill.EngineConfig;
import dev.tokenmill.Request;
import java.io.IOException;
import java.nio.file.Path;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.model.Model;

import java.util.Arrays;

/**
 * The {@code eval} loop: every chunk of a text through the model and, when there is one, through the base model
 * first, with the perplexity (and KL statistics) accumulated over the scored second half of each chunk.
 */
final class Evaluator {
    private Evaluator() {}

    /** Called after each chunk; {@code kld} is null without a base model. */
    interface Progress {
        void chunkDone(int chunk, double seconds, Perplexity ppl, KlDivergence kld);
    }

    /** The perplexity of the model; {@code kld} is null without a base model. */
    record Result(Perplexity ppl, KlDivergence kld) {}

    /**
     * Runs {@code text.chunks()} chunks, each as one engine request from position 0 with an empty context (as
     * llama.cpp's perplexity clears its KV cache per chunk) whose prompt-logits rows of the scored half are handed over.
     * With a base model, the base runs each chunk first and its logits of the scored half are kept (scored tokens
     * times vocabulary floats) for the model's run to compare against. Rows arrive on the engine's compute threads in
     * any order, so each is copied to its slot and the statistics are summed afterwards in position order: the same
     * numbers whatever the threads.
     */
    static Result run(Path model, Path base, int vocab, TextChunks text, int threads, Progress progress) throws IOException {
        int first = text.first(), scored = text.scoredPerChunk();
        Perplexity ppl = new Perplexity();
        KlDivergence kld = base == null ? null : new KlDivergence(vocab, text.chunks() * scored);
        float[] baseLogits = base == null ? null : new float[Math.multiplyExact(scored, vocab)];
        float[] modelLogits = new float[Math.multiplyExact(scored, vocab)];
        try (Engine engine = open(model, text.nCtx(), threads);
             Engine baseEngine = base == null ? null : open(base, text.nCtx(), threads)) {
            for (int c = 0; c < text.chunks(); c++) {
                long start = System.nanoTime();
                int[] chunk = text.chunk(c);
                if (baseEngine != null) runChunk(baseEngine, chunk, first, scored, baseLogits);
                runChunk(engine, chunk, first, scored, modelLogits);
                for (int row = 0; row < scored; row++) {
                    int target = chunk[first + row + 1];
                    if (kld != null) kld.add(baseLogits, row * vocab, modelLogits, row * vocab, target);
                    ppl.add(-logSoftmaxAt(modelLogits, row * vocab, vocab, target));
                }
                if (progress != null) progress.chunkDone(c, (System.nanoTime() - start) / 1e9, ppl, kld);
            }
        }
        return new Result(ppl, kld);
    }

    /** ln softmax(logits[off..off+n))[target], with {@link KlDivergence}'s log-sum-exp: equal models agree exactly. */
    static double logSoftmaxAt(float[] logits, int off, int n, int target) {
        return logits[off + target] - KlDivergence.Softmax.of(logits, off, n).logSumExp();
    }

    /** The rows of positions {@code [first, first + scored)} of {@code chunk}, copied into {@code out}. */
    private static void runChunk(Engine engine, int[] chunk, int first, int scored, float[] out) {
        Request r = Request.tokens("chunk", chunk).greedy(1).ignoreEos(true)
                .promptLogits((pos, logits, off, vocab) -> {
                    int row = pos - first;
                    if (row < scored) System.arraycopy(logits, off, out, row * vocab, vocab);
                }, first).build();
        dev.tokenmill.Result res = engine.submit(r).join();
        if (res.isError()) throw new EvalException("evaluating a chunk failed: " + res.error());
    }

    /** One sequence of a chunk at a time, with llama.cpp's reference setup (F32 KV cache). */
    private static Engine open(Path model, int nCtx, int threads) throws IOException {
        return Engine.open(model, EngineConfig.singleSequence(nCtx).threads(threads).build());
    }

    /** The base model must have the model's vocabulary, token for token, or the distributions cannot be compared. */
    static void checkSameVocabulary(Model model, String modelName, Model base, String baseName) {
        int n = model.config().vocabSize(), nBase = base.config().vocabSize();
        if (n != nBase) {
            throw new EvalException("the base model " + baseName + " has a vocabulary of " + nBase
                    + " tokens, the model " + modelName + " has " + n + "; KL divergence needs the same vocabulary");
        }
        String[] a = tokens(model.gguf()), b = tokens(base.gguf());
        if (a == null || b == null) return; // no tokenizer in one of them: the tokenizer step reports it
        if (!Arrays.equals(a, b)) {
            int i = Arrays.mismatch(a, b);
            throw new EvalException("the base model " + baseName + " has a different vocabulary from the model " + modelName
                    + ": token " + i + " is '" + (i < b.length ? b[i] : "(none)") + "' in the base, '"
                    + (i < a.length ? a[i] : "(none)") + "' in the model; KL divergence needs the same vocabulary");
        }
    }

    private static String[] tokens(GgufFile f) {
        return f.has("tokenizer.ggml.tokens") ? f.getStringArray("tokenizer.ggml.tokens") : null;
    }
}
