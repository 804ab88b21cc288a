package dev.tokenmill.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.util.ServiceLoader;

/**
 * The {@code tokenmill} command line. Output contract: JSON on stdout, one object per line; errors on stderr and a
 * non-zero exit status. Commands of other modules (quant-tools) join through {@link CommandProvider}.
 */
@Command(name = "tokenmill", mixinStandardHelpOptions = true, version = "tokenmill 0.1.0",
        description = "Batch LLM inference on GGUF models.",
        subcommands = {TokenizeCommand.class, ScoreCommand.class, GenerateCommand.class, SynthCommand.class, BenchCommand.class})
public final class Main {

    /** Lets other modules add subcommands (registered in META-INF/services). */
    public interface CommandProvider {
        Object command();
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        CommandLine cli = commandLine();
        return cli.execute(args);
    }

    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
        for (CommandProvider p : ServiceLoader.load(CommandProvider.class)) {
            cli.addSubcommand(p.command());
        }
        cli.setExecutionExceptionHandler(Cli::handleError);
        return cli;
    }
}
