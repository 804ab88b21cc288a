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
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;

/** {@code tokenmill convert HF_DIR OUT.gguf [--type F16]}: a Hugging Face checkpoint to GGUF. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Convert a Hugging Face model directory (Llama, Mistral, Qwen2, Qwen3) to GGUF.")
public final class ConvertCommand implements Callable<Integer> {

    /** Registers the command with {@code tokenmill}'s CLI. */
    public static final class Provider implements Main.CommandProvider {
        @Override public Object command() { return new ConvertCommand(); }
    }

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "HF_DIR", description = "directory with config.json, *.safetensors, tokenizer files: a path or a Hadoop URI")
    String dir;

    @Parameters(index = "1", paramLabel = "OUT.gguf", description = "output model: a path or a Hadoop URI")
    String out;

    @Option(names = "--type", defaultValue = "F16", description = "F32, F16, BF16 or Q8_0 (default ${DEFAULT-VALUE})")
    String type;

    @Option(names = "--pre", description = "BPE pre-tokenizer name to record (default: qwen2 for Qwen, llama-bpe for Llama)")
    String pre;

    @Option(names = "--threads", description = "worker threads (default: available processors)")
    Integer threads;

    @Override
    public Integer call() throws Exception {
        FileType ft = FileType.parse(type);
        try (ModelPaths.Input input = ModelPaths.input(dir); ModelPaths.Output output = ModelPaths.output(out)) {
            if (!Files.isDirectory(input.path())) throw new Cli.UserException(dir + " is not a directory");
            run(ft, input.path(), output.local());
            output.publish();
        }
        return 0;
    }

    private void run(FileType ft, Path dir, Path out) throws Exception {
        int nThreads = Cli.threads(threads, Runtime.getRuntime().availableProcessors());
        PrintWriter err = spec.commandLine().getErr();
        AtomicLong done = new AtomicLong();
        long[] last = {0};
        long start = System.nanoTime();
        HfConverter.Report r = HfConverter.convert(dir, out, ft, nThreads, pre, bytes -> {
            long d = done.addAndGet(bytes);
            long now = System.nanoTime();
            if (now - last[0] > 1_000_000_000L) {
                last[0] = now;
                err.printf("\rconvert: %.1f MB written", d / 1e6);
                err.flush();
            }
        });
        double seconds = (System.nanoTime() - start) / 1e9;
        err.printf("\rconvert: %s -> %s (%s, %s): %d tensors, %.1f MB in %.1f s%n", this.dir, this.out, r.architecture(), ft,
                r.tensors(), r.bytes() / 1e6, seconds);
        err.flush();
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("in", this.dir);
        result.put("out", this.out);
        result.put("architecture", r.architecture());
        result.put("type", ft.name());
        result.put("tensors", r.tensors());
        result.put("bytes", Files.size(out));
        result.put("seconds", Math.round(seconds * 100) / 100.0);
        Cli.printJson(spec.commandLine().getOut(), result);
    }
}
