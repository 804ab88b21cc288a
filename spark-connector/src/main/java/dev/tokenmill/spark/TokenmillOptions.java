package dev.tokenmill.spark;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmill.EngineConfig;
import dev.tokenmill.Request;
import dev.tokenmill.sample.SamplingParams;

import java.io.Serializable;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
 */
public record TokenmillOptions(String model, String modelCacheDir, int threads, int maxSeqs, int maxBatchTokens,
                               long kvCacheBytes, EngineConfig.Device device, int maxInFlight, int idleSeconds,
                               String promptColumn, String template, String messagesColumn, String systemPrompt,
                               String resultColumn, Sampling sampling, int logprobs) implements Serializable {

    /** Sampling options of a row: the defaults from the options, each overridable by a column. */
    public record Sampling(int maxTokens, float temperature, float topP, int topK, float minP, long seed,
                           List<String> stop) implements Serializable {
        public Sampling {
            stop = List.copyOf(stop);
        }

        /** Validated engine sampling parameters; @throws IllegalArgumentException naming the bad one */
        SamplingParams toParams() {
            return SamplingParams.builder().maxTokens(maxTokens).temperature(temperature).topP(topP).topK(topK)
                    .minP(minP).seed(seed).stopStrings(stop).build();
        }
    }

    /** Per-row overridable options; a column of the same name overrides the option for its row. */
    public static final List<String> ROW_OPTIONS =
            List.of("maxTokens", "temperature", "topP", "topK", "minP", "seed", "stop", "logprobs");

    private static final ObjectMapper JSON = new ObjectMapper();

    public TokenmillOptions {
        if (model == null || model.isBlank()) throw new IllegalArgumentException("tokenmill option 'model' is required: a GGUF file path or URI");
        if (maxInFlight < 1) throw new IllegalArgumentException("tokenmill option 'maxInFlight' must be >= 1, got " + maxInFlight);
        if (idleSeconds < 0) throw new IllegalArgumentException("tokenmill option 'idleSeconds' must be >= 0, got " + idleSeconds);
        if (threads < 0) throw new IllegalArgumentException("tokenmill option 'threads' must be >= 0 (0 = executor cores), got " + threads);
        if (template != null && messagesColumn != null) {
            throw new IllegalArgumentException("tokenmill options 'template' and 'messagesColumn' exclude each other");
        }
        if (resultColumn == null || resultColumn.isBlank()) throw new IllegalArgumentException("tokenmill option 'resultColumn' must not be empty");
        if (logprobs != Request.NO_LOGPROBS && (logprobs < 0 || logprobs > Request.MAX_LOGPROBS)) {
            throw new IllegalArgumentException("tokenmill option 'logprobs' must be in [0, " + Request.MAX_LOGPROBS + "] or -1 (none), got " + logprobs);
        }
        engineConfig(threads > 0 ? threads : 1, maxSeqs, maxBatchTokens, kvCacheBytes, device); // fails now, on the driver
    }

    /** Parses Spark-style string options; unknown keys are ignored (Spark passes its own, such as {@code path}). */
    public static TokenmillOptions parse(Map<String, String> raw) {
        var o = new TreeMap<String, String>(String.CASE_INSENSITIVE_ORDER);
        o.putAll(raw);
        var d = SamplingParams.defaults();
        var sp = new Sampling(integer(o, "maxTokens", 128), (float) decimal(o, "temperature", d.temperature()),
                (float) decimal(o, "topP", d.topP()), integer(o, "topK", d.topK()), (float) decimal(o, "minP", d.minP()),
                longInt(o, "seed", d.seed()), stopStrings(o.get("stop")));
        try {
            sp.toParams();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("tokenmill options: " + e.getMessage(), e);
        }
        int maxSeqs = integer(o, "maxSeqs", 64);
        return new TokenmillOptions(o.get("model"),
                o.getOrDefault("modelCacheDir", System.getProperty("java.io.tmpdir") + "/tokenmill-models"),
                integer(o, "threads", 0), maxSeqs, integer(o, "maxBatchTokens", Math.max(512, maxSeqs)),
                longInt(o, "kvCacheBytes", EngineConfig.AUTO), device(o.get("device")),
                integer(o, "maxInFlight", 2 * maxSeqs), integer(o, "idleSeconds", 60),
                o.getOrDefault("promptColumn", "prompt"), blankToNull(o.get("template")), blankToNull(o.get("messagesColumn")),
                blankToNull(o.get("systemPrompt")), o.getOrDefault("resultColumn", "result"), sp,
                integer(o, "logprobs", Request.NO_LOGPROBS));
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
