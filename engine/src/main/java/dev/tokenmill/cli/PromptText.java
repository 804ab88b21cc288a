package dev.tokenmill.cli;

import dev.tokenmill.backend.cpu.CpuBackendConfig;
import dev.tokenmill.model.Model;
import dev.tokenmill.tokenizer.Tokenizer;

/** Text to ids and back for the score and generate commands, through the model file's own tokenizer. */
final class PromptText {
    private PromptText() {}

    /** Tokenizes as llama.cpp's llama_tokenize(add_special = true, parse_special = true). */
    static int[] encode(Model m, String text) {
        return Tokenizer.fromGguf(m.gguf()).encode(text, true, true);
    }

    /** An engine for one sequence of up to {@code maxSeqLen} tokens ({@link dev.tokenmill.EngineConfig#singleSequence}). */
    static dev.tokenmill.Engine singleSequenceEngine(java.nio.file.Path model, int maxSeqLen, Integer threads) throws java.io.IOException {
        return dev.tokenmill.Engine.open(model, dev.tokenmill.EngineConfig.singleSequence(maxSeqLen).threads(threads(threads)).build());
    }

    static int threads(Integer requested) {
        return Cli.threads(requested, CpuBackendConfig.defaultThreads());
    }
}
