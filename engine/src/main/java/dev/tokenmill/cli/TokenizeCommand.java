package dev.tokenmill.cli;

import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** {@code tokenmill tokenize}: not yet implemented. */
@Command(name = "tokenize", mixinStandardHelpOptions = true, description = "(not yet implemented)")
final class TokenizeCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new Cli.UserException("tokenize is not implemented yet");
    }
}
