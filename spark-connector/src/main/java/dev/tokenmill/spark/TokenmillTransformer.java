package dev.tokenmill.spark;

import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;

import java.util.HashMap;
import java.util.Map;

/**
 * A Spark ML {@link Transformer} that runs a GGUF model over a column of prompts (or a template, or chat messages)
 * and appends a result struct column. Every {@link TokenmillOptions option} is a {@link Param}; the transformer is
 * saved and loaded with the ML writer and reader and works inside a {@code Pipeline}.
 *
 * <pre>{@code
 * var t = new TokenmillTransformer().setModel("hdfs:///models/qwen.gguf").setPromptColumn("question").setMaxTokens(64);
 * Dataset<Row> answers = t.transform(questions);
 * // structured output: at most one of jsonSchema, jsonObject, regex, choices, grammar (see TokenmillOptions)
 * var labels = new TokenmillTransformer().setModel(m).setChoices("positive", "negative").transform(reviews);
 * var people = new TokenmillTransformer().setModel(m).setJsonSchema(schema).setParseJson(true).transform(bios); // + result_json
 * }</pre>
 */
public final class TokenmillTransformer extends Transformer implements DefaultParamsWritable {
    private final String uid;

    private final Param<String> model;
    private final Param<String> modelCacheDir;
    private final Param<String> promptColumn;
    private final Param<String> template;
    private final Param<String> messagesColumn;
    private final Param<String> systemPrompt;
    private final Param<String> resultColumn;
    private final IntParam maxTokens;
    private final DoubleParam temperature;
    private final DoubleParam topP;
    private final IntParam topK;
    private final DoubleParam minP;
    private final LongParam seed;
    private final StringArrayParam stop;
    private final IntParam logprobs;
    private final IntParam threads;
    private final IntParam maxSeqs;
    private final IntParam maxBatchTokens;
    private final LongParam kvCacheBytes;
    private final Param<String> device;
    private final IntParam maxInFlight;
    private final DoubleParam timeoutSeconds;
    private final Param<String> jsonSchema;
    private final BooleanParam jsonObject;
    private final Param<String> regex;
    private final StringArrayParam choices;
    private final Param<String> grammar;
    private final BooleanParam parseJson;
    private final Param<String> jsonColumn;

    public TokenmillTransformer() {
        this(Identifiable$.MODULE$.randomUID("tokenmill"));
    }

    public TokenmillTransformer(String uid) {
        this.uid = uid;
        model = new Param<>(this, "model", "GGUF model: a local path or a Hadoop FileSystem URI (hdfs:, s3a:, file:)");
        modelCacheDir = new Param<>(this, "modelCacheDir", "local directory where remote models are copied once per host");
        promptColumn = new Param<>(this, "promptColumn", "string column holding the prompt");
        template = new Param<>(this, "template", "prompt text with {column} placeholders, instead of promptColumn");
        messagesColumn = new Param<>(this, "messagesColumn", "array<struct<role,content>> column rendered with the model's chat template");
        systemPrompt = new Param<>(this, "systemPrompt", "system message (chat) or text put before every prompt");
        resultColumn = new Param<>(this, "resultColumn", "name of the appended result struct column");
        maxTokens = new IntParam(this, "maxTokens", "tokens to generate at most per row");
        temperature = new DoubleParam(this, "temperature", "sampling temperature (0: greedy)");
        topP = new DoubleParam(this, "topP", "nucleus sampling mass in (0, 1]");
        topK = new IntParam(this, "topK", "sample among the k most likely tokens (0: off)");
        minP = new DoubleParam(this, "minP", "drop tokens less likely than minP times the most likely one");
        seed = new LongParam(this, "seed", "sampling seed (-1: random)");
        stop = new StringArrayParam(this, "stop", "stop strings");
        logprobs = new IntParam(this, "logprobs", "alternatives per generated token to return with its logprob (-1: none)");
        threads = new IntParam(this, "threads", "engine compute threads (0: the executor's cores)");
        maxSeqs = new IntParam(this, "maxSeqs", "sequences the engine runs at once");
        maxBatchTokens = new IntParam(this, "maxBatchTokens", "tokens per engine step");
        kvCacheBytes = new LongParam(this, "kvCacheBytes", "KV cache bytes (0: sized by the engine)");
        device = new Param<>(this, "device", "auto, cpu or cuda");
        maxInFlight = new IntParam(this, "maxInFlight", "rows a task keeps in the engine at once");
        timeoutSeconds = new DoubleParam(this, "timeoutSeconds", "a row unfinished this long in the engine ends with finish reason timeout (0: none)");
        jsonSchema = new Param<>(this, "jsonSchema", "JSON Schema the output must validate against (at most one constraint)");
        jsonObject = new BooleanParam(this, "jsonObject", "the output is any JSON object (at most one constraint)");
        regex = new Param<>(this, "regex", "regular expression the whole output matches (at most one constraint)");
        choices = new StringArrayParam(this, "choices", "the output is the most probable of these strings, scored (at most one constraint)");
        grammar = new Param<>(this, "grammar", "GBNF grammar, start rule root, the output follows (at most one constraint)");
        parseJson = new BooleanParam(this, "parseJson", "add a column with the output parsed into jsonSchema's Spark type");
        jsonColumn = new Param<>(this, "jsonColumn", "name of the parseJson column (default <resultColumn>_json)");
    }

