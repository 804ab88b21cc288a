package dev.tokenmill.cli;

import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** {@code tokenmill generate}: not yet implemented. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "(not yet implemented)")
final class GenerateCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new Cli.UserException("generate is not implemented yet");
    }
}
