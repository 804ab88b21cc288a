package dev.tokenmill.cli;

import dev.tokenmill.synth.ModelSynthesizer;
import dev.tokenmill.synth.SynthPreset;
import dev.tokenmill.tensor.quant.FileType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code tokenmill synth --preset P --type T --out F [--seed S] [--threads N]}: writes a random-weight model of a real
 * shape. Progress goes to stderr; one JSON line describing the file goes to stdout.
 */
@Command(name = "synth", mixinStandardHelpOptions = true,
        description = "Write a random-weight GGUF model of a real shape (for tests and benchmarks).")
final class SynthCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--preset", required = true,
            description = "tiny, qwen-0.5b, llama-1b, qwen-1.5b or llama-8b")
    String preset;

    @Option(names = "--type", defaultValue = "F16",
            description = "file type as llama-quantize spells it: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, "
                    + "Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K (default ${DEFAULT-VALUE})")
    String type;

    @Option(names = "--out", required = true, description = "output .gguf file")
    Path out;

    @Option(names = "--seed", defaultValue = "42", description = "random seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--threads", description = "generator threads (default: available processors)")
    Integer threads;

    @Option(names = "--vocab", description = "spm or bpe (default: bpe, as the real models, except spm for tiny)")
    String vocab;

    @Override
    public Integer call() throws Exception {
        SynthPreset p = SynthPreset.byName(preset);
        FileType ft = FileType.parse(type);
        int nThreads = Cli.threads(threads, Runtime.getRuntime().availableProcessors());
        PrintWriter err = spec.commandLine().getErr();
        long total = ModelSynthesizer.dataBytes(p, ft);
        AtomicLong done = new AtomicLong();
        long[] lastReport = {System.nanoTime(), -1};
        long start = System.nanoTime();
        err.printf("synth %s %s: %,d parameters, %.1f MB of tensor data, %d threads%n",
                p.name(), ft, p.parameterCount(), total / 1e6, nThreads);
        err.flush();
        Boolean bpe = switch (vocab == null ? "" : vocab.toLowerCase(java.util.Locale.ROOT)) {
            case "" -> null;
            case "bpe" -> true;
            case "spm" -> false;
            default -> throw new Cli.UserException("--vocab must be spm or bpe, not '" + vocab + "'");
        };
        ModelSynthesizer.write(new ModelSynthesizer.Options(p, ft, seed, nThreads, bpe), out, bytes -> {
            long d = done.addAndGet(bytes);
            long now = System.nanoTime();
            int pct = (int) (100 * d / Math.max(1, total));
            if (now - lastReport[0] > 1_000_000_000L && pct != lastReport[1] || d == total) {
                lastReport[0] = now;
                lastReport[1] = pct;
                err.printf("\rsynth: %3d%% (%.1f / %.1f MB)", pct, d / 1e6, total / 1e6);
                err.flush();
            }
        });
        double seconds = (System.nanoTime() - start) / 1e9;
        err.printf("%nsynth: wrote %s in %.1f s%n", out, seconds);
        err.flush();
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("file", out.toString());
        result.put("preset", p.name());
        result.put("architecture", p.architecture());
        result.put("type", ft.name());
        result.put("parameters", p.parameterCount());
        result.put("bytes", Files.size(out));
        result.put("seconds", Math.round(seconds * 10) / 10.0);
        Cli.printJson(spec.commandLine().getOut(), result);
        return 0;
    }
}
