package dev.tokenmill;

import dev.tokenmill.gguf.GgufValue;
import dev.tokenmill.gguf.GgufWriter;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelLoader;
import dev.tokenmill.model.TinyModel;
import dev.tokenmill.sample.SamplingParams;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The tiny random llama of the model tests (64-token vocabulary, context 256) written with a matching 64-token
 * SentencePiece vocabulary, so that engine tests can use text, stop strings and EOS; plus a one-sequence reference
 * (an engine that runs one request at a time, F32 KV) to compare batched runs against.
 */
final class TinyEngineModel {
    static final int VOCAB = 64;
    static final int CONTEXT = 256;
    static final int EOS = 2;
    /** First id of ordinary text pieces; prompts drawn from here on hold no control tokens. */
    static final int FIRST_TEXT_ID = 3;

    private TinyEngineModel() {}

    /** Writes the model with its vocabulary into {@code dir}. */
    static Path write(Path dir, long seed) throws IOException {
        return write(dir, seed, VOCAB);
    }

    /** As {@link #write(Path, long)} with only the first {@code tokenizerSize} pieces in the tokenizer. */
    static Path write(Path dir, long seed, int tokenizerSize) throws IOException {
        GgufWriter w = TinyModel.llama(seed).writer(null);
        putVocabulary(w, tokenizerSize);
        Path p = dir.resolve("tiny-engine-" + seed + "-" + tokenizerSize + ".gguf");
        w.write(p);
        return p;
    }

    /** {@code <unk> <s> </s>}, then {@code ▁}, a..z, ▁a..▁z and eight punctuation marks: 64 pieces. */
    static void putVocabulary(GgufWriter w, int size) {
        List<String> tokens = new ArrayList<>(List.of("<unk>", "<s>", "</s>", "\u2581"));
        for (char c = 'a'; c <= 'z'; c++) tokens.add(String.valueOf(c));
        for (char c = 'a'; c <= 'z'; c++) tokens.add("\u2581" + c);
        tokens.addAll(List.of(".", ",", "!", "?", "'", "-", ":", ";"));
        if (tokens.size() != VOCAB) throw new AssertionError("vocabulary has " + tokens.size() + " pieces");
        tokens = tokens.subList(0, size);
        float[] scores = new float[size];
        int[] types = new int[size];
        for (int i = 0; i < size; i++) {
            types[i] = i == 0 ? 2 : i < 3 ? 3 : 1; // unknown, control, normal
            scores[i] = -i;
        }
        w.putString("tokenizer.ggml.model", "llama");
        w.put("tokenizer.ggml.tokens", GgufValue.ofStrings(tokens.toArray(String[]::new)));
        w.put("tokenizer.ggml.scores", GgufValue.ofFloats(scores));
        w.put("tokenizer.ggml.token_type", GgufValue.ofInt32s(types));
        w.putUint32("tokenizer.ggml.bos_token_id", 1);
        w.putUint32("tokenizer.ggml.eos_token_id", EOS);
        w.putUint32("tokenizer.ggml.unknown_token_id", 0);
        w.putBool("tokenizer.ggml.add_bos_token", true);
    }

    /** {@code n} seeded random text token ids. */
    static int[] randomPrompt(Random r, int n) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = FIRST_TEXT_ID + r.nextInt(VOCAB - FIRST_TEXT_ID);
        return ids;
    }

    /** An engine config for exact comparisons: F32 KV, 2 threads, the given step limits. */
    static EngineConfig.Builder exactConfig(int maxBatchTokens, int maxSeqs) {
        return EngineConfig.builder().kvType(EngineConfig.KvType.F32).threads(2).maxBatchTokens(maxBatchTokens)
                .maxSeqs(maxSeqs).blockSize(4).kvCacheBytes(256L << 10);
    }

    /** An engine that runs one sequence at a time with F32 KV: the reference of the batching tests. */
    static Engine soloEngine(Path model) throws IOException {
        return Engine.open(model, EngineConfig.builder().kvType(EngineConfig.KvType.F32).threads(1).maxSeqs(1)
                .maxBatchTokens(CONTEXT).blockSize(16).prefixCaching(false).build());
    }

    /** What a one-sequence run generates for these ids (EOS ignored: no end-of-generation check). */
    static int[] reference(Engine solo, int[] prompt, SamplingParams params) {
        Result r = solo.submit(Request.tokens("reference", prompt).sampling(params).ignoreEos(true).build()).join();
        if (r.error() != null) throw new AssertionError(r.error());
        return r.tokenIds();
    }

    static Model load(Path p) throws IOException {
        return ModelLoader.load(p);
    }
}
