package dev.tokenmill.quant;

import dev.tokenmill.cli.Cli;
import dev.tokenmill.cli.Main;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelLoader;
import dev.tokenmill.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code tokenmill eval --model Q.gguf [--base B.gguf] --text FILE [--ctx N] [--threads T] [--chunks K]}: the
 * perplexity of a model over a text as llama.cpp's {@code llama-perplexity} measures it, and with {@code --base}
 * the KL divergence, Δp and top-1 agreement against the base model as {@code llama-perplexity --kl-divergence}
 * reports them. Progress and the human table go to stderr; the results go to stdout as one JSON line
 * (probabilities there as fractions, not percentages).
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Perplexity of a model over a text; with --base also KL divergence and top-1 agreement against it.")
public final class EvalCommand implements Callable<Integer> {
    /** Chunk size when --ctx is not given (llama-perplexity's default), capped by the model's context. */
    static final int DEFAULT_CTX = 512;
    /** The smallest chunk that scores at least one token per chunk with a context of at least two. */
    static final int MIN_CTX = 4;

    /** Registers the command with {@code tokenmill}'s CLI. */
    public static final class Provider implements Main.CommandProvider {
        @Override public Object command() { return new EvalCommand(); }
    }

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "Q.gguf", description = "the model to evaluate: a path or a Hadoop URI")
    String model;

    @Option(names = "--base", paramLabel = "B.gguf", description = "base model (e.g. the F16/F32 master) for KL divergence: a path or a Hadoop URI")
    String base;

    @Option(names = "--text", required = true, paramLabel = "FILE", description = "UTF-8 text to evaluate on: a path or a Hadoop URI")
    String text;

    @Option(names = "--ctx", paramLabel = "N", description = "tokens per chunk (default: " + DEFAULT_CTX + ", capped by the model's context length)")
    Integer ctx;

    @Option(names = "--threads", paramLabel = "T", description = "compute threads (default: available processors)")
    Integer threads;

    @Option(names = "--chunks", paramLabel = "K", description = "evaluate at most K chunks (default: all whole chunks of the text)")
    Integer chunks;

    @Override
    public Integer call() throws Exception {
        int nThreads = Cli.threads(threads, Runtime.getRuntime().availableProcessors());
        if (chunks != null && chunks < 1) throw new EvalException("--chunks must be at least 1, got " + chunks);
        PrintWriter err = spec.commandLine().getErr();
        try (ModelPaths.Input modelIn = ModelPaths.input(model);
             ModelPaths.Input baseIn = base == null ? null : ModelPaths.input(base);
             ModelPaths.Input textIn = ModelPaths.input(text);
             Model m = ModelLoader.load(modelIn.path());
             Model b = baseIn == null ? null : ModelLoader.load(baseIn.path())) {
            if (b != null) Evaluator.checkSameVocabulary(m, model, b, base);
            int nCtx = chunkSize(m, b);
            // tokens as llama.cpp's KL run sees them: the base model's tokenizer when there is a base
            Tokenizer tokenizer = Tokenizer.fromGguf((b != null ? b : m).gguf());
            TextChunks chunked = TextChunks.of(tokenizer, readText(textIn), nCtx, chunks);
            if (chunked.chunks() == 0) {
                throw new EvalException("the text " + text + " tokenizes to " + chunked.tokens().length
                        + " tokens, fewer than one chunk of " + nCtx + " (--ctx); give a longer text or a smaller --ctx");
            }
            err.printf(Locale.ROOT, "eval: %s: %d tokens, %d chunks of %d, scoring the last %d of each (%d tokens), %d threads%n",
                    text, chunked.tokens().length, chunked.chunks(), nCtx, chunked.scoredPerChunk(),
                    (long) chunked.chunks() * chunked.scoredPerChunk(), nThreads);
            if (b != null) err.println("eval: KL divergence of " + model + " against the base " + base);
            err.flush();

            Evaluator.Result result = Evaluator.run(modelIn.path(), baseIn == null ? null : baseIn.path(), m.config().vocabSize(),
                    chunked, nThreads,
                    (c, seconds, ppl, kld) -> progress(err, c, chunked.chunks(), seconds, ppl, kld));
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("model", model);
            if (base != null) json.put("base", base);
            json.put("text", text);
            json.put("ctx", nCtx);
            json.put("chunks", chunked.chunks());
            json.put("tokens", chunked.tokens().length);
            json.put("scored", result.ppl().count());
            MeanError ppl = result.ppl().estimate();
            json.put("ppl", finite(ppl.mean()));
            json.put("ppl_err", finite(ppl.error()));
            if (result.kld() == null) {
                err.println();
                err.printf(Locale.ROOT, "Final estimate: PPL = %.4f +/- %.5f%n", ppl.mean(), ppl.error());
            } else {
                KlDivergence.Summary s = result.kld().summary();
                printKlTable(err, s);
                putKl(json, s);
            }
            err.flush();
            Cli.printJson(spec.commandLine().getOut(), json);
        }
        return 0;
    }

    /** --ctx checked against both models' context lengths, or the default capped by them. */
    private int chunkSize(Model m, Model b) {
        int limit = m.config().contextLength();
        String limitOf = model;
        if (b != null && b.config().contextLength() < limit) {
            limit = b.config().contextLength();
            limitOf = base;
        }
        if (limit < MIN_CTX) {
            throw new EvalException(limitOf + " has a context length of " + limit + ", too short to evaluate (at least " + MIN_CTX + ")");
        }
        if (ctx == null) return Math.min(DEFAULT_CTX, limit);
        if (ctx < MIN_CTX) {
            throw new EvalException("--ctx " + ctx + " is too small: a chunk needs at least " + MIN_CTX
                    + " tokens to score its second half");
        }
        if (ctx > limit) {
            throw new EvalException("--ctx " + ctx + " exceeds the context length " + limit + " of " + limitOf);
        }
        return ctx;
    }

    /** The text as llama.cpp's {@code -f} reads it: the whole file, one trailing newline dropped. */
    private static String readText(ModelPaths.Input in) throws java.io.IOException {
        String s = new String(Files.readAllBytes(in.path()), StandardCharsets.UTF_8);
        return s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
    }

    private static void progress(PrintWriter err, int chunk, int chunks, double seconds, Perplexity ppl, KlDivergence kld) {
        if (chunk == 0) {
            err.printf(Locale.ROOT, "eval: %.2f seconds per pass - ETA %.2f minutes%n", seconds, seconds * chunks / 60);
            if (kld != null) {
                err.println();
                err.println("chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence              Δp RMS            Same top p");
            }
        }
        if (kld == null) {
            err.printf(Locale.ROOT, "[%d]%.4f,", chunk + 1, ppl.ppl());
        } else {
            KlDivergence.Summary s = kld.summary();
            err.printf(Locale.ROOT, "%4d    %9.4f ± %9.4f    %10.5f ± %10.5f    %10.5f ± %10.5f    %6.3f ± %6.3f %%    %6.3f ± %6.3f %%%n",
                    chunk + 1, s.ppl().mean(), s.ppl().error(), s.lnPplRatio().mean(), s.lnPplRatio().error(),
                    s.kld().mean(), s.kld().error(), 100 * s.rmsPDiff().mean(), 100 * s.rmsPDiff().error(),
                    100 * s.sameTop().mean(), 100 * s.sameTop().error());
        }
        err.flush();
    }

    /** The closing statistics in llama.cpp's layout (its three "======" sections). */
    private static void printKlTable(PrintWriter err, KlDivergence.Summary s) {
        err.println();
        err.println("====== Perplexity statistics ======");
        err.printf(Locale.ROOT, "Mean PPL(Q)                   : %10.6f ± %10.6f%n", s.ppl().mean(), s.ppl().error());
        err.printf(Locale.ROOT, "Mean PPL(base)                : %10.6f ± %10.6f%n", s.pplBase().mean(), s.pplBase().error());
        err.printf(Locale.ROOT, "Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%%n", 100 * s.pplCorrelation());
        err.printf(Locale.ROOT, "Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f%n", s.lnPplRatio().mean(), s.lnPplRatio().error());
        err.printf(Locale.ROOT, "Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f%n", s.pplRatio().mean(), s.pplRatio().error());
        err.printf(Locale.ROOT, "Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f%n", s.pplDiff().mean(), s.pplDiff().error());
        err.println();
        err.println("====== KL divergence statistics ======");
        KlDivergence.Distribution k = s.kldDistribution();
        err.printf(Locale.ROOT, "Mean    KLD: %10.6f ± %10.6f%n", s.kld().mean(), s.kld().error());
        err.printf(Locale.ROOT, "Maximum KLD: %10.6f%n", k.max());
        for (double f : new double[] {0.999, 0.99, 0.95, 0.90}) {
            err.printf(Locale.ROOT, "%-8sKLD: %10.6f%n", percentLabel(f), k.percentile(f));
        }
        err.printf(Locale.ROOT, "Median  KLD: %10.6f%n", k.median());
        for (double f : new double[] {0.10, 0.05, 0.01, 0.001}) {
            err.printf(Locale.ROOT, "%-8sKLD: %10.6f%n", percentLabel(f), k.percentile(f));
        }
        err.printf(Locale.ROOT, "Minimum KLD: %10.6f%n", k.min());
        err.println();
        err.println("====== Token probability statistics ======");
        KlDivergence.Distribution p = s.pDiffDistribution();
        err.printf(Locale.ROOT, "Mean    Δp: %6.3f ± %5.3f %%%n", 100 * s.pDiff().mean(), 100 * s.pDiff().error());
        err.printf(Locale.ROOT, "Maximum Δp: %6.3f%%%n", 100 * p.max());
        for (double f : new double[] {0.999, 0.99, 0.95, 0.90, 0.75}) {
            err.printf(Locale.ROOT, "%-8sΔp: %6.3f%%%n", percentLabel(f), 100 * p.percentile(f));
        }
        err.printf(Locale.ROOT, "Median  Δp: %6.3f%%%n", 100 * p.median());
        for (double f : new double[] {0.25, 0.10, 0.05, 0.01, 0.001}) {
            err.printf(Locale.ROOT, "%-8sΔp: %6.3f%%%n", percentLabel(f), 100 * p.percentile(f));
        }
        err.printf(Locale.ROOT, "Minimum Δp: %6.3f%%%n", 100 * p.min());
        err.printf(Locale.ROOT, "RMS Δp    : %6.3f ± %5.3f %%%n", 100 * s.rmsPDiff().mean(), 100 * s.rmsPDiff().error());
        err.printf(Locale.ROOT, "Same top p: %6.3f ± %5.3f %%%n", 100 * s.sameTop().mean(), 100 * s.sameTop().error());
    }

    /** "99.9%", " 5.0%": llama.cpp's row labels. */
    private static String percentLabel(double fraction) {
        return String.format(Locale.ROOT, "%4.1f%%", 100 * fraction);
    }

    private static void putKl(Map<String, Object> json, KlDivergence.Summary s) {
        json.put("ppl_base", finite(s.pplBase().mean()));
        json.put("ppl_base_err", finite(s.pplBase().error()));
        json.put("ppl_correlation", finite(s.pplCorrelation()));
        json.put("ln_ppl_ratio", finite(s.lnPplRatio().mean()));
        json.put("ln_ppl_ratio_err", finite(s.lnPplRatio().error()));
        json.put("ppl_ratio", finite(s.pplRatio().mean()));
        json.put("ppl_ratio_err", finite(s.pplRatio().error()));
        json.put("ppl_diff", finite(s.pplDiff().mean()));
        json.put("ppl_diff_err", finite(s.pplDiff().error()));
        json.put("kld", finite(s.kld().mean()));
        json.put("kld_err", finite(s.kld().error()));
        json.put("kld_percentiles", percentiles(s.kldDistribution(), new double[] {0.999, 0.99, 0.95, 0.90, 0.10, 0.05, 0.01, 0.001}));
        json.put("delta_p", finite(s.pDiff().mean()));
        json.put("delta_p_err", finite(s.pDiff().error()));
        json.put("delta_p_rms", finite(s.rmsPDiff().mean()));
        json.put("delta_p_rms_err", finite(s.rmsPDiff().error()));
        json.put("delta_p_percentiles", percentiles(s.pDiffDistribution(), new double[] {0.999, 0.99, 0.95, 0.90, 0.75, 0.25, 0.10, 0.05, 0.01, 0.001}));
        json.put("same_top_p", finite(s.sameTop().mean()));
        json.put("same_top_p_err", finite(s.sameTop().error()));
    }

    /** {"max":..,"99.9":..,...,"median":..,...,"min":..} */
    private static Map<String, Object> percentiles(KlDivergence.Distribution d, double[] fractions) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("max", finite(d.max()));
        boolean medianDone = false;
        for (double f : fractions) {
            if (!medianDone && f < 0.5) {
                m.put("median", finite(d.median()));
                medianDone = true;
            }
            m.put(String.format(Locale.ROOT, "%.1f", 100 * f), finite(d.percentile(f)));
        }
        m.put("min", finite(d.min()));
        return m;
    }

    /** JSON has no NaN or infinity: such a value (too few tokens for an error) becomes null. */
    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }
}
