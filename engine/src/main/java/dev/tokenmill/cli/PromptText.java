package dev.tokenmill.cli;

import dev.tokenmill.backend.cpu.CpuBackendConfig;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.TextStream;

/** Text to ids and back for the score and generate commands. */
final class PromptText {
    private PromptText() {}

    /** Tokenizes as llama.cpp's llama_tokenize(add_special = true, parse_special = true). */
    static int[] encode(Model m, String text) {
        throw new Cli.UserException("text input needs the tokenizer, which is not in this build yet; pass --ids");
    }

    /** The streamed text of generated tokens; null while there is no tokenizer. */
    static TextStream textStream(Model m) {
        return null;
    }

    static int threads(Integer requested) {
        int n = requested == null ? CpuBackendConfig.defaultThreads() : requested;
        if (n < 1) throw new Cli.UserException("--threads must be >= 1, got " + n);
        return n;
    }
}
