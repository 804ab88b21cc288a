package dev.tokenmill.cli;

import dev.tokenmill.backend.cpu.CpuBackendConfig;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.TextStream;
import dev.tokenmill.tokenizer.StreamingDecoder;
import dev.tokenmill.tokenizer.Tokenizer;

/** Text to ids and back for the score and generate commands, through the model file's own tokenizer. */
final class PromptText {
    private PromptText() {}

    /** Tokenizes as llama.cpp's llama_tokenize(add_special = true, parse_special = true). */
    static int[] encode(Model m, String text) {
        return Tokenizer.fromGguf(m.gguf()).encode(text, true, true);
    }

    /** The streamed text of generated tokens, ending at the vocabulary's end-of-generation tokens. */
    static TextStream textStream(Model m) {
        Tokenizer tokenizer = Tokenizer.fromGguf(m.gguf());
        StreamingDecoder decoder = tokenizer.newStreamingDecoder();
        return new TextStream() {
            @Override public String accept(int token) { return decoder.accept(token); }

            @Override public String flush() { return decoder.flush(); }

            @Override public boolean isEndOfGeneration(int token) { return tokenizer.isEndOfGeneration(token); }
        };
    }

    /**
     * An engine for one sequence of up to {@code maxSeqLen} tokens with llama.cpp's reference setup (F32 KV cache), as
     * the score and generate commands need: their numbers are compared with llama.cpp's.
     */
    static dev.tokenmill.Engine singleSequenceEngine(java.nio.file.Path model, int maxSeqLen, Integer threads) throws java.io.IOException {
        int blockSize = 16;
        long perBlockUpperBound = 0; // the engine sizes the KV cache from maxModelLen when kvCacheBytes is auto
        return dev.tokenmill.Engine.open(model, dev.tokenmill.EngineConfig.builder()
                .maxSeqs(1).maxBatchTokens(Math.min(512, Math.max(1, maxSeqLen))).blockSize(blockSize)
                .kvType(dev.tokenmill.EngineConfig.KvType.F32).maxModelLen(maxSeqLen).prefixCaching(false)
                .threads(threads(threads)).kvCacheBytes(perBlockUpperBound).build());
    }

    static int threads(Integer requested) {
        return Cli.threads(requested, CpuBackendConfig.defaultThreads());
    }
}
