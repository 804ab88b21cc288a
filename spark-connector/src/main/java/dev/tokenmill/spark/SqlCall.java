package dev.tokenmill.spark;

import dev.tokenmill.Request;
import dev.tokenmill.sample.SamplingParams;
import dev.tokenmill.sample.constrain.Constraint;
import dev.tokenmill.tokenizer.ChatMessage;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.CreateMap;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.util.ArrayBasedMapData;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.catalyst.util.MapData;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * What one SQL call means, worked out on the driver from its arguments: the options (the session's
 * {@code spark.tokenmill.*}, then the call's map), the columns each row hands the engine (the text, per-row options,
 * per-row labels) and the result type. On the executors it turns those columns into a {@link Request} through the
 * connector's {@link PromptPlan}, and the engine's answer into the SQL result.
 */
final class SqlCall implements Serializable {
    static final String GENERATE = "tokenmill_generate";
    static final String CLASSIFY = "tokenmill_classify";
    static final String EXTRACT = "tokenmill_extract";

    /** {@code tokenmill_classify}'s result. */
    static final StructType CLASSIFY_TYPE = new StructType()
            .add("label", DataTypes.StringType, true)
            .add("probabilities", DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType, false), true)
            .add("error", DataTypes.StringType, true);

    /** Options about the DataFrame's columns, meaningless for a function: what to use instead. */
    private static final Map<String, String> DATAFRAME_ONLY = Map.of(
            "promptColumn", "the text is the function's first argument",
            "template", "build the prompt in SQL (concat, format_string)",
            "messagesColumn", "build the prompt in SQL (concat, format_string)",
            "resultColumn", "alias the function's result (AS name)",
            "parseJson", "tokenmill_extract returns the typed JSON",
            "jsonColumn", "tokenmill_extract returns the typed JSON");
    private static final String PROMPT = "prompt";
    private static final String LABELS = "__labels";

    private final String function;
    private final TokenmillOptions options;
    private final PromptPlan plan;
    private final List<Expression> argumentColumns;  // evaluated per row into a row of argumentSchema
    private final StructType argumentSchema;
    private final List<String> labels;               // classify with constant labels; null otherwise
    private final int labelsOrdinal;                 // classify with per-row labels; -1 otherwise
    private final String jsonSchema;                 // extract
    private final DataType dataType;
    private final int stopOrdinal;                   // a per-row 'stop' string column (JSON array or one string); -1 if none

    private SqlCall(String function, TokenmillOptions options, PromptPlan plan, List<Expression> argumentColumns,
                    StructType argumentSchema, List<String> labels, int labelsOrdinal, String jsonSchema, DataType dataType) {
        this.function = function;
        this.options = options;
        this.plan = plan;
        this.argumentColumns = argumentColumns;
        this.argumentSchema = argumentSchema;
        this.labels = labels;
        this.labelsOrdinal = labelsOrdinal;
        this.jsonSchema = jsonSchema;
        this.dataType = dataType;
        int stop = -1;
        for (int i = 0; i < argumentSchema.size(); i++) {
            if (argumentSchema.fields()[i].name().equals("stop") && argumentSchema.fields()[i].dataType().equals(DataTypes.StringType)) stop = i;
        }
        this.stopOrdinal = stop;
    }

    /**
     * Reads a call's arguments. @throws IllegalArgumentException naming the function and what is wrong: argument count or
     * type, no model, a bad option, an option that cannot change per row, invalid labels or JSON schema
     */
    static SqlCall of(String function, List<Expression> args, Map<String, String> session) {
        int fixed = function.equals(GENERATE) ? 1 : 2;
        if (args.size() < fixed || args.size() > fixed + 1) {
            String usage = switch (function) {
                case GENERATE -> "tokenmill_generate(prompt [, options_map])";
                case CLASSIFY -> "tokenmill_classify(text, array(labels) [, options_map])";
                default -> "tokenmill_extract(text, json_schema [, options_map])";
            };
            throw new IllegalArgumentException(usage + " takes " + fixed + " or " + (fixed + 1) + " arguments, got " + args.size());
        }
        Expression text = args.getFirst();
        if (!text.dataType().equals(DataTypes.StringType)) {
            throw new IllegalArgumentException(function + ": the text must be a string, found " + text.dataType().simpleString());
        }
        Map<String, String> raw = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        session.forEach((k, v) -> {
            if (!isDataFrameOnly(k)) raw.put(k, v);
        });
        Map<String, Expression> perRow = new LinkedHashMap<>();
        if (args.size() == fixed + 1) readOptions(function, args.get(fixed), raw, perRow);
        if (raw.get("model") == null || raw.get("model").isBlank()) {
            throw new IllegalArgumentException(function + ": no model: set spark.tokenmill.model (--conf or spark.conf.set) "
                    + "or pass map('model', '/path/model.gguf', ...)");
        }
        raw.put("promptColumn", PROMPT);
        TokenmillOptions options;
        try {
            options = TokenmillOptions.parse(raw);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(function + ": " + e.getMessage(), e);
        }

        // the row the plan reads: the text as column 'prompt', then each per-row option as a column of its name
        List<Expression> columns = new ArrayList<>(List.of(text));
        StructType argSchema = new StructType().add(PROMPT, DataTypes.StringType, true);
        for (var e : perRow.entrySet()) {
            columns.add(e.getValue());
            argSchema = argSchema.add(e.getKey(), e.getValue().dataType(), true);
        }

        List<String> labels = null;
        int labelsOrdinal = -1;
        String jsonSchema = null;
        DataType type;
        switch (function) {
            case CLASSIFY -> {
                Expression l = args.get(1);
                if (!(l.dataType() instanceof ArrayType at && at.elementType().equals(DataTypes.StringType))) {
                    throw new IllegalArgumentException(function + ": the labels must be array<string>, e.g. array('yes', 'no'), found "
                            + l.dataType().simpleString());
                }
                if (l.foldable()) {
                    labels = strings((ArrayData) l.eval(null));
                    if (labels == null) throw new IllegalArgumentException(function + ": the labels are null");
                    try {
                        SamplingParams.builder().choice(labels).build();
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException(function + ": labels " + labels + ": " + e.getMessage(), e);
                    }
                } else {
                    labelsOrdinal = argSchema.size();
                    argSchema = argSchema.add(LABELS, l.dataType(), true);
                    columns.add(l);
                }
                type = CLASSIFY_TYPE;
            }
            case EXTRACT -> {
                Expression s = args.get(1);
                if (!s.foldable() || !s.dataType().equals(DataTypes.StringType)) {
                    throw new IllegalArgumentException(function + ": the JSON schema must be a constant string, found " + s.sql());
                }
                Object v = s.eval(null);
                if (v == null) throw new IllegalArgumentException(function + ": the JSON schema is null");
                jsonSchema = v.toString();
                type = extractType(jsonSchema);
            }
            default -> type = null;
        }
        PromptPlan plan;
        try {
            plan = new PromptPlan(argSchema, options);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(function + ": " + e.getMessage(), e);
        }
        if (type == null) type = RowResult.schema(plan.columns().logprobs(), plan.columns().choices());
        return new SqlCall(function, options, plan, List.copyOf(columns), argSchema, labels, labelsOrdinal, jsonSchema, type);
    }

    /** The options map: constant entries join the session's options; the others are columns read per row. */
    private static void readOptions(String function, Expression map, Map<String, String> raw, Map<String, Expression> perRow) {
        if (!(map.dataType() instanceof MapType mt && mt.keyType().equals(DataTypes.StringType))) {
            throw new IllegalArgumentException(function + ": the options must be a map with string keys, e.g. map('maxTokens', '32'), found "
                    + map.dataType().simpleString());
        }
        if (map.foldable()) {
            MapData m = (MapData) map.eval(null);
            if (m == null) return;
            for (int i = 0; i < m.numElements(); i++) {
                Object v = m.valueArray().isNullAt(i) ? null : m.valueArray().get(i, mt.valueType());
                put(function, raw, m.keyArray().getUTF8String(i).toString(), v);
            }
        } else if (map instanceof CreateMap cm) {
            List<Expression> kv = ScalaSeqs.java(cm.children());
            for (int i = 0; i + 1 < kv.size(); i += 2) {
                Expression k = kv.get(i), v = kv.get(i + 1);
                if (!k.foldable() || k.eval(null) == null) {
                    throw new IllegalArgumentException(function + ": option names must be constant strings, found " + k.sql());
                }
                String key = k.eval(null).toString();
                if (v.foldable()) {
                    put(function, raw, key, v.eval(null));
                    continue;
                }
                String name = TokenmillOptions.ROW_OPTIONS.stream().filter(key::equalsIgnoreCase).findFirst()
                        .orElseThrow(() -> new IllegalArgumentException(function + ": option '" + key + "' must be a constant; "
                                + "only " + TokenmillOptions.ROW_OPTIONS + " can change per row, found " + v.sql()));
                perRow.put(name, v);
            }
        } else {
            throw new IllegalArgumentException(function + ": the options must be map(...) with constant names, found " + map.sql());
        }
    }

    private static void put(String function, Map<String, String> raw, String key, Object value) {
        String instead = DATAFRAME_ONLY.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(key)).map(Map.Entry::getValue)
                .findFirst().orElse(null);
        if (instead != null) throw new IllegalArgumentException(function + ": option '" + key + "' does not apply to a SQL function: " + instead);
        if (value == null) raw.remove(key);
        else raw.put(key, value.toString());
    }

    private static boolean isDataFrameOnly(String key) {
        return DATAFRAME_ONLY.keySet().stream().anyMatch(key::equalsIgnoreCase);
    }

    private static DataType extractType(String jsonSchema) {
        try {
            return JsonSchemaTypes.toSparkType(jsonSchema);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(EXTRACT + ": the JSON schema: " + e.getMessage(), e);
        }
    }

    /** The type reported while the arguments are still wrong (the type check then names the problem). */
    static DataType fallbackType(String function) {
        return switch (function) {
            case GENERATE -> RowResult.schema(false, false);
            case CLASSIFY -> CLASSIFY_TYPE;
            default -> DataTypes.NullType;
        };
    }

    String function() { return function; }

    TokenmillOptions options() { return options; }

    DataType dataType() { return dataType; }

    /** The expressions evaluated per row into the columns {@link #values} reads. */
    List<Expression> argumentColumns() { return argumentColumns; }

    /** One row of {@link #argumentColumns} as the prompt plan reads it. */
    RowValues values(InternalRow arguments) {
        RowValues v = SparkRows.of(arguments, argumentSchema);
        if (stopOrdinal < 0) return v;
        return new RowValues() { // a per-row 'stop' string is read as the option is: a JSON array or one stop string
            @Override public boolean isNull(int i) { return v.isNull(i); }
            @Override public String text(int i) { return v.text(i); }
            @Override public double number(int i) { return v.number(i); }
            @Override public long integer(int i) { return v.integer(i); }
            @Override public List<String> strings(int i) { return i == stopOrdinal ? TokenmillOptions.stopStrings(v.text(i)) : v.strings(i); }
            @Override public List<ChatMessage> messages(int i) { return v.messages(i); }
        };
    }

    /** The request of one row: the prompt plan's, with the function's constraint. */
    Request request(String id, RowValues row) {
        Request r = plan.request(id, row);
        Constraint c = switch (function) {
            case CLASSIFY -> new Constraint.Choice(labels != null ? labels : rowLabels(row));
            case EXTRACT -> new Constraint.JsonSchema(jsonSchema);
            default -> null;
        };
        if (c == null) return r;
        return r.toBuilder().sampling(r.sampling().toBuilder().constraint(c).build()).build();
    }

    private List<String> rowLabels(RowValues row) {
        if (row.isNull(labelsOrdinal)) throw new IllegalArgumentException("the labels are null");
        return row.strings(labelsOrdinal);
    }

    /** The SQL value of a row's result: a struct with its error set (generate, classify) or null (extract) when the row failed. */
    Object result(RowResult r) {
        return switch (function) {
            case GENERATE -> r.toInternalRow(plan.columns().logprobs(), plan.columns().choices());
            case CLASSIFY -> classified(r);
            default -> extracted(r);
        };
    }

    private static InternalRow classified(RowResult r) {
        if (r.error() != null) return new GenericInternalRow(new Object[] {null, null, UTF8String.fromString(r.error())});
        Map<String, Double> p = r.choiceProbabilities();
        if (p == null) return new GenericInternalRow(new Object[] {null, null, UTF8String.fromString("the engine returned no choice probabilities")});
        Object[] keys = new Object[p.size()];
        Object[] values = new Object[p.size()];
        int i = 0;
        for (var e : p.entrySet()) {
            keys[i] = UTF8String.fromString(e.getKey());
            values[i++] = e.getValue();
        }
        return new GenericInternalRow(new Object[] {UTF8String.fromString(r.text()),
                new ArrayBasedMapData(new GenericArrayData(keys), new GenericArrayData(values)), null});
    }

    /** The JSON parsed into the schema's type; null when the row failed, its JSON was cut short, or it does not fit. */
    private Object extracted(RowResult r) {
        if (r.failed() || r.incomplete() || r.text() == null) return null;
        try {
            return JsonSchemaTypes.toCatalyst(r.text(), dataType);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static List<String> strings(ArrayData a) {
        if (a == null) return null;
        List<String> out = new ArrayList<>();
        for (int i = 0; i < a.numElements(); i++) out.add(a.isNullAt(i) ? null : a.getUTF8String(i).toString());
        return out;
    }

    @Override
    public String toString() {
        return function.toLowerCase(Locale.ROOT) + "[" + options.model() + "]";
    }
}
