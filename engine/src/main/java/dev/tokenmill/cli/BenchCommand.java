package dev.tokenmill.cli;

import dev.tokenmill.Engine;
import dev.tokenmill.EngineConfig;
import dev.tokenmill.Request;
import dev.tokenmill.Result;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import dev.tokenmill.sample.SamplingParams;
import dev.tokenmill.sample.constrain.Constraint;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * {@code tokenmill bench}: a synthetic batch workload through the {@link Engine}, after a warm-up. Prompts are seeded
 * random token ids (the first {@code --shared-prefix} of them the same in every prompt); generation ignores EOS, so
 * every request produces exactly {@code --gen-tokens}. Prints a table on stderr, then one JSON line on stdout.
 *
 * <p>{@code prefill_tok_s} and {@code decode_tok_s} come from the engine's step timings (a step mixing both has its
 * time split by token count); {@code overall_tok_s} is every prompt and generated token over the wall time.
 * {@code --single} runs one sequence like {@code llama-bench}: a {@code P}-token prefill, then {@code G} decodes.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Throughput of a synthetic batch workload (or of one sequence with --single).")
final class BenchCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--model", required = true, description = "GGUF model file")
    Path model;

    @Option(names = "--prompts", defaultValue = "32", description = "requests in the workload (default ${DEFAULT-VALUE})")
    int prompts;

    @Option(names = "--prompt-tokens", defaultValue = "64", description = "tokens per prompt (default ${DEFAULT-VALUE})")
    int promptTokens;

    @Option(names = "--gen-tokens", defaultValue = "64", description = "tokens generated per request (default ${DEFAULT-VALUE})")
    int genTokens;

    @Option(names = "--shared-prefix", defaultValue = "0",
            description = "leading prompt tokens that every prompt shares, of the --prompt-tokens (default ${DEFAULT-VALUE})")
    int sharedPrefix;

    @Option(names = "--threads", description = "compute threads (default: available processors)")
    Integer threads;

    @Option(names = "--max-seqs", description = "sequences running at once (default: --prompts, at most 256)")
    Integer maxSeqs;

    @Option(names = "--max-batch-tokens", defaultValue = "512", description = "tokens per engine step (default ${DEFAULT-VALUE})")
    int maxBatchTokens;

    @Option(names = "--kv-type", defaultValue = "f16", description = "KV cache type: f16 or f32 (default ${DEFAULT-VALUE})")
    String kvType;

    @Option(names = "--kv-cache-mb", description = "KV cache budget in MiB (default: enough for --max-seqs whole requests)")
    Long kvCacheMb;

    @Option(names = "--no-prefix-caching", description = "turn the prefix cache off")
    boolean noPrefixCaching;

    @Option(names = "--single", description = "one sequence: prefill --prompt-tokens, then decode --gen-tokens (as llama-bench)")
    boolean single;

    @Option(names = "--warmup", defaultValue = "4",
            description = "warm-up requests per warm-up round (with --single, run one at a time); 0: no warm-up (default ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--warmup-seconds", defaultValue = "10",
            description = "repeat warm-up rounds until one passes with the JIT compiler quiet, for at most this long; 0: one round"
                    + " (default ${DEFAULT-VALUE})")
    double warmupSeconds;

    @Option(names = "--prompt-logprobs", arity = "0..1", fallbackValue = "0",
            description = "a scoring workload: the logprob of every prompt token (and its N best alternatives, default 0)")
    Integer promptLogprobs;

    @Option(names = "--seed", defaultValue = "1", description = "seed of the random prompts (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--json-schema", paramLabel = "JSON_OR_FILE",
            description = "constrain every request (warm-ups included) to JSON valid against this JSON Schema")
    String jsonSchema;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--repeat", defaultValue = "1",
            description = "measured runs of the workload on the one open engine; the JSON gives each and the median (default ${DEFAULT-VALUE})")
    int repeat;

    @Override
    public Integer call() throws IOException {
        check(prompts >= 1, "--prompts must be >= 1, got " + prompts);
        check(promptTokens >= 1, "--prompt-tokens must be >= 1, got " + promptTokens);
        check(genTokens >= 1, "--gen-tokens must be >= 1, got " + genTokens);
        check(sharedPrefix >= 0 && sharedPrefix < promptTokens,
                "--shared-prefix must be in [0, --prompt-tokens) = [0, " + promptTokens + "), got " + sharedPrefix);
        check(warmup >= 0, "--warmup must be >= 0, got " + warmup);
        check(warmupSeconds >= 0 && warmupSeconds <= 3600, "--warmup-seconds must be in [0, 3600], got " + warmupSeconds);
        check(promptLogprobs == null || (promptLogprobs >= 0 && promptLogprobs <= Request.MAX_LOGPROBS),
                "--prompt-logprobs must be in [0, " + Request.MAX_LOGPROBS + "], got " + promptLogprobs);
        check(repeat >= 1, "--repeat must be >= 1, got " + repeat);
        Constraint constraint = jsonSchema == null ? null : new Constraint.JsonSchema(ConstraintOptions.jsonOrFile(jsonSchema, "--json-schema"));
        int n = single ? 1 : prompts;
        int seqs = single ? 1 : maxSeqs != null ? maxSeqs : Math.min(prompts, 256);
        // --single decodes G tokens after the prefill, so it samples G + 1
        int maxTokens = single ? genTokens + 1 : genTokens;
        EngineConfig.Builder cb = EngineConfig.builder()
                .maxSeqs(seqs).maxBatchTokens(Math.max(maxBatchTokens, seqs))
                .threads(PromptText.threads(threads))
                .kvType(parseKvType(kvType))
                .prefixCaching(!noPrefixCaching)
                .device(parseDevice(device))
                .maxModelLen(promptTokens + maxTokens);
        if (kvCacheMb != null) {
            check(kvCacheMb >= 1, "--kv-cache-mb must be >= 1, got " + kvCacheMb);
            cb.kvCacheBytes(kvCacheMb << 20);
        }
        PrintWriter err = spec.commandLine().getErr();
        try (Engine engine = Engine.open(model, cb.build())) {
            int vocab = engine.modelConfig().vocabSize();
            int lowestId = Math.min(3, vocab - 1); // past <unk>, <s>, </s> in SentencePiece vocabularies
            // warm-up prompts share nothing with the measured ones, so the prefix cache starts cold
            Random warm = new Random(seed ^ 0x5DEECE66DL);
            WarmUp warmed = warmUp(engine, warm, lowestId, vocab, maxTokens, constraint);
            if (warmed.rounds() > 0) {
                err.printf(Locale.ROOT, "warm-up: %d round(s) of %d request(s), %.1f s, JIT %s%n", warmed.rounds(), warmup,
                        warmed.seconds(), warmed.quiet() ? "quiet in the last round" : "still compiling at the time limit");
            }

            List<Double> outputRates = new ArrayList<>(), overallRates = new ArrayList<>(), decodeRates = new ArrayList<>();
            for (int run = 0; run < repeat; run++) {
            Random r = new Random(seed + run);
            int[] prefix = randomIds(r, sharedPrefix, lowestId, vocab);
            List<Request> requests = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                int[] ids = randomIds(r, promptTokens, lowestId, vocab);
                System.arraycopy(prefix, 0, ids, 0, sharedPrefix);
                Request q = request("bench" + i, ids, maxTokens, constraint);
                requests.add(promptLogprobs == null ? q : q.toBuilder().promptLogprobs(promptLogprobs).build());
            }
            Engine.Stats before = engine.stats();
            long t0 = System.nanoTime();
            List<Result> results = engine.generate(requests);
            double wall = (System.nanoTime() - t0) / 1e9;
            Engine.Stats after = engine.stats();

            long generated = 0, cached = 0, stopped = 0;
            for (Result res : results) {
                if (res.isError()) throw new Cli.UserException("request " + res.id() + " failed: " + res.error());
                generated += res.completionTokens();
                cached += res.cachedPromptTokens();
                if (res.finishReason() == dev.tokenmill.FinishReason.STOP) stopped++;
            }
            long prefillTok = after.prefillTokens() - before.prefillTokens();
            long decodeTok = after.decodeTokens() - before.decodeTokens();
            double prefillS = after.prefillSeconds() - before.prefillSeconds();
            double decodeS = after.decodeSeconds() - before.decodeSeconds();
            long allTokens = (long) n * promptTokens + generated;

            outputRates.add(rate(generated, wall));
            overallRates.add(rate(allTokens, wall));
            decodeRates.add(rate(decodeTok, decodeS));
            if (run + 1 < repeat) {
                err.printf(Locale.ROOT, "run %d: %.1f output tok/s, %.1f overall tok/s, %.2f s%n", run + 1, rate(generated, wall),
                        rate(allTokens, wall), wall);
                continue;
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("mode", single ? "single" : "batch");
            out.put("model", model.toString());
            out.put("prompts", n);
            out.put("prompt_tokens", promptTokens);
            out.put("gen_tokens", genTokens);
            out.put("shared_prefix", sharedPrefix);
            out.put("prompt_logprobs", promptLogprobs == null ? -1 : promptLogprobs);
            out.put("threads", engine.config().threads());
            out.put("kernel_path", after.kernelPath());
            out.put("max_seqs", seqs);
            out.put("max_batch_tokens", engine.config().maxBatchTokens());
            out.put("kv_type", engine.config().kvType().name().toLowerCase(Locale.ROOT));
            out.put("kv_cache_mb", round(engine.kvCacheBytes() / 1048576.0));
            out.put("prefill_tokens", prefillTok);
            out.put("decode_tokens", decodeTok);
            out.put("generated_tokens", generated);
            out.put("json_schema", constraint != null);
            out.put("stopped", stopped);
            out.put("cached_prompt_tokens", cached);
            out.put("prefill_tok_s", round(rate(prefillTok, prefillS)));
            out.put("decode_tok_s", round(rate(decodeTok, decodeS)));
            out.put("overall_tok_s", round(rate(allTokens, wall)));
            out.put("output_tok_s", round(rate(generated, wall)));
            out.put("runs", repeat);
            out.put("output_tok_s_runs", outputRates.stream().map(BenchCommand::round).toList());
            out.put("output_tok_s_median", round(median(outputRates)));
            out.put("overall_tok_s_runs", overallRates.stream().map(BenchCommand::round).toList());
            out.put("decode_tok_s_runs", decodeRates.stream().map(BenchCommand::round).toList());
            out.put("decode_tok_s_median", round(median(decodeRates)));
            out.put("wall_s", round(wall));
            out.put("steps", after.steps() - before.steps());
            out.put("preemptions", after.preemptions() - before.preemptions());
            out.put("peak_rss_mb", round(peakRssMb()));
            out.put("warmup_rounds", warmed.rounds());
            out.put("warmup_s", round(warmed.seconds()));

            err.printf(Locale.ROOT, "%s: %s, %d threads, %d max seqs, %d tokens/step, KV %s %.1f MiB%n", out.get("mode"),
                    model.getFileName(), engine.config().threads(), seqs, engine.config().maxBatchTokens(), out.get("kv_type"),
                    engine.kvCacheBytes() / 1048576.0);
            err.printf(Locale.ROOT, "%8s %8s %8s %8s %8s %10s %10s %10s %8s %8s%n", "prompts", "prompt", "gen", "prefix",
                    "cached", "prefill/s", "decode/s", "overall/s", "wall_s", "rss_mb");
            err.printf(Locale.ROOT, "%8d %8d %8d %8d %8d %10.1f %10.1f %10.1f %8.2f %8.0f%n", n, promptTokens, genTokens,
                    sharedPrefix, cached, rate(prefillTok, prefillS), rate(decodeTok, decodeS), rate(allTokens, wall), wall,
                    peakRssMb());
            err.flush();
            Cli.printJson(spec.commandLine().getOut(), out);
            }
        }
        return 0;
    }

    /** What the warm-up did: rounds run, seconds spent, whether the last round ran with the JIT compiler quiet. */
    private record WarmUp(int rounds, double seconds, boolean quiet) {}

    /**
     * Warm-up rounds of {@code --warmup} requests (the measured prompt length, up to 8 tokens each; with --single one at a
     * time, as measured). The Vector API code runs tens of times slower until C2 has compiled it, and the compiler threads
     * take cores from the compute threads meanwhile, so the rounds repeat until one runs with the compiler quiet (its
     * compile time under 5% of the round's wall time) or --warmup-seconds have passed: the figures are then those of a
     * long-running engine, as an executor serving a whole job sees it (and as llama-bench, compiled ahead of time, runs).
     */
    private WarmUp warmUp(Engine engine, Random warm, int lowestId, int vocab, int maxTokens, Constraint constraint) {
        if (warmup == 0) return new WarmUp(0, 0, false);
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        boolean timed = jit != null && jit.isCompilationTimeMonitoringSupported();
        long start = System.nanoTime(), limit = (long) (warmupSeconds * 1e9);
        int rounds = 0;
        boolean quiet = false;
        do {
            List<Request> round = new ArrayList<>();
            for (int i = 0; i < warmup; i++) {
                round.add(request("warmup" + rounds + "-" + i, randomIds(warm, promptTokens, lowestId, vocab), Math.min(maxTokens, 8),
                        constraint));
            }
            long c0 = timed ? jit.getTotalCompilationTime() : 0, t0 = System.nanoTime();
            if (single) {
                for (Request q : round) engine.generate(List.of(q));
            } else {
                engine.generate(round);
            }
            long wallMs = (System.nanoTime() - t0) / 1_000_000;
            rounds++;
            quiet = timed && (jit.getTotalCompilationTime() - c0) * 20 < Math.max(wallMs, 1);
        } while (!quiet && System.nanoTime() - start < limit);
        return new WarmUp(rounds, (System.nanoTime() - start) / 1e9, quiet);
    }

    /** Greedy, through end-of-generation tokens; with a constraint it still ends when the constrained output is complete. */
    private static Request request(String id, int[] ids, int maxTokens, Constraint constraint) {
        return Request.tokens(id, ids).sampling(SamplingParams.builder().temperature(0).maxTokens(maxTokens).constraint(constraint)
                .buildUnchecked()).ignoreEos(true).build();
    }

    private static int[] randomIds(Random r, int n, int lowest, int vocab) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = lowest + r.nextInt(vocab - lowest);
        return ids;
    }

    private static EngineConfig.KvType parseKvType(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "f16" -> EngineConfig.KvType.F16;
            case "f32" -> EngineConfig.KvType.F32;
            default -> throw new Cli.UserException("--kv-type must be f16 or f32, got '" + s + "'");
        };
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    private static EngineConfig.Device parseDevice(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "cpu" -> EngineConfig.Device.CPU;
            case "cuda" -> EngineConfig.Device.CUDA;
            case "auto" -> EngineConfig.Device.AUTO;
            default -> throw new Cli.UserException("--device must be cpu, cuda or auto, got '" + s + "'");
        };
    }

    private static double rate(long tokens, double seconds) {
        return seconds > 0 ? tokens / seconds : 0;
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }

    /** The process's peak resident set (VmHWM), or -1 where /proc is not there. */
    static double peakRssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    String kb = line.substring("VmHWM:".length()).trim().split("\\s+")[0];
                    return Long.parseLong(kb) / 1024.0;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    private static void check(boolean ok, String message) {
        if (!ok) throw new Cli.UserException(message);
    }
}
