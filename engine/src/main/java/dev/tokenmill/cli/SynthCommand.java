package dev.tokenmill.cli;

import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** {@code tokenmill synth}: not yet implemented. */
@Command(name = "synth", mixinStandardHelpOptions = true, description = "(not yet implemented)")
final class SynthCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new Cli.UserException("synth is not implemented yet");
    }
}
