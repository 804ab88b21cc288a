package dev.tokenmill.spark;

import dev.tokenmill.Request;
import dev.tokenmill.RequestException;
import dev.tokenmill.tokenizer.ChatMessage;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How a row becomes a {@link Request}: which columns hold the prompt (a prompt column, a template's placeholders or
 * a chat-messages column) and which override a sampling option. Built once on the driver against the input schema
 * (a missing column or a column of the wrong type fails the job there, naming the column); applied to every row on
 * the executors, where a bad value fails only its row.
 */
final class PromptPlan implements Serializable {
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([^{}]+)}");

    private final TokenmillOptions options;
    private final int promptOrdinal;       // -1 when a template or messages are used
    private final int messagesOrdinal;     // -1 unless messagesColumn
    private final List<String> templateParts;   // literal, column, literal, column, ..., literal
    private final int[] templateOrdinals;
    private final List<String> templateColumns;
    private final Map<String, Integer> overrides;  // option name -> ordinal
    private final ResultColumns columns;
    private final boolean choicesFromText;         // a string 'choices' column: a JSON array or one choice

    PromptPlan(StructType input, TokenmillOptions o) {
        this.options = o;
        String[] names = input.fieldNames();
        if (o.messagesColumn() != null) {
            messagesOrdinal = ordinal(input, o.messagesColumn(), "messagesColumn");
            DataType t = input.fields()[messagesOrdinal].dataType();
            if (!(t instanceof ArrayType at && at.elementType() instanceof StructType st && st.size() >= 2
                    && st.fields()[0].dataType().equals(DataTypes.StringType) && st.fields()[1].dataType().equals(DataTypes.StringType))) {
                throw new IllegalArgumentException("tokenmill option 'messagesColumn': column '" + o.messagesColumn()
                        + "' must be array<struct<role:string,content:string>>, found " + t.simpleString());
            }
            promptOrdinal = -1;
            templateParts = null;
            templateOrdinals = null;
            templateColumns = null;
        } else if (o.template() != null) {
            messagesOrdinal = -1;
            promptOrdinal = -1;
            List<String> parts = new ArrayList<>();
            List<Integer> ords = new ArrayList<>();
            List<String> cols = new ArrayList<>();
            Matcher m = PLACEHOLDER.matcher(o.template());
            int last = 0;
            while (m.find()) {
                parts.add(o.template().substring(last, m.start()));
                ords.add(ordinal(input, m.group(1), "template placeholder {" + m.group(1) + "}"));
                cols.add(m.group(1));
                last = m.end();
            }
            parts.add(o.template().substring(last));
            templateParts = List.copyOf(parts);
            templateOrdinals = ords.stream().mapToInt(Integer::intValue).toArray();
            templateColumns = List.copyOf(cols);
        } else {
            messagesOrdinal = -1;
            templateParts = null;
            templateOrdinals = null;
            templateColumns = null;
            promptOrdinal = ordinal(input, o.promptColumn(), "promptColumn");
            requireType(input.fields()[promptOrdinal], DataTypes.StringType.equals(input.fields()[promptOrdinal].dataType()), "string");
        }
        overrides = new HashMap<>();
        for (String opt : TokenmillOptions.ROW_OPTIONS) {
            for (int i = 0; i < names.length; i++) {
                if (!names[i].equalsIgnoreCase(opt)) continue;
                StructField f = input.fields()[i];
                DataType t = f.dataType();
                boolean strings = t.equals(DataTypes.StringType) || t.equals(DataTypes.createArrayType(DataTypes.StringType, true))
                        || t.equals(DataTypes.createArrayType(DataTypes.StringType, false));
                switch (opt) {
                    case "stop", "choices" -> requireType(f, strings, "string or array<string>");
                    case "jsonSchema", "regex", "grammar" -> requireType(f, t.equals(DataTypes.StringType), "string");
                    case "jsonObject" -> requireType(f, t.equals(DataTypes.BooleanType) || t.equals(DataTypes.StringType), "boolean");
                    default -> requireType(f, t instanceof NumericType || t.equals(DataTypes.StringType), "numeric");
                }
                overrides.put(opt, i);
            }
        }
        choicesFromText = overrides.containsKey("choices")
                && input.fields()[overrides.get("choices")].dataType().equals(DataTypes.StringType);
        columns = new ResultColumns(o.resultColumn(), o.logprobs() != Request.NO_LOGPROBS || overrides.containsKey("logprobs"),
                o.sampling().constraint().choices() != null || overrides.containsKey("choices"),
                o.parseJson() ? o.jsonColumn() : null, o.jsonType());
        columns.appendTo(input); // a clash with an input column fails now, on the driver
    }

    /** The columns appended to the input: the result struct and, with {@code parseJson}, the typed JSON column. */
    ResultColumns columns() {
        return columns;
    }

    TokenmillOptions options() {
        return options;
    }

    /**
     * The request for one row. @throws IllegalArgumentException (or {@link RequestException}) naming the column when
     * the row cannot be a request: null or empty prompt, a bad per-row option
     */
    Request request(String id, RowValues row) {
        Request.Builder b;
        if (messagesOrdinal >= 0) {
            if (row.isNull(messagesOrdinal)) throw new IllegalArgumentException("messages column '" + options.messagesColumn() + "' is null");
            List<ChatMessage> messages = new ArrayList<>();
            if (options.systemPrompt() != null) messages.add(ChatMessage.system(options.systemPrompt()));
            messages.addAll(row.messages(messagesOrdinal));
            if (messages.isEmpty()) throw new IllegalArgumentException("messages column '" + options.messagesColumn() + "' is empty");
            b = Request.chat(id, messages);
        } else {
            String prompt;
            if (templateParts != null) {
                StringBuilder sb = new StringBuilder(templateParts.getFirst());
                for (int k = 0; k < templateOrdinals.length; k++) {
                    int ord = templateOrdinals[k];
                    if (row.isNull(ord)) throw new IllegalArgumentException("template placeholder column '" + templateColumns.get(k) + "' is null");
                    sb.append(row.text(ord)).append(templateParts.get(k + 1));
                }
                prompt = sb.toString();
            } else {
                if (row.isNull(promptOrdinal)) throw new IllegalArgumentException("prompt column '" + options.promptColumn() + "' is null");
                prompt = row.text(promptOrdinal);
            }
            if (prompt.isEmpty()) throw new IllegalArgumentException("the prompt is empty");
            if (options.systemPrompt() != null) prompt = options.systemPrompt() + prompt;
            b = Request.text(id, prompt);
        }
        var s = options.sampling();
        var sampling = new TokenmillOptions.Sampling(
                (int) integral(row, "maxTokens", s.maxTokens()),
                (float) decimal(row, "temperature", s.temperature()),
                (float) decimal(row, "topP", s.topP()),
                (int) integral(row, "topK", s.topK()),
                (float) decimal(row, "minP", s.minP()),
                integral(row, "seed", s.seed()),
                stop(row, s.stop()),
                constraint(row, s.constraint()));
        b.sampling(sampling.toParams());
        int logprobs = (int) integral(row, "logprobs", options.logprobs());
        if (logprobs != Request.NO_LOGPROBS) b.logprobs(logprobs);
        if (options.timeoutMillis() > 0) b.timeout(java.time.Duration.ofMillis(options.timeoutMillis()));
        return b.build();
    }

    private long integral(RowValues row, String opt, long dflt) {
        Integer ord = overrides.get(opt);
        if (ord == null || row.isNull(ord)) return dflt;
        try {
            long v = row.integer(ord);
            if (!opt.equals("seed") && (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE)) {
                throw new IllegalArgumentException(v + " is out of the int range");
            }
            return v;
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("per-row option column '" + opt + "': " + e.getMessage(), e);
        }
    }

    private double decimal(RowValues row, String opt, double dflt) {
        Integer ord = overrides.get(opt);
        if (ord == null || row.isNull(ord)) return dflt;
        try {
            return row.number(ord);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("per-row option column '" + opt + "': " + e.getMessage(), e);
        }
    }

    private List<String> stop(RowValues row, List<String> dflt) {
        Integer ord = overrides.get("stop");
        if (ord == null || row.isNull(ord)) return dflt;
        List<String> v = row.strings(ord);
        if (v.stream().anyMatch(x -> x == null || x.isEmpty())) {
            throw new IllegalArgumentException("per-row option column 'stop' holds a null or empty stop string: " + v);
        }
        return v;
    }

    /**
     * The row's constraint: from its constraint columns when any is set (not null, jsonObject not false), else the
     * options'. More than one set fails the row when the engine parameters are built.
     */
    private TokenmillOptions.OutputConstraint constraint(RowValues row, TokenmillOptions.OutputConstraint dflt) {
        String jsonSchema = string(row, "jsonSchema");
        String regex = string(row, "regex");
        String grammar = string(row, "grammar");
        boolean jsonObject = false;
        Integer ord = overrides.get("jsonObject");
        if (ord != null && !row.isNull(ord)) {
            String v = row.text(ord).trim();
            if (!v.equalsIgnoreCase("true") && !v.equalsIgnoreCase("false")) {
                throw new IllegalArgumentException("per-row option column 'jsonObject' must be true or false, got " + v);
            }
            jsonObject = Boolean.parseBoolean(v);
        }
        List<String> choices = null;
        ord = overrides.get("choices");
        if (ord != null && !row.isNull(ord)) {
            List<String> v = row.strings(ord);
            String what = "per-row option column 'choices'";
            if (choicesFromText) {
                choices = TokenmillOptions.choices(v.getFirst(), what); // a string column: a JSON array or one choice
            } else {
                TokenmillOptions.requireChoices(v, what);
                choices = v;
            }
        }
        var own = new TokenmillOptions.OutputConstraint(jsonSchema, jsonObject, regex, choices, grammar);
        return own.given().isEmpty() ? dflt : own;
    }

    private String string(RowValues row, String opt) {
        Integer ord = overrides.get(opt);
        return ord == null || row.isNull(ord) ? null : row.text(ord);
    }

    private static int ordinal(StructType schema, String column, String option) {
        String[] names = schema.fieldNames();
        for (int i = 0; i < names.length; i++) if (names[i].equals(column)) return i;
        for (int i = 0; i < names.length; i++) if (names[i].equalsIgnoreCase(column)) return i;
        throw new IllegalArgumentException("tokenmill option '" + option + "': no column '" + column + "' in the input; columns: "
                + Arrays.toString(names));
    }

    private static void requireType(StructField f, boolean ok, String expected) {
        if (!ok) {
            throw new IllegalArgumentException("tokenmill: column '" + f.name() + "' must be " + expected + ", found "
                    + f.dataType().simpleString());
        }
    }
}
