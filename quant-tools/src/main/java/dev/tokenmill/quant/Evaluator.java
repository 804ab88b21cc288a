package dev.tokenmill.quant;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.SequenceRunner;

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
     * Runs {@code text.chunks()} chunks. With a base model, the base runs each chunk first and its logits of the
     * scored half are kept (scored tokens times vocabulary floats) for the model's run to compare against.
     */
    static Result run(Model model, Model base, TextChunks text, int threads, Progress progress) {
        int vocab = model.config().vocabSize();
        int first = text.first(), scored = text.scoredPerChunk();
        Perplexity ppl = new Perplexity();
        KlDivergence kld = base == null ? null : new KlDivergence(vocab, text.chunks() * scored);
        float[] baseLogits = base == null ? null : new float[Math.multiplyExact(scored, vocab)];
        try (ChunkRunner runner = new ChunkRunner(model, text.nCtx(), threads);
             ChunkRunner baseRunner = base == null ? null : new ChunkRunner(base, text.nCtx(), threads)) {
            for (int c = 0; c < text.chunks(); c++) {
                long start = System.nanoTime();
                int[] chunk = text.chunk(c);
                if (baseRunner != null) {
                    baseRunner.run(chunk, first, (row, logits, off) -> System.arraycopy(logits, off, baseLogits, row * vocab, vocab));
                    runner.run(chunk, first, (row, logits, off) -> {
                        int target = chunk[first + row + 1];
                        kld.add(baseLogits, row * vocab, logits, off, target);
                        ppl.add(-SequenceRunner.logSoftmaxAt(logits, off, vocab, target));
                    });
                } else {
                    runner.run(chunk, first, (row, logits, off) ->
                            ppl.add(-SequenceRunner.logSoftmaxAt(logits, off, vocab, chunk[first + row + 1])));
                }
                if (progress != null) progress.chunkDone(c, (System.nanoTime() - start) / 1e9, ppl, kld);
            }
        }
        return new Result(ppl, kld);
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
