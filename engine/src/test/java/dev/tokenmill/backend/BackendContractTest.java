package dev.tokenmill.backend;

import dev.tokenmill.Engine;
import dev.tokenmill.EngineConfig;
import dev.tokenmill.Request;
import dev.tokenmill.Result;
import dev.tokenmill.model.Model;
import dev.tokenmill.model.ModelLoader;
import dev.tokenmill.model.ReferenceForward;
import dev.tokenmill.model.TinyModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What every {@link Backend} must do, whatever the device: a subclass names its {@link BackendFactory} and its
 * tolerances, and inherits the tests. Models are the tiny random ones the tests write ({@link TinyModel}, F32
 * weights); the oracle is the float64 {@link ReferenceForward}. The backend is driven directly (a
 * {@link ForwardBatch} filled by hand) for logits, batch invariance, block sizes, mixed positions and rows that need only
 * their argmax, and through
 * {@link Engine} with a small KV budget for the prefix cache and preemption.
 *
 * <p>Nothing here names a device's classes; the engine is opened with {@link #device()}, so a CUDA subclass runs the
 * engine tests on the GPU. A backend that is not exact (bf16 products) overrides {@link #referenceTolerance()} and
 * {@link #consistencyTolerance()}; one with constraints on the block size overrides {@link #blockSizes()}.
 */
public abstract class BackendContractTest {
    /** Context of the tiny models (TinyModel writes 256). */
    private static final int MAX_SEQ_LEN = 256;
    private static final int MAX_BATCH_TOKENS = 64;
    private static final int MAX_SEQS = 4;

    @TempDir protected Path dir;

    /** The factory of the backend under test. */
    protected abstract BackendFactory factory();

    /**
     * Largest |logit - float64 reference| allowed on the tiny models, whose logits have a spread of a few units. The
     * CPU's float32 arithmetic with F32 KV stays within 2e-4; a bf16 backend needs about 1e-1.
     */
    protected abstract double referenceTolerance();

    /**
     * Largest difference allowed between two computations of the same logits that differ only in how the work was
     * laid out (batch, block size, block placement, prefix cache, preemption): 0 means the same bits.
     */
    protected double consistencyTolerance() {
        return 0;
    }

    /** KV cache element type the tests run with: F32, the exact one, unless the backend lacks it. */
    protected EngineConfig.KvType kvType() {
        return EngineConfig.KvType.F32;
    }

    /** Block sizes that must all give the same logits; the first is the one the other tests use. */
    protected int[] blockSizes() {
        return new int[] {4, 1, 3, 16, 24};
    }

    /** The device kind the engine tests ask for. */
    protected EngineConfig.Device device() {
        return factory().device();
    }

    protected int blockSize() {
        return blockSizes()[0];
    }

    /** Opens the backend under test for {@code model} with the tests' limits and a KV budget of {@code kvBytes}. */
    protected Backend openBackend(Model model, int blockSize, long kvBytes) {
        return factory().open(model, new BackendOptions(blockSize, MAX_BATCH_TOKENS, MAX_SEQS, MAX_SEQ_LEN, kvBytes,
                kvType(), 2, EngineConfig.NativeMode.fromSystemProperty(), -1, 0.5));
    }

    /** An engine config for the engine tests: this backend's device and KV type, 4-token blocks, 2 threads. */
    protected EngineConfig.Builder engineConfig() {
        return EngineConfig.builder().device(device()).kvType(kvType()).blockSize(blockSize()).threads(2)
                .maxBatchTokens(32).maxSeqs(8).maxModelLen(MAX_SEQ_LEN);
    }

    static Stream<TinyModel> models() {
        return Stream.of(TinyModel.llama(1), TinyModel.qwen2(2), TinyModel.qwen3(3));
    }

    // ---------------------------------------------------------------- driven directly

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void logitsMatchTheFloat64Reference(TinyModel tiny) throws Exception {
        int[] ids = randomIds(new Random(7), 21, tiny.vocab);
        double[][] want = ReferenceForward.logits(tiny, ids);
        try (Model m = ModelLoader.load(tiny.write(dir)); Backend backend = openBackend(m, blockSize(), 4L << 20)) {
            float[][] got = prefill(backend, ids, blocks(backend, 0, ids.length));
            double spread = 0;
            for (double[] row : want) for (double v : row) spread = Math.max(spread, Math.abs(v));
            assertThat(spread).as("logits must be non-trivial for the test to mean anything").isGreaterThan(1.0);
            assertClose(got, want, referenceTolerance(), "against the float64 reference");
        }
    }

    @Test
    void aSequencesLogitsDoNotDependOnTheOthersInItsStep() throws Exception {
        TinyModel tiny = TinyModel.qwen2(4);
        Random r = new Random(8);
        int[] a = randomIds(r, 11, tiny.vocab), b = randomIds(r, 6, tiny.vocab), c = randomIds(r, 9, tiny.vocab);
        try (Model m = ModelLoader.load(tiny.write(dir)); Backend backend = openBackend(m, blockSize(), 4L << 20)) {
            float[][] aloneA = prefill(backend, a, blocks(backend, 0, a.length));
            float[][] aloneB = prefill(backend, b, blocks(backend, 0, b.length));
            // all three prompts in one step, each in other blocks than before, every row's logits
            int[][] tables = {blocks(backend, 10, a.length), blocks(backend, 20, b.length), blocks(backend, 30, c.length)};
            float[][][] together = step(backend, List.of(new Part(0, tables[1], b, 0, true),
                    new Part(1, tables[0], a, 0, true), new Part(2, tables[2], c, 0, true)));
            assertClose(together[1], aloneA, consistencyTolerance(), "sequence a in a batch of three");
            assertClose(together[0], aloneB, consistencyTolerance(), "sequence b in a batch of three");

            // then one decode each, in another order, against the reference
            int nextA = 5, nextB = 9;
            float[][][] decode = step(backend, List.of(new Part(0, tables[0], new int[] {nextA}, a.length, true),
                    new Part(1, tables[1], new int[] {nextB}, b.length, true)));
            assertClose(decode[0], last(ReferenceForward.logits(tiny, append(a, nextA))), referenceTolerance(), "decode of a");
            assertClose(decode[1], last(ReferenceForward.logits(tiny, append(b, nextB))), referenceTolerance(), "decode of b");
        }
    }

    @Test
    void anyBlockSizeGivesTheSameLogits() throws Exception {
        TinyModel tiny = TinyModel.qwen3(11);
        int[] ids = randomIds(new Random(17), 23, tiny.vocab);
        try (Model m = ModelLoader.load(tiny.write(dir))) {
            float[][] want = null;
            for (int bs : blockSizes()) {
                try (Backend backend = openBackend(m, bs, 4L << 20)) {
                    assertThat(backend.blockSize()).isEqualTo(bs);
                    float[][] got = prefill(backend, ids, blocks(backend, 0, ids.length));
                    if (want == null) want = got;
                    else assertClose(got, want, consistencyTolerance(), "block size " + bs + " against " + blockSizes()[0]);
                }
            }
        }
    }

    @Test
    void scatteredBlocksGiveTheSameLogitsAsConsecutiveOnes() throws Exception {
        TinyModel tiny = TinyModel.llama(6);
        int[] ids = randomIds(new Random(12), 15, tiny.vocab);
        try (Model m = ModelLoader.load(tiny.write(dir)); Backend backend = openBackend(m, blockSize(), 4L << 20)) {
            int[] consecutive = blocks(backend, 0, ids.length);
            int[] scattered = consecutive.clone();
            for (int i = 0; i < scattered.length; i++) scattered[i] = backend.numBlocks() - 1 - 3 * i;
            assertClose(prefill(backend, ids, scattered), prefill(backend, ids, consecutive), consistencyTolerance(),
                    "blocks " + java.util.Arrays.toString(scattered));
        }
    }

    @Test
    void sequencesAtVeryDifferentPositionsShareOneStep() throws Exception {
        TinyModel tiny = TinyModel.llama(5);
        Random r = new Random(9);
        int[] longSeq = randomIds(r, 230, tiny.vocab), midSeq = randomIds(r, 40, tiny.vocab);
        int[] newSeq = randomIds(r, 7, tiny.vocab), oneToken = randomIds(r, 1, tiny.vocab);
        try (Model m = ModelLoader.load(tiny.write(dir)); Backend backend = openBackend(m, blockSize(), 4L << 20)) {
            int perSeq = Math.ceilDiv(MAX_SEQ_LEN, backend.blockSize());
            int[] tLong = blocks(backend, 0, MAX_SEQ_LEN), tMid = blocks(backend, perSeq, MAX_SEQ_LEN);
            int[] tNew = blocks(backend, 2 * perSeq, MAX_SEQ_LEN), tOne = blocks(backend, 3 * perSeq, MAX_SEQ_LEN);
            prefill(backend, java.util.Arrays.copyOf(longSeq, longSeq.length - 1), tLong);
            prefill(backend, java.util.Arrays.copyOf(midSeq, midSeq.length - 2), tMid);
            // one step: the long sequence decodes at 229, the middle one computes its last two prompt tokens at 38..39,
            // a new prompt starts at 0 and a one-token prompt runs alone at 0
            float[][][] got = step(backend, List.of(
                    new Part(0, tNew, newSeq, 0, true),
                    new Part(1, tLong, new int[] {longSeq[229]}, 229, true),
                    new Part(2, tOne, oneToken, 0, true),
                    new Part(3, tMid, new int[] {midSeq[38], midSeq[39]}, 38, true)));
            assertClose(got[0], ReferenceForward.logits(tiny, newSeq), referenceTolerance(), "new prompt at 0..6");
            assertClose(got[1], last(ReferenceForward.logits(tiny, longSeq)), referenceTolerance(), "decode at 229");
            assertClose(got[2], ReferenceForward.logits(tiny, oneToken), referenceTolerance(), "one token at 0");
            double[][] mid = ReferenceForward.logits(tiny, midSeq);
            assertClose(got[3], new double[][] {mid[38], mid[39]}, referenceTolerance(), "prompt tail at 38..39");
        }
    }

    @Test
    void aRowMarkedArgmaxOnlyComesBackWholeOrAsItsArgmax() throws Exception {
        TinyModel tiny = TinyModel.qwen3(12);
        int[] ids = randomIds(new Random(19), 10, tiny.vocab);
        try (Model m = ModelLoader.load(tiny.write(dir)); Backend backend = openBackend(m, blockSize(), 4L << 20)) {
            int[] table = blocks(backend, 0, ids.length);
            float[][] whole = prefill(backend, ids, table);
            ForwardBatch batch = new ForwardBatch(ids.length, 1, table.length);
            batch.nSeqs = 1;
            batch.contextLens[0] = ids.length;
            System.arraycopy(table, 0, batch.blockTables[0], 0, table.length);
            for (int i = 0; i < ids.length; i++) {
                batch.addToken(0, ids[i], i, true);
                batch.argmaxOnly[i] = i % 2 == 1;
            }
            Logits logits = backend.forward(batch);
            for (int r = 0; r < ids.length; r++) {
                int argmax = logits.argmax(r);
                if (r % 2 == 0) assertThat(argmax).as("row %d is not argmaxOnly: it comes back whole", r).isEqualTo(-1);
                if (argmax == -1) {
                    assertClose(new float[][] {logits.copyRow(r)}, new float[][] {whole[r]}, consistencyTolerance(), "row " + r);
                } else {
                    assertThat(argmax).as("argmax of row %d", r).isEqualTo(argmax(whole[r]));
                }
            }
        }
    }

    // ---------------------------------------------------------------- through the engine

    @Test
    void aPrefixCachedPromptGivesWhatAFreshOneGives() throws Exception {
        Path model = TinyModel.llama(21).write(dir);
        Random r = new Random(3);
        int[] header = randomIds(r, 24, 64);
        int[] prompt = concat(header, randomIds(r, 9, 64));
        Request warm = Request.tokens("warm", concat(header, randomIds(r, 5, 64))).greedy(2).ignoreEos(true).build();
        Request asked = Request.tokens("asked", prompt).greedy(12).ignoreEos(true).logprobs(0).build();
        Result cached, fresh;
        try (Engine engine = Engine.open(model, engineConfig().prefixCaching(true).kvCacheBytes(kvBytes(model, 256)).build())) {
            engine.generate(List.of(warm));
            cached = engine.generate(List.of(asked)).get(0);
        }
        try (Engine engine = Engine.open(model, engineConfig().prefixCaching(false).kvCacheBytes(kvBytes(model, 256)).build())) {
            fresh = engine.generate(List.of(asked)).get(0);
        }
        assertThat(cached.error()).isNull();
        assertThat(cached.cachedPromptTokens()).as("prompt tokens served from the prefix cache")
                .isEqualTo(header.length / blockSize() * blockSize());
        assertThat(fresh.cachedPromptTokens()).isZero();
        assertSameGeneration(cached, fresh);
    }

    @Test
    void preemptedSequencesResumeWithTheResultsOfUninterruptedOnes() throws Exception {
        Path model = TinyModel.qwen2(22).write(dir);
        Random r = new Random(4);
        List<Request> requests = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            requests.add(Request.tokens("r" + i, randomIds(r, 6 + r.nextInt(30), 80)).greedy(8 + r.nextInt(16))
                    .ignoreEos(true).logprobs(0).build());
        }
        List<Result> squeezed;
        // 80 tokens of KV: two or three sequences (up to 59 tokens each) fit at a time, so running ones are preempted
        try (Engine engine = Engine.open(model, engineConfig().kvCacheBytes(kvBytes(model, 80)).build())) {
            squeezed = engine.generate(requests);
            assertThat(engine.stats().preemptions()).as("preemptions").isPositive();
        }
        try (Engine engine = Engine.open(model, engineConfig().prefixCaching(false).kvCacheBytes(kvBytes(model, 1024)).build())) {
            for (int i = 0; i < requests.size(); i++) {
                Result alone = engine.generate(List.of(requests.get(i))).get(0);
                assertSameGeneration(squeezed.get(i), alone);
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    /** One sequence's tokens in a step: slot, block table, ids at positions {@code start..}, logits for each or the last. */
    protected record Part(int slot, int[] blockTable, int[] ids, int start, boolean everyRow) {}

    /** Runs one forward call over {@code parts}; returns each part's logit rows in order. */
    protected static float[][][] step(Backend backend, List<Part> parts) {
        int tokens = parts.stream().mapToInt(p -> p.ids().length).sum();
        int maxBlocks = parts.stream().mapToInt(p -> p.blockTable().length).max().orElse(1);
        ForwardBatch batch = new ForwardBatch(tokens, parts.size(), maxBlocks);
        batch.nSeqs = parts.size();
        for (Part p : parts) {
            System.arraycopy(p.blockTable(), 0, batch.blockTables[p.slot()], 0, p.blockTable().length);
            batch.contextLens[p.slot()] = p.start() + p.ids().length;
        }
        for (Part p : parts) {
            for (int i = 0; i < p.ids().length; i++) batch.addToken(p.slot(), p.ids()[i], p.start() + i, p.everyRow() || i == p.ids().length - 1);
        }
        assertThat(batch.nLogits).as("logit rows of one step (the backend's maxLogitRows)").isLessThanOrEqualTo(backend.maxLogitRows());
        Logits logits = backend.forward(batch);
        assertThat(logits.count()).isEqualTo(batch.nLogits);
        float[][][] out = new float[parts.size()][][];
        int row = 0;
        for (int s = 0; s < parts.size(); s++) {
            Part p = parts.get(s);
            out[s] = new float[p.everyRow() ? p.ids().length : 1][];
            for (int i = 0; i < out[s].length; i++, row++) {
                assertThat(logits.argmax(row)).as("rows not marked argmaxOnly come back whole").isEqualTo(-1);
                out[s][i] = logits.copyRow(row);
            }
        }
        return out;
    }

    /** Runs {@code ids} from position 0 in chunks of as many tokens as one call returns logits for; every row's logits. */
    protected static float[][] prefill(Backend backend, int[] ids, int[] blockTable) {
        int chunk = Math.min(MAX_BATCH_TOKENS, backend.maxLogitRows());
        float[][] out = new float[ids.length][];
        for (int start = 0; start < ids.length; start += chunk) {
            int[] part = java.util.Arrays.copyOfRange(ids, start, Math.min(ids.length, start + chunk));
            float[][] rows = step(backend, List.of(new Part(0, blockTable, part, start, true)))[0];
            System.arraycopy(rows, 0, out, start, rows.length);
        }
        return out;
    }

    /** A table of consecutive blocks {@code first..} for {@code tokens} tokens; fails if the backend has too few. */
    protected static int[] blocks(Backend backend, int first, int tokens) {
        int n = Math.ceilDiv(tokens, backend.blockSize());
        assertThat(first + n).as("KV blocks the test needs").isLessThanOrEqualTo(backend.numBlocks());
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = first + i;
        return t;
    }

    /** A KV budget of {@code tokens} tokens in blocks of {@link #blockSize()} for the model at {@code path}, as this backend sizes them. */
    private long kvBytes(Path path, int tokens) throws IOException {
        try (Model m = ModelLoader.load(path); Backend b = openBackend(m, blockSize(), 4L << 20)) {
            return Math.ceilDiv(tokens, blockSize()) * b.kvBytesPerBlock();
        }
    }

    private void assertSameGeneration(Result got, Result want) {
        assertThat(got.error()).as("%s failed", got.id()).isNull();
        assertThat(got.tokenIds()).as("greedy tokens of %s", got.id()).containsExactly(want.tokenIds());
        assertThat(got.logprobs()).hasSameSizeAs(want.logprobs());
        for (int i = 0; i < want.logprobs().size(); i++) {
            assertThat(got.logprobs().get(i).logprob()).as("logprob of token %d of %s", i, got.id())
                    .isCloseTo(want.logprobs().get(i).logprob(), org.assertj.core.data.Offset.offset(consistencyTolerance()));
        }
    }

    private static void assertClose(float[][] got, float[][] want, double tolerance, String what) {
        assertThat(got.length).as(what).isEqualTo(want.length);
        for (int t = 0; t < want.length; t++) {
            if (tolerance == 0) {
                assertThat(got[t]).as("%s, row %d: the same bits", what, t).containsExactly(want[t]);
                continue;
            }
            for (int v = 0; v < want[t].length; v++) {
                assertThat((double) got[t][v]).as("%s, row %d, token %d", what, t, v)
                        .isCloseTo(want[t][v], org.assertj.core.data.Offset.offset(tolerance));
            }
        }
    }

    private static void assertClose(float[][] got, double[][] want, double tolerance, String what) {
        assertThat(got.length).as(what).isEqualTo(want.length);
        double max = 0;
        for (int t = 0; t < want.length; t++) {
            assertThat(got[t].length).isEqualTo(want[t].length);
            for (int v = 0; v < want[t].length; v++) max = Math.max(max, Math.abs(got[t][v] - want[t][v]));
        }
        assertThat(max).as("%s: max |logit - reference|", what).isLessThanOrEqualTo(tolerance);
    }

    /** The lowest id among equal maxima, as {@link Logits#argmax} defines it. */
    private static int argmax(float[] row) {
        int best = 0;
        for (int i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
        return best;
    }

    private static double[][] last(double[][] rows) {
        return new double[][] {rows[rows.length - 1]};
    }

    protected static int[] randomIds(Random r, int n, int vocab) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextInt(vocab);
        return ids;
    }

    private static int[] append(int[] ids, int next) {
        int[] out = java.util.Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = next;
        return out;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
