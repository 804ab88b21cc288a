package dev.tokenmill.cli;

import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** {@code tokenmill score}: not yet implemented. */
@Command(name = "score", mixinStandardHelpOptions = true, description = "(not yet implemented)")
final class ScoreCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new Cli.UserException("score is not implemented yet");
    }
}