    @Override
    public String uid() {
        return uid;
    }

    public Param<String> model() { return model; }
    public Param<String> modelCacheDir() { return modelCacheDir; }
    public Param<String> promptColumn() { return promptColumn; }
    public Param<String> template() { return template; }
    public Param<String> messagesColumn() { return messagesColumn; }
    public Param<String> systemPrompt() { return systemPrompt; }
    public Param<String> resultColumn() { return resultColumn; }
    public IntParam maxTokens() { return maxTokens; }
    public DoubleParam temperature() { return temperature; }
    public DoubleParam topP() { return topP; }
    public IntParam topK() { return topK; }
    public DoubleParam minP() { return minP; }
    public LongParam seed() { return seed; }
    public StringArrayParam stop() { return stop; }
    public IntParam logprobs() { return logprobs; }
    public IntParam threads() { return threads; }
    public IntParam maxSeqs() { return maxSeqs; }
    public IntParam maxBatchTokens() { return maxBatchTokens; }
    public LongParam kvCacheBytes() { return kvCacheBytes; }
    public Param<String> device() { return device; }
    public IntParam maxInFlight() { return maxInFlight; }
    public DoubleParam timeoutSeconds() { return timeoutSeconds; }
    public Param<String> jsonSchema() { return jsonSchema; }
    public BooleanParam jsonObject() { return jsonObject; }
    public Param<String> regex() { return regex; }
    public StringArrayParam choices() { return choices; }
    public Param<String> grammar() { return grammar; }
    public BooleanParam parseJson() { return parseJson; }
    public Param<String> jsonColumn() { return jsonColumn; }

    public TokenmillTransformer setModel(String v) { set(model, v); return this; }
    public TokenmillTransformer setModelCacheDir(String v) { set(modelCacheDir, v); return this; }
    public TokenmillTransformer setPromptColumn(String v) { set(promptColumn, v); return this; }
    public TokenmillTransformer setTemplate(String v) { set(template, v); return this; }
    public TokenmillTransformer setMessagesColumn(String v) { set(messagesColumn, v); return this; }
    public TokenmillTransformer setSystemPrompt(String v) { set(systemPrompt, v); return this; }
    public TokenmillTransformer setResultColumn(String v) { set(resultColumn, v); return this; }
    public TokenmillTransformer setMaxTokens(int v) { set(maxTokens, v); return this; }
    public TokenmillTransformer setTemperature(double v) { set(temperature, v); return this; }
    public TokenmillTransformer setTopP(double v) { set(topP, v); return this; }
    public TokenmillTransformer setTopK(int v) { set(topK, v); return this; }
    public TokenmillTransformer setMinP(double v) { set(minP, v); return this; }
    public TokenmillTransformer setSeed(long v) { set(seed, v); return this; }
    public TokenmillTransformer setStop(String... v) { set(stop, v); return this; }
    public TokenmillTransformer setLogprobs(int v) { set(logprobs, v); return this; }
    public TokenmillTransformer setThreads(int v) { set(threads, v); return this; }
    public TokenmillTransformer setMaxSeqs(int v) { set(maxSeqs, v); return this; }
    public TokenmillTransformer setMaxBatchTokens(int v) { set(maxBatchTokens, v); return this; }
    public TokenmillTransformer setKvCacheBytes(long v) { set(kvCacheBytes, v); return this; }
    public TokenmillTransformer setDevice(String v) { set(device, v); return this; }
    public TokenmillTransformer setMaxInFlight(int v) { set(maxInFlight, v); return this; }
    public TokenmillTransformer setTimeoutSeconds(double v) { set(timeoutSeconds, v); return this; }
    public TokenmillTransformer setJsonSchema(String v) { set(jsonSchema, v); return this; }
    public TokenmillTransformer setJsonObject(boolean v) { set(jsonObject, v); return this; }
    public TokenmillTransformer setRegex(String v) { set(regex, v); return this; }
    public TokenmillTransformer setChoices(String... v) { set(choices, v); return this; }
    public TokenmillTransformer setGrammar(String v) { set(grammar, v); return this; }
    public TokenmillTransformer setParseJson(boolean v) { set(parseJson, v); return this; }
    public TokenmillTransformer setJsonColumn(String v) { set(jsonColumn, v); return this; }

    /** The set params as connector options (unset ones take the connector's defaults). */
    Map<String, String> options() {
        Map<String, String> o = new HashMap<>();
        for (Param<?> p : params()) {
            if (!isDefined(p)) continue;
            Object v = $(p);
            o.put(p.name(), v instanceof String[] a ? toJson(a) : String.valueOf(v));
        }
        return o;
    }

    private static String toJson(String[] a) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(a);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        return Tokenmill.generate(dataset, options());
    }

    @Override
    public StructType transformSchema(StructType schema) {
        return Tokenmill.outputSchema(schema, options());
    }

    @Override
    public TokenmillTransformer copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    /** The ML reader: {@code TokenmillTransformer.read().load(path)}. */
    public static MLReader<TokenmillTransformer> read() {
        return new DefaultParamsReader<>();
    }

    public static TokenmillTransformer load(String path) {
        return read().load(path);
    }
}
