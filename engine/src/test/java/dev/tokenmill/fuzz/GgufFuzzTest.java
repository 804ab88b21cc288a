package dev.tokenmill.fuzz;

import dev.tokenmill.gguf.GgufFormatException;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelLoader;
import dev.tokenmill.model.NonFiniteLogitsException;
import dev.tokenmill.Engine;
import dev.tokenmill.EngineConfig;
import dev.tokenmill.Request;
import dev.tokenmill.Result;
import dev.tokenmill.tokenizer.Tokenizer;
import dev.tokenmill.tokenizer.TokenizerException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A seeded, structure-aware GGUF fuzzer: mutated and truncated copies of models the test writes (every tensor type,
 * the three architectures, with a vocabulary) go through {@code GgufFile} open, model load, tokenizer build and one
 * forward step over a short prompt. Allowed outcomes: the step runs and every log-probability is finite, or the
 * project's own exception ({@link GgufFormatException}, {@link TokenizerException},
 * {@link NonFiniteLogitsException}) with a message naming the file. Anything else is a finding: another exception
 * type, a message without the file, an error (out of memory, stack overflow), non-finite output, or a hang.
 *
 * <p>CI replays the committed corpus ({@code gguf-fuzz-corpus.txt}: inputs that once were findings, one recipe per
 * line) and then {@value #DEFAULT_ITERATIONS} fresh mutations from a fixed seed. A longer run, from another seed:
 * <pre>
 * ./mvnw -q -B -pl engine test -Dtest=GgufFuzzTest -Dtokenmill.fuzz.iterations=20000 -Dtokenmill.fuzz.seed=$RANDOM
 * </pre>
 * A finding is reported as a corpus line; fix the cause and add the line to the corpus.
 */
class GgufFuzzTest {
    static final int DEFAULT_ITERATIONS = 2000;
    /** Per input; a forward step on these models takes milliseconds, so only a hang reaches it. */
    private static final long HANG_SECONDS = 60;
    private static final String PROMPT = "hello world";

    @TempDir static Path dir;
    private static Map<String, byte[]> seeds;
    private static Map<String, GgufLayout> layouts;
    private static ExecutorService worker;

    enum Outcome { RAN, REFUSED_FORMAT, REFUSED_TOKENIZER, REFUSED_NON_FINITE }

    @BeforeAll
    static void writeSeeds() throws IOException {
        seeds = GgufFuzzSeeds.write(dir.resolve("seeds"));
        layouts = new java.util.LinkedHashMap<>();
        seeds.forEach((name, bytes) -> layouts.put(name, GgufLayout.of(bytes)));
        worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "gguf-fuzz");
            t.setDaemon(true); // a hung input must not keep the test JVM alive
            return t;
        });
    }

    @AfterAll
    static void stopWorker() {
        worker.shutdownNow();
    }

    @Test
    void everySeedLoadsAndRunsUnmutated() throws Exception {
        for (var e : seeds.entrySet()) {
            Path p = dir.resolve("seed-" + e.getKey() + ".gguf");
            Files.write(p, e.getValue());
            assertThat(runOne(p)).as(e.getKey()).isEqualTo(Outcome.RAN);
        }
    }

    @Test
    void corpusInputsAreRefusedOrRunCleanly() throws Exception {
        List<String> lines = corpus();
        assertThat(lines).isNotEmpty();
        Report report = new Report();
        for (String line : lines) {
            GgufMutation m = GgufMutation.parse(line);
            assertThat(seeds).as("seed of corpus line %s", line).containsKey(m.seed());
            report.add(m, check(m));
        }
        report.print("corpus", lines.size());
        assertThat(report.findings).as(report.describeFindings()).isEmpty();
    }

    @Test
    void mutatedModelsAreRefusedOrRunCleanly() throws Exception {
        int iterations = Integer.getInteger("tokenmill.fuzz.iterations", DEFAULT_ITERATIONS);
        long seed = Long.getLong("tokenmill.fuzz.seed", 1);
        List<String> names = List.copyOf(seeds.keySet());
        Report report = new Report();
        for (int i = 0; i < iterations; i++) {
            SplittableRandom r = new SplittableRandom(seed * 1_000_003L + i);
            String name = names.get(r.nextInt(names.size()));
            GgufMutation m = GgufMutation.random(name, seeds.get(name), layouts.get(name), r);
            report.add(m, check(m));
        }
        report.print("seed " + seed, iterations);
        assertThat(report.findings).as(report.describeFindings()).isEmpty();
        // a fuzzer that never gets past the header, or never into the forward pass, tests little
        assertThat(report.counts.get(Outcome.REFUSED_FORMAT)).isPositive();
        if (iterations >= 200) assertThat(report.counts.get(Outcome.RAN)).isPositive();
    }

    /** The outcome of one input, or the finding it is (as text). */
    private record Checked(Outcome outcome, String finding) {}

    private static Checked check(GgufMutation m) throws Exception {
        Path p = dir.resolve("input.gguf");
        Files.write(p, m.apply(seeds.get(m.seed())));
        Future<Outcome> f = worker.submit(() -> runOne(p));
        try {
            return new Checked(f.get(HANG_SECONDS, TimeUnit.SECONDS), null);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new AssertionError("hang (no outcome after " + HANG_SECONDS + " s): " + m.toLine());
        } catch (ExecutionException e) {
            Throwable t = e.getCause();
            boolean own = t instanceof GgufFormatException || t instanceof TokenizerException || t instanceof NonFiniteLogitsException;
            String message = String.valueOf(t.getMessage());
            if (own && message.contains(p.toString()) && message.lines().count() == 1 && message.length() < 1000) {
                return new Checked(t instanceof GgufFormatException ? Outcome.REFUSED_FORMAT
                        : t instanceof TokenizerException ? Outcome.REFUSED_TOKENIZER : Outcome.REFUSED_NON_FINITE, null);
            }
            StackTraceElement[] st = t.getStackTrace();
            String shortMessage = message.length() > 300 ? message.substring(0, 300) + "..." : message;
            return new Checked(null, m.toLine() + "  # " + t.getClass().getSimpleName() + ": " + shortMessage.replace('\n', ' ')
                    + (st.length > 0 ? " at " + st[0] : "") + (own ? " (the message must name the file, on one readable line)" : ""));
        }
    }

    /**
     * Open, load, build the tokenizer, tokenize, then one request through an engine on the file (one forward step over
     * the prompt with its prompt logprobs), and decode. Non-finite logits must come back as that request's error.
     */
    private static Outcome runOne(Path p) throws IOException {
        int[] ids;
        int ctx;
        try (Model model = ModelLoader.load(p)) {
            Tokenizer tokenizer = Tokenizer.fromGguf(model.gguf());
            ids = tokenizer.encode(PROMPT, true, true);
            if (ids.length < 2) ids = new int[] {0, 0};
            tokenizer.decode(ids);
            ctx = model.config().contextLength();
        }
        if (ctx < 2) return Outcome.RAN; // nothing to run: a context this short holds no next-token prediction
        if (ids.length > ctx) ids = java.util.Arrays.copyOf(ids, ctx);
        try (Engine engine = Engine.open(p, EngineConfig.singleSequence(Math.min(ctx, 64)).threads(1).build())) {
            Result r = engine.submit(Request.tokens("fuzz", ids).greedy(1).ignoreEos(true).truncateLeft(true).promptLogprobs(0).build()).join();
            if (r.error() != null) {
                if (r.error().contains("non-finite logits") || r.error().contains("no finite logit")) return Outcome.REFUSED_NON_FINITE;
                throw new AssertionError("request error on a model that loaded: " + r.error());
            }
            for (Result.TokenLogprobs lp : r.promptLogprobs()) {
                if (!Double.isFinite(lp.logprob())) {
                    throw new AssertionError("non-finite log-probability " + lp.logprob() + " returned as a result");
                }
            }
            return Outcome.RAN;
        }
    }

    private static List<String> corpus() throws IOException {
        try (InputStream in = GgufFuzzTest.class.getResourceAsStream("gguf-fuzz-corpus.txt")) {
            assertThat(in).as("corpus resource").isNotNull();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines()
                    .filter(l -> !l.isBlank() && !l.startsWith("#")).toList();
        }
    }

    private static final class Report {
        final Map<Outcome, Integer> counts = new EnumMap<>(Outcome.class);
        final List<String> findings = new ArrayList<>();

        Report() {
            for (Outcome o : Outcome.values()) counts.put(o, 0);
        }

        void add(GgufMutation m, Checked c) {
            if (c.finding() != null) findings.add(c.finding());
            else counts.merge(c.outcome(), 1, Integer::sum);
        }

        /** One line for the CI log: what the fuzzer exercised. */
        void print(String what, int inputs) {
            System.out.printf("GGUF fuzz (%s): %d inputs: %d ran a forward step, %d refused as malformed files, %d refused "
                            + "by the tokenizer, %d refused for non-finite logits, %d findings%n", what, inputs,
                    counts.get(Outcome.RAN), counts.get(Outcome.REFUSED_FORMAT), counts.get(Outcome.REFUSED_TOKENIZER),
                    counts.get(Outcome.REFUSED_NON_FINITE), findings.size());
        }

        String describeFindings() {
            return "findings (corpus lines):\n" + String.join("\n", findings.subList(0, Math.min(40, findings.size())));
        }
    }
}
