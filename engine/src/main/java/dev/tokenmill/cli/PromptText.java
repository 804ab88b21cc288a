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

    static int threads(Integer requested) {
        return Cli.threads(requested, CpuBackendConfig.defaultThreads());
    }
}
