package dev.tokenmill.spark;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmill.EngineConfig;
import dev.tokenmill.Request;
import dev.tokenmill.sample.SamplingParams;
import dev.tokenmill.sample.constrain.Constraint;
import dev.tokenmill.sample.constrain.ConstraintCache;
import org.apache.spark.sql.types.DataType;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Every option of the connector, parsed once (names are case-insensitive, as Spark's options) and validated with
 * a message that names the option. Shared by the Transformer, the {@code mapPartitions} entry point and the
 * {@code tokenmill} DataSource.
 *
 * @param model          a local path or any Hadoop FileSystem URI of a GGUF file
 * @param modelCacheDir  local directory where remote models are copied, once per host
 * @param threads        engine compute threads; 0: the executor's cores ({@code spark.executor.cores}, or all
 *                       cores of the JVM in local mode)
 * @param maxSeqs        sequences the engine runs at once
 * @param maxBatchTokens tokens per engine step
 * @param kvCacheBytes   KV cache bytes; 0: sized by the engine
 * @param device         auto, cpu or cuda
 * @param maxInFlight    rows a task has submitted and not yet handed on; bounds memory per task
 * @param idleSeconds    an engine no task has used for this long is closed
 * @param promptColumn   column holding the prompt text
 * @param template       prompt text with {@code {column}} placeholders; replaces {@code promptColumn} when set
 * @param messagesColumn column of {@code array<struct<role,content>>} rendered with the model's chat template
 * @param systemPrompt   a system message put before the messages (chat) or text put before the prompt
 * @param resultColumn   name of the result struct column
 * @param sampling       defaults for every row; each field can be overridden by a column of the option's name
 * @param logprobs       alternatives per generated token to return ({@link Request#NO_LOGPROBS}: no logprobs)
 * @param timeoutMillis  a row still unfinished this long after it reached the engine ends with finish reason
 *                       {@code timeout}; 0: no deadline
 * @param parseJson      add a column holding the generated JSON parsed into the Spark type of the {@code jsonSchema}
 *                       option ({@link JsonSchemaTypes}); null where the row failed or its JSON is incomplete
 * @param jsonColumn     name of that column; default {@code <resultColumn>_json}
 *
 * <p>Structured output (the sampling's {@link Constraint constraint}): at most one of {@code jsonSchema} (a JSON
 * Schema's text), {@code jsonObject=true} (any JSON object), {@code regex} (the whole output matches it),
 * {@code choices} (a JSON array of strings, or one string: the output is the most probable of them, scored, and the
 * result struct gains {@code choice_probabilities}) and {@code grammar} (GBNF, start rule {@code root}). Each is
 * also a per-row column; a row whose constraint columns are not all null takes its constraint from them instead of
 * the options. Options that set two constraints, or one the engine cannot compile, fail on the driver naming the
 * option; two constraint columns set on one row, a constraint with stop strings, or a constraint column the engine
 * cannot compile fail that row only (null text, {@code error} set).
 */
public record TokenmillOptions(String model, String modelCacheDir, int threads, int maxSeqs, int maxBatchTokens,
                               long kvCacheBytes, EngineConfig.Device device, int maxInFlight, int idleSeconds,
                               String promptColumn, String template, String messagesColumn, String systemPrompt,
                               String resultColumn, Sampling sampling, int logprobs, long timeoutMillis,
                               boolean parseJson, String jsonColumn) implements Serializable {

    /** Sampling options of a row: the defaults from the options, each overridable by a column. */
    public record Sampling(int maxTokens, float temperature, float topP, int topK, float minP, long seed,
                           List<String> stop, OutputConstraint constraint) implements Serializable {
        public Sampling {
            stop = List.copyOf(stop);
            Objects.requireNonNull(constraint, "constraint");
        }

        /** Validated engine sampling parameters; @throws IllegalArgumentException naming the bad one */
        SamplingParams toParams() {
            return SamplingParams.builder().maxTokens(maxTokens).temperature(temperature).topP(topP).topK(topK)
                    .minP(minP).seed(seed).stopStrings(stop).constraint(constraint.toConstraint()).build();
        }
    }

    /**
     * The structured-output options of a row, as given (the engine's {@link Constraint} is not serializable); at most
     * one may be set. {@code choices} is null when not given.
     */
    public record OutputConstraint(String jsonSchema, boolean jsonObject, String regex, List<String> choices,
                                   String grammar) implements Serializable {
        public OutputConstraint {
            if (choices != null) choices = Collections.unmodifiableList(new ArrayList<>(choices)); // nulls kept: refused with a message
        }

        /** The names of the constraint options that are set. */
        List<String> given() {
            List<String> g = new ArrayList<>();
            if (jsonSchema != null) g.add("jsonSchema");
            if (jsonObject) g.add("jsonObject");
            if (regex != null) g.add("regex");
            if (choices != null) g.add("choices");
            if (grammar != null) g.add("grammar");
            return g;
        }

        /** The engine constraint, or null for none; @throws IllegalArgumentException when more than one is set */
        Constraint toConstraint() {
            List<String> g = given();
            if (g.size() > 1) {
                throw new IllegalArgumentException("at most one constraint per row, got " + String.join(" and ", g));
            }
            if (jsonSchema != null) return new Constraint.JsonSchema(jsonSchema);
            if (jsonObject) return new Constraint.JsonObject();
            if (regex != null) return new Constraint.Regex(regex);
            if (choices != null) return new Constraint.Choice(choices);
            if (grammar != null) return new Constraint.Grammar(grammar);
            return null;
        }
    }

    /** Per-row overridable options; a column of the same name overrides the option for its row. */
    public static final List<String> ROW_OPTIONS =
            List.of("maxTokens", "temperature", "topP", "topK", "minP", "seed", "stop", "logprobs",
                    "jsonSchema", "jsonObject", "regex", "choices", "grammar");

    private static final ObjectMapper JSON = new ObjectMapper();

    public TokenmillOptions {
        if (model == null || model.isBlank()) throw new IllegalArgumentException("tokenmill option 'model' is required: a GGUF file path or URI");
        if (maxInFlight < 1) throw new IllegalArgumentException("tokenmill option 'maxInFlight' must be >= 1, got " + maxInFlight);
        if (idleSeconds < 0) throw new IllegalArgumentException("tokenmill option 'idleSeconds' must be >= 0, got " + idleSeconds);
        if (threads < 0) throw new IllegalArgumentException("tokenmill option 'threads' must be >= 0 (0 = executor cores), got " + threads);
        if (template != null && messagesColumn != null) {
            throw new IllegalArgumentException("tokenmill options 'template' and 'messagesColumn' exclude each other");
        }
        if (timeoutMillis < 0) throw new IllegalArgumentException("tokenmill option 'timeoutSeconds' must be >= 0 (0 = none), got " + timeoutMillis / 1000.0);
        if (resultColumn == null || resultColumn.isBlank()) throw new IllegalArgumentException("tokenmill option 'resultColumn' must not be empty");
        if (logprobs != Request.NO_LOGPROBS && (logprobs < 0 || logprobs > Request.MAX_LOGPROBS)) {
            throw new IllegalArgumentException("tokenmill option 'logprobs' must be in [0, " + Request.MAX_LOGPROBS + "] or -1 (none), got " + logprobs);
        }
        if (parseJson && sampling.constraint().jsonSchema() == null) {
            throw new IllegalArgumentException("tokenmill option 'parseJson' needs the option 'jsonSchema' (the schema gives the column's type)");
        }
        if (parseJson && (jsonColumn == null || jsonColumn.isBlank() || jsonColumn.equals(resultColumn))) {
            throw new IllegalArgumentException("tokenmill option 'jsonColumn' must be a name other than the result column's, got '" + jsonColumn + "'");
        }
        if (parseJson) jsonType(sampling.constraint().jsonSchema());
        engineConfig(threads > 0 ? threads : 1, maxSeqs, maxBatchTokens, kvCacheBytes, device); // fails now, on the driver
    }

    /** The Spark type of the {@code parseJson} column; null without {@code parseJson}. */
    DataType jsonType() {
        return parseJson ? jsonType(sampling.constraint().jsonSchema()) : null;
    }

    private static DataType jsonType(String schema) {
        try {
            return JsonSchemaTypes.toSparkType(schema);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("tokenmill option 'jsonSchema' (with parseJson=true): " + e.getMessage(), e);
        }
    }

    /** Parses Spark-style string options; unknown keys are ignored (Spark passes its own, such as {@code path}). */
    public static TokenmillOptions parse(Map<String, String> raw) {
        var o = new TreeMap<String, String>(String.CASE_INSENSITIVE_ORDER);
        o.putAll(raw);
        var d = SamplingParams.defaults();
        var sp = new Sampling(integer(o, "maxTokens", 128), (float) decimal(o, "temperature", d.temperature()),
                (float) decimal(o, "topP", d.topP()), integer(o, "topK", d.topK()), (float) decimal(o, "minP", d.minP()),
                longInt(o, "seed", d.seed()), stopStrings(o.get("stop")), constraint(o));
        try {
            sp.toParams();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("tokenmill options: " + e.getMessage(), e);
        }
        String resultColumn = o.getOrDefault("resultColumn", "result");
        int maxSeqs = integer(o, "maxSeqs", 64);
        return new TokenmillOptions(o.get("model"),
                o.getOrDefault("modelCacheDir", System.getProperty("java.io.tmpdir") + "/tokenmill-models"),
                integer(o, "threads", 0), maxSeqs, integer(o, "maxBatchTokens", Math.max(512, maxSeqs)),
                longInt(o, "kvCacheBytes", EngineConfig.AUTO), device(o.get("device")),
                integer(o, "maxInFlight", 2 * maxSeqs), integer(o, "idleSeconds", 60),
                o.getOrDefault("promptColumn", "prompt"), blankToNull(o.get("template")), blankToNull(o.get("messagesColumn")),
                blankToNull(o.get("systemPrompt")), resultColumn, sp,
                integer(o, "logprobs", Request.NO_LOGPROBS), Math.round(decimal(o, "timeoutSeconds", 0) * 1000),
                bool(o, "parseJson"), o.getOrDefault("jsonColumn", resultColumn + "_json"));
    }

    private static OutputConstraint constraint(Map<String, String> o) {
        String v = blankToNull(o.get("choices"));
        List<String> choices = v == null ? null : choices(v, "tokenmill option 'choices'");
        var c = new OutputConstraint(blankToNull(o.get("jsonSchema")), bool(o, "jsonObject"), blankToNull(o.get("regex")),
                choices, blankToNull(o.get("grammar")));
        List<String> given = c.given();
        if (given.size() > 1) {
            throw new IllegalArgumentException("tokenmill options " + given.stream().map(g -> "'" + g + "'").toList()
                    + " exclude each other: at most one constraint");
        }
        if (given.size() == 1) {
            try {
                ConstraintCache.check(c.toConstraint()); // a bad regex, grammar or schema fails now, on the driver
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("tokenmill option '" + given.getFirst() + "': " + e.getMessage(), e);
            }
        }
        return c;
    }

    /**
     * Choices: a JSON array of distinct non-empty strings ({@code ["yes", "no"]}) or one plain string.
     *
     * @param what names the option or column in the message
     */
    static List<String> choices(String v, String what) {
        List<String> c;
        if (v.startsWith("[")) {
            try {
                c = JSON.readValue(v, new TypeReference<List<String>>() {});
            } catch (Exception e) {
                throw new IllegalArgumentException(what + " must be a JSON array of strings or one string, got " + v, e);
            }
        } else {
            c = List.of(v);
        }
        requireChoices(c, what);
        return c;
    }

    static void requireChoices(List<String> c, String what) {
        if (c.isEmpty()) throw new IllegalArgumentException(what + " needs at least one choice");
        if (c.stream().anyMatch(x -> x == null || x.isEmpty())) throw new IllegalArgumentException(what + " holds a null or empty choice: " + c);
        if (new HashSet<>(c).size() != c.size()) throw new IllegalArgumentException(what + " holds a choice twice: " + c);
    }

    private static boolean bool(Map<String, String> o, String key) {
        String v = o.get(key);
        if (v == null) return false;
        return switch (v.trim().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false", "" -> false;
            default -> throw new IllegalArgumentException("tokenmill option '" + key + "' must be true or false, got " + v);
        };
    }

    /** The engine configuration; {@code defaultThreads} is used when {@code threads} is 0. */
    EngineConfig engineConfig(int defaultThreads) {
        return engineConfig(threads > 0 ? threads : defaultThreads, maxSeqs, maxBatchTokens, kvCacheBytes, device);
    }

    private static EngineConfig engineConfig(int threads, int maxSeqs, int maxBatchTokens, long kvCacheBytes, EngineConfig.Device device) {
        try {
            return EngineConfig.builder().threads(threads).maxSeqs(maxSeqs)
                    .maxBatchTokens(maxBatchTokens).kvCacheBytes(kvCacheBytes).device(device).build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("tokenmill engine options: " + e.getMessage(), e);
        }
    }

    /** Stop strings: a JSON array ({@code ["\n", "END"]}) or one plain string. */
    static List<String> stopStrings(String v) {
        if (v == null || v.isEmpty()) return List.of();
        if (v.startsWith("[")) {
            try {
                return JSON.readValue(v, new TypeReference<List<String>>() {});
            } catch (Exception e) {
                throw new IllegalArgumentException("tokenmill option 'stop' must be a JSON array of strings or one string, got " + v, e);
            }
        }
        return List.of(v);
    }

    private static EngineConfig.Device device(String v) {
        if (v == null) return EngineConfig.Device.AUTO;
        try {
            return EngineConfig.Device.valueOf(v.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("tokenmill option 'device' must be auto, cpu or cuda, got " + v, e);
        }
    }

    private static String blankToNull(String v) {
        return v == null || v.isEmpty() ? null : v;
    }

    private static int integer(Map<String, String> o, String key, int dflt) {
        String v = o.get(key);
        if (v == null) return dflt;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("tokenmill option '" + key + "' must be an integer, got " + v, e);
        }
    }

    private static long longInt(Map<String, String> o, String key, long dflt) {
        String v = o.get(key);
        if (v == null) return dflt;
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("tokenmill option '" + key + "' must be an integer, got " + v, e);
        }
    }

    private static double decimal(Map<String, String> o, String key, double dflt) {
        String v = o.get(key);
        if (v == null) return dflt;
        try {
            return Double.parseDouble(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("tokenmill option '" + key + "' must be a number, got " + v, e);
        }
    }
}
