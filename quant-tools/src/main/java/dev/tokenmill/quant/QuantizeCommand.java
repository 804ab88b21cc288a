package dev.tokenmill.quant;

import dev.tokenmill.cli.Cli;
import dev.tokenmill.cli.Main;
import dev.tokenmill.tensor.quant.FileType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code tokenmill quantize IN.gguf OUT.gguf TYPE [--threads N]}: llama-quantize's job in Java. Progress and the
 * per-tensor choices go to stderr; one JSON line with the totals goes to stdout.
 */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Quantize a GGUF model (types and per-tensor mixes as llama-quantize chooses them).")
public final class QuantizeCommand implements Callable<Integer> {

    /** Registers the command with {@code tokenmill}'s CLI. */
    public static final class Provider implements Main.CommandProvider {
        @Override public Object command() { return new QuantizeCommand(); }
    }

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IN.gguf", description = "input model (F32, F16 or BF16 weights): a path or a Hadoop URI")
    String in;

    @Parameters(index = "1", paramLabel = "OUT.gguf", description = "output model: a path or a Hadoop URI")
    String out;

    @Parameters(index = "2", paramLabel = "TYPE", description = "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, "
            + "Q4_K_S, Q4_K_M (Q4_K), Q5_K_S, Q5_K_M (Q5_K), Q6_K")
    String type;

    @Option(names = "--threads", description = "worker threads (default: available processors)")
    Integer threads;

    @Option(names = "--allow-requantize", description = "accept already quantized input tensors")
    boolean allowRequantize;

    @Option(names = {"-q", "--quiet"}, description = "no per-tensor lines on stderr")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        FileType ft = FileType.parse(type);
        try (ModelPaths.Input input = ModelPaths.input(in); ModelPaths.Output output = ModelPaths.output(out)) {
            if (!Files.isRegularFile(input.path())) throw new Cli.UserException("input " + in + " is not a file");
            run(ft, input.path(), output.local());
            output.publish();
        }
        return 0;
    }

    private void run(FileType ft, Path in, Path out) throws Exception {
        int nThreads = Cli.threads(threads, Runtime.getRuntime().availableProcessors());
        PrintWriter err = spec.commandLine().getErr();
        long total = Files.size(in);
        AtomicLong done = new AtomicLong();
        long[] last = {0};
        long start = System.nanoTime();
        ModelQuantizer.Report report = ModelQuantizer.quantize(in, out, ft, nThreads, allowRequantize, bytes -> {
            long d = done.addAndGet(bytes);
            long now = System.nanoTime();
            if (now - last[0] > 1_000_000_000L) {
                last[0] = now;
                err.printf("\rquantize: %3d%% (%.1f / %.1f MB)", Math.min(100, 100 * d / Math.max(1, total)), d / 1e6, total / 1e6);
                err.flush();
            }
        });
        double seconds = (System.nanoTime() - start) / 1e9;
        err.printf("\rquantize: 100%%%n");
        if (!quiet) {
            for (var t : report.tensors()) {
                err.printf("  %-36s %-6s -> %-6s %10.3f MB -> %8.3f MB%n", t.name(), t.from(), t.to(),
                        t.bytesIn() / 1e6, t.bytesOut() / 1e6);
            }
        }
        for (String f : report.fallbacks()) err.println("quantize: fallback: " + f);
        err.printf("quantize: %s -> %s (%s): %.1f MB -> %.1f MB in %.1f s (%.1f MB/s of input)%n", this.in, this.out, ft,
                report.bytesIn() / 1e6, report.bytesOut() / 1e6, seconds, report.bytesIn() / 1e6 / seconds);
        err.flush();

        Map<String, Integer> types = new TreeMap<>();
        for (var t : report.tensors()) types.merge(t.to().name(), 1, Integer::sum);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("in", this.in);
        result.put("out", this.out);
        result.put("type", ft.name());
        result.put("tensors", report.tensors().size());
        result.put("tensor_types", types);
        result.put("bytes_in", report.bytesIn());
        result.put("bytes_out", report.bytesOut());
        result.put("fallbacks", report.fallbacks().size());
        result.put("seconds", Math.round(seconds * 100) / 100.0);
        result.put("threads", nThreads);
        Cli.printJson(spec.commandLine().getOut(), result);
    }

}
