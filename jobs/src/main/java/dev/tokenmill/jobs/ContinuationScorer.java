package dev.tokenmill.jobs;

import dev.tokenmill.Engine;
import dev.tokenmill.Request;
import dev.tokenmill.Result;
import dev.tokenmill.spark.EngineHolder;
import dev.tokenmill.spark.TokenmillOptions;
import dev.tokenmill.tokenizer.Tokenizer;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import scala.jdk.javaapi.CollectionConverters;

import java.io.Serial;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The classify and score tasks: each continuation (a label, a candidate answer) is scored as the sum of its tokens'
 * log-probabilities after the prompt. The continuations of one prompt go to the engine together, so the prompt's KV
 * blocks are computed once and served to the others by the prefix cache. Rows go through in windows of
 * {@value #WINDOW} so that a partition of any size keeps memory flat. A row whose requests fail gets {@code error}.
 */
final class ContinuationScorer implements MapPartitionsFunction<Row, Row> {
    @Serial private static final long serialVersionUID = 1L;
    static final int WINDOW = 64;
    private static final java.util.concurrent.atomic.AtomicLong WINDOWS = new java.util.concurrent.atomic.AtomicLong();

    enum Mode { CLASSIFY, SCORE_TEXT, SCORE_CANDIDATES }

    private final Map<String, String> options;
    private final Mode mode;
    private final List<String> labels;
    private final int promptIndex, candidatesIndex;

    ContinuationScorer(Map<String, String> options, Mode mode, List<String> labels, int promptIndex, int candidatesIndex) {
        this.options = new LinkedHashMap<>(options);
        this.mode = mode;
        this.labels = List.copyOf(labels);
        this.promptIndex = promptIndex;
        this.candidatesIndex = candidatesIndex;
    }

    static StructType outputSchema(StructType input, Mode mode) {
        StructType s = switch (mode) {
            case CLASSIFY -> input.add("label", DataTypes.StringType)
                    .add("label_probs", DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType));
            case SCORE_TEXT -> input.add("logprob", DataTypes.DoubleType).add("tokens", DataTypes.IntegerType);
            case SCORE_CANDIDATES -> input.add("candidate_logprobs", new ArrayType(new StructType()
                    .add("candidate", DataTypes.StringType).add("logprob", DataTypes.DoubleType).add("tokens", DataTypes.IntegerType), true));
        };
        return s.add("error", DataTypes.StringType);
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) throws Exception {
        List<Row> out = new ArrayList<>();
        try (EngineHolder.Lease lease = EngineHolder.acquire(TokenmillOptions.parse(options))) {
            Engine engine = lease.engine();
            List<Row> window = new ArrayList<>(WINDOW);
            while (rows.hasNext()) {
                window.add(rows.next());
                if (window.size() == WINDOW || !rows.hasNext()) {
                    scoreWindow(engine, window, out);
                    window.clear();
                }
            }
        }
        return out.iterator();
    }

    private record Pending(List<CompletableFuture<Result>> futures, List<int[]> spans, List<String> continuations, String error) {}

    private void scoreWindow(Engine engine, List<Row> window, List<Row> out) {
        Tokenizer tok = engine.tokenizer();
        long windowId = WINDOWS.incrementAndGet();
        List<Pending> pending = new ArrayList<>();
        for (int r = 0; r < window.size(); r++) {
            Row row = window.get(r);
            String prompt = row.getString(promptIndex);
            List<String> continuations = switch (mode) {
                case CLASSIFY -> labels;
                case SCORE_TEXT -> List.of("");
                case SCORE_CANDIDATES -> row.isNullAt(candidatesIndex) ? List.of()
                        : CollectionConverters.asJava(row.<scala.collection.Seq<String>>getAs(candidatesIndex));
            };
            if (prompt == null || prompt.isEmpty()) {
                pending.add(new Pending(List.of(), List.of(), continuations, "empty prompt"));
                continue;
            }
            List<CompletableFuture<Result>> futures = new ArrayList<>();
            List<int[]> spans = new ArrayList<>();
            int[] promptIds = tok.encode(prompt, true, false);
            for (int c = 0; c < continuations.size(); c++) {
                int[] ids;
                int from;
                if (mode == Mode.SCORE_TEXT) {
                    ids = promptIds;
                    from = 1;
                } else {
                    ids = continuationIds(tok, prompt, promptIds, continuations.get(c));
                    from = promptIds.length;
                }
                spans.add(new int[] {from, ids.length});
                futures.add(engine.submit(Request.tokens("score-" + windowId + "-" + r + "-" + c, ids).greedy(1).promptLogprobs(0).build()));
            }
            pending.add(new Pending(futures, spans, continuations, null));
        }
        for (int r = 0; r < window.size(); r++) out.add(finish(window.get(r), pending.get(r)));
    }

    /** The prompt's ids followed by the continuation's, tokenized together where that keeps the prompt's ids intact. */
    static int[] continuationIds(Tokenizer tok, String prompt, int[] promptIds, String continuation) {
        int[] joint = tok.encode(prompt + continuation, true, false);
        if (joint.length > promptIds.length && Arrays.equals(joint, 0, promptIds.length, promptIds, 0, promptIds.length)) return joint;
        int[] cont = tok.encode(continuation, false, false);
        int[] ids = Arrays.copyOf(promptIds, promptIds.length + cont.length);
        System.arraycopy(cont, 0, ids, promptIds.length, cont.length);
        return ids;
    }

    private Row finish(Row row, Pending p) {
        Object[] in = new Object[row.length()];
        for (int i = 0; i < in.length; i++) in[i] = row.get(i);
        double[] logprob = new double[p.futures().size()];
        int[] tokens = new int[p.futures().size()];
        String error = p.error();
        for (int c = 0; c < p.futures().size(); c++) {
            Result res = p.futures().get(c).join();
            if (res.isError()) {
                error = res.error();
                continue;
            }
            int[] span = p.spans().get(c);
            for (int pos = span[0]; pos < span[1]; pos++) logprob[c] += res.promptLogprobs().get(pos - 1).logprob();
            tokens[c] = span[1] - span[0];
        }
        Object[] extra = switch (mode) {
            case CLASSIFY -> error != null ? new Object[] {null, null, error} : classify(logprob);
            case SCORE_TEXT -> error != null ? new Object[] {null, null, error} : new Object[] {logprob[0], tokens[0], null};
            case SCORE_CANDIDATES -> {
                if (error != null) yield new Object[] {null, error};
                List<Row> cs = new ArrayList<>();
                for (int c = 0; c < logprob.length; c++) cs.add(RowFactory.create(p.continuations().get(c), logprob[c], tokens[c]));
                yield new Object[] {CollectionConverters.asScala(cs).toSeq(), null};
            }
        };
        Object[] all = Arrays.copyOf(in, in.length + extra.length);
        System.arraycopy(extra, 0, all, in.length, extra.length);
        return RowFactory.create(all);
    }

    /** The most likely label and every label's probability, normalised over the label set. */
    private Object[] classify(double[] logprob) {
        double max = Arrays.stream(logprob).max().orElseThrow();
        double z = 0;
        for (double lp : logprob) z += Math.exp(lp - max);
        Map<String, Object> probs = new LinkedHashMap<>();
        int best = 0;
        for (int c = 0; c < logprob.length; c++) {
            probs.put(labels.get(c), Math.exp(logprob[c] - max) / z);
            if (logprob[c] > logprob[best]) best = c;
        }
        return new Object[] {labels.get(best), CollectionConverters.asScala(probs), null};
    }
}
