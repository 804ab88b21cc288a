package dev.tokenmill.cli;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.tokenizer.Tokenizer;
import dev.tokenmill.tokenizer.TokenizerException;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code tokenmill tokenize}: the token ids of a text, as llama.cpp's {@code llama_tokenize} gives them. */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = {"Tokenizes text with the tokenizer of a GGUF model and prints {\"ids\":[...]} on one line.",
                "By default BOS/EOS are added as the model asks and special-token text (e.g. <|im_start|>) is parsed.",
                PromptSource.HELP})
final class TokenizeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "M.gguf", description = "GGUF file holding tokenizer.* metadata")
    Path model;

    @ArgGroup(multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = {"--text", "--prompt"}, paramLabel = "TEXT", description = "the text to tokenize (taken verbatim); - reads standard input")
        String text;

        @Option(names = {"--text-file", "--prompt-file"}, paramLabel = "FILE", description = "read the text from this file (verbatim)")
        Path textFile;
    }

    @Option(names = "--no-special", description = "add no BOS/EOS and treat special-token text as plain text")
    boolean noSpecial;

    /** The JSON line printed. */
    record Output(int[] ids) {}

    @Override
    public Integer call() throws IOException {
        String text = PromptSource.read(input.text, input.textFile, System.in);
        try (GgufFile f = GgufFile.open(model)) {
            Tokenizer tokenizer = Tokenizer.fromGguf(f);
            int[] ids = tokenizer.encode(text, !noSpecial, !noSpecial);
            Cli.printJson(spec.commandLine().getOut(), new Output(ids));
            return 0;
        } catch (TokenizerException e) {
            throw new Cli.UserException(e.getMessage(), e);
        }
    }
}
