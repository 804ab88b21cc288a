package dev.tokenmill.cli;

import dev.tokenmill.backend.cpu.CpuBackendConfig;
import dev.tokenmill.model.Model;
import dev.tokenmill.tokenizer.StreamingDecoder;
import dev.tokenmill.tokenizer.Tokenizer;

/** Text to ids and back for the score and generate commands. */
final class PromptText {
    private PromptText() {}

    /** Tokenizes as llama.cpp's llama_tokenize(add_special = true, parse_special = true). */
    static int[] encode(Model m, String text) {
        return Tokenizer.fromGguf(m.gguf()).encode(text, true, true);
    }

    /** Streams the text of generated tokens, never half a UTF-8 character. */
    static Detokenizer detokenizer(Model m) {
        Tokenizer tokenizer = Tokenizer.fromGguf(m.gguf());
        StreamingDecoder decoder = tokenizer.newStreamingDecoder();
        return new Detokenizer() {
            @Override
            public String piece(int token) {
                return decoder.accept(token);
            }

            @Override
            public boolean isEndOfGeneration(int token) {
                return tokenizer.isEndOfGeneration(token);
            }
        };
    }

    static int threads(Integer requested) {
        int n = requested == null ? CpuBackendConfig.defaultThreads() : requested;
        if (n < 1) throw new Cli.UserException("--threads must be >= 1, got " + n);
        return n;
    }

    /** The text of each generated token as it arrives, and which tokens end generation. */
    interface Detokenizer {
        String piece(int token);

        boolean isEndOfGeneration(int token);
    }
}
