package dev.tokenmill.spark;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.util.ArrayBasedMapData;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.MapType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;

import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The Spark type a JSON Schema describes, and JSON text converted to a value of that type: what {@code parseJson}
 * (and SQL's {@code tokenmill_extract}) use to turn structured output into typed columns.
 *
 * <table>
 * <caption>JSON Schema to Spark</caption>
 * <tr><th>schema</th><th>Spark type</th></tr>
 * <tr><td>{@code object} with {@code properties}</td><td>struct, fields in declared order, all nullable</td></tr>
 * <tr><td>{@code object} with only {@code additionalProperties: <schema>}</td><td>map&lt;string, that type&gt;</td></tr>
 * <tr><td>{@code array} with {@code items}</td><td>array of the items' type</td></tr>
 * <tr><td>{@code integer} / {@code number} / {@code boolean}</td><td>bigint / double / boolean</td></tr>
 * <tr><td>{@code string}; {@code format} date / date-time</td><td>string; date / timestamp (other formats: string)</td></tr>
 * <tr><td>{@code enum} / {@code const}</td><td>the one type of its values (string, bigint, double or boolean;
 * integers with other numbers: double)</td></tr>
 * <tr><td>{@code anyOf} / {@code oneOf} / a {@code type} list</td><td>the one type of its non-null branches (integer
 * with number: double)</td></tr>
 * <tr><td>{@code $ref} to {@code #/$defs/...} or {@code #/definitions/...}</td><td>the target's type (not recursive)</td></tr>
 * </table>
 *
 * <p>Keywords that only constrain values (required, minimum, maxLength, ...) and annotations do not change the type.
 * Anything else (a keyword the engine's JSON Schema support lacks, a union of different types, a schema without a
 * type, a recursive {@code $ref}) is refused with an {@link IllegalArgumentException} naming it and its place.
 */
public final class JsonSchemaTypes {
    private static final ObjectMapper JSON = new ObjectMapper();
    // the keywords the engine's JSON Schema grammar accepts (dev.tokenmill.sample.constrain.JsonSchemaGrammar)
    private static final Set<String> ANNOTATIONS = Set.of("title", "description", "$schema", "$id", "default", "examples",
            "$comment", "readOnly", "writeOnly", "deprecated", "$defs", "definitions");
    private static final Set<String> SUPPORTED = Set.of("type", "properties", "required", "additionalProperties", "items",
            "minItems", "maxItems", "enum", "const", "minLength", "maxLength", "format", "minimum", "maximum",
            "exclusiveMinimum", "exclusiveMaximum", "anyOf", "oneOf", "$ref");

    private JsonSchemaTypes() {}

    /**
     * The Spark type of the JSON values a schema allows.
     *
     * @param jsonSchema the schema's JSON text
     * @throws IllegalArgumentException naming the keyword or construct (and its JSON pointer) that has no Spark type,
     *                                  or saying why the text is not a JSON schema
     */
    public static DataType toSparkType(String jsonSchema) {
        if (jsonSchema == null) throw new IllegalArgumentException("the JSON schema is null");
        JsonNode root;
        try {
            root = JSON.readTree(jsonSchema);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("the JSON schema is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("a JSON schema must be a JSON object, got " + (root == null ? "nothing" : root.getNodeType()));
        }
        return new Mapper(root).type(root, "#", new HashSet<>());
    }

    /**
     * JSON text as a value of {@code type} in Spark's internal form ({@code InternalRow}, {@code ArrayData},
     * {@code MapData}, {@code UTF8String}, days for a date, microseconds for a timestamp, boxed primitives); JSON
     * {@code null} and missing object properties are null, properties the struct lacks are ignored.
     *
     * @param json the JSON text, one value
     * @param type a type as {@link #toSparkType} returns
     * @throws IllegalArgumentException when the text is not JSON or a value does not fit its type (naming its path,
     *                                  such as {@code $.items[2].price})
     */
    public static Object toCatalyst(String json, DataType type) {
        if (json == null) return null;
        JsonNode node;
        try {
            node = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (node == null) throw new IllegalArgumentException("not valid JSON: the text is empty");
        return value(node, type, "$");
    }

    private static Object value(JsonNode n, DataType type, String path) {
        if (n == null || n.isNull() || n.isMissingNode()) return null;
        if (type instanceof StructType st) {
            expect(n.isObject(), n, "an object", path);
            Object[] v = new Object[st.size()];
            for (int i = 0; i < v.length; i++) {
                StructField f = st.fields()[i];
                v[i] = value(n.get(f.name()), f.dataType(), path + "." + f.name());
            }
            return new GenericInternalRow(v);
        }
        if (type instanceof ArrayType at) {
            expect(n.isArray(), n, "an array", path);
            Object[] v = new Object[n.size()];
            for (int i = 0; i < v.length; i++) v[i] = value(n.get(i), at.elementType(), path + "[" + i + "]");
            return new GenericArrayData(v);
        }
        if (type instanceof MapType mt) {
            expect(n.isObject(), n, "an object", path);
            List<Object> keys = new ArrayList<>();
            List<Object> values = new ArrayList<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                var e = it.next();
                keys.add(UTF8String.fromString(e.getKey()));
                values.add(value(e.getValue(), mt.valueType(), path + "." + e.getKey()));
            }
            return new ArrayBasedMapData(new GenericArrayData(keys.toArray()), new GenericArrayData(values.toArray()));
        }
        if (type.equals(DataTypes.StringType)) {
            expect(n.isTextual(), n, "a string", path);
            return UTF8String.fromString(n.textValue());
        }
        if (type.equals(DataTypes.LongType)) {
            expect(n.isIntegralNumber() && n.canConvertToLong(), n, "an integer within the bigint range", path);
            return n.longValue();
        }
        if (type.equals(DataTypes.DoubleType)) {
            expect(n.isNumber(), n, "a number", path);
            return n.doubleValue();
        }
        if (type.equals(DataTypes.BooleanType)) {
            expect(n.isBoolean(), n, "a boolean", path);
            return n.booleanValue();
        }
        if (type.equals(DataTypes.DateType)) {
            expect(n.isTextual(), n, "a date string", path);
            try {
                return (int) LocalDate.parse(n.textValue()).toEpochDay();
            } catch (DateTimeParseException e) {
                throw new IllegalArgumentException("expected a date (YYYY-MM-DD) at " + path + ", found " + n, e);
            }
        }
        if (type.equals(DataTypes.TimestampType)) {
            expect(n.isTextual(), n, "a date-time string", path);
            try {
                Instant t = OffsetDateTime.parse(n.textValue()).toInstant();
                return ChronoUnit.MICROS.between(Instant.EPOCH, t);
            } catch (DateTimeParseException e) {
                throw new IllegalArgumentException("expected an RFC 3339 date-time at " + path + ", found " + n, e);
            }
        }
        throw new IllegalArgumentException("type " + type.simpleString() + " at " + path + " is not one JsonSchemaTypes.toSparkType gives");
    }

    private static void expect(boolean ok, JsonNode n, String what, String path) {
        if (!ok) throw new IllegalArgumentException("expected " + what + " at " + path + ", found " + n.getNodeType() + " " + abbreviate(n.toString()));
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }

    /** Schema nodes to Spark types; {@code refs} holds the {@code $ref}s being resolved (to refuse recursion). */
    private record Mapper(JsonNode root) {
        DataType type(JsonNode s, String path, Set<String> refs) {
            if (s.isBoolean()) {
                throw new IllegalArgumentException("the schema at " + path + " is " + s + ": a schema that allows any value has no Spark type");
            }
            if (!s.isObject()) throw new IllegalArgumentException("the schema at " + path + " must be an object");
            for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!SUPPORTED.contains(k) && !ANNOTATIONS.contains(k)) {
                    throw new IllegalArgumentException("unsupported JSON Schema keyword '" + k + "' at " + path);
                }
            }
            if (s.has("$ref")) return ref(s.get("$ref").asText(), path, refs);
            if (s.has("const")) return literalType(List.of(s.get("const")), "const", path);
            if (s.has("enum")) {
                JsonNode e = s.get("enum");
                if (!e.isArray() || e.isEmpty()) throw new IllegalArgumentException("'enum' at " + path + " must be a non-empty array");
                List<JsonNode> values = new ArrayList<>();
                e.forEach(values::add);
                return literalType(values, "enum", path);
            }
            for (String k : new String[] {"anyOf", "oneOf"}) {
                if (!s.has(k)) continue;
                JsonNode list = s.get(k);
                if (!list.isArray() || list.isEmpty()) throw new IllegalArgumentException("'" + k + "' at " + path + " must be a non-empty array");
                List<DataType> branches = new ArrayList<>();
                for (int i = 0; i < list.size(); i++) {
                    JsonNode b = list.get(i);
                    if (isNullSchema(b)) continue;
                    branches.add(type(b, path + "/" + k + "/" + i, refs));
                }
                return single(branches, k, path);
            }
            List<String> types = new ArrayList<>();
            JsonNode t = s.get("type");
            if (t == null) {
                types.add(inferType(s, path));
            } else if (t.isTextual()) {
                types.add(t.asText());
            } else if (t.isArray() && !t.isEmpty()) {
                for (JsonNode x : t) types.add(x.asText());
            } else {
                throw new IllegalArgumentException("'type' at " + path + " must be a string or a non-empty array of strings");
            }
            List<DataType> branches = new ArrayList<>();
            for (String type : types) if (!type.equals("null")) branches.add(typed(type, s, path, refs));
            return single(branches, "type", path);
        }

        private DataType typed(String type, JsonNode s, String path, Set<String> refs) {
            return switch (type) {
                case "string" -> {
                    String format = s.has("format") ? s.get("format").asText() : "";
                    yield switch (format) {
                        case "date" -> DataTypes.DateType;
                        case "date-time" -> DataTypes.TimestampType;
                        default -> DataTypes.StringType;
                    };
                }
                case "integer" -> DataTypes.LongType;
                case "number" -> DataTypes.DoubleType;
                case "boolean" -> DataTypes.BooleanType;
                case "object" -> object(s, path, refs);
                case "array" -> {
                    JsonNode items = s.get("items");
                    if (items == null) throw new IllegalArgumentException("an array without 'items' at " + path + " has no Spark type");
                    yield DataTypes.createArrayType(type(items, path + "/items", refs), true);
                }
                default -> throw new IllegalArgumentException("unknown or unsupported type '" + type + "' at " + path);
            };
        }

        private DataType object(JsonNode s, String path, Set<String> refs) {
            JsonNode props = s.get("properties");
            if (props != null && !props.isEmpty()) {
                if (!props.isObject()) throw new IllegalArgumentException("'properties' at " + path + " must be an object");
                List<StructField> fields = new ArrayList<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = props.fields(); it.hasNext(); ) {
                    var e = it.next();
                    fields.add(DataTypes.createStructField(e.getKey(), type(e.getValue(), path + "/properties/" + e.getKey(), refs), true));
                }
                return DataTypes.createStructType(fields);
            }
            JsonNode additional = s.get("additionalProperties");
            if (additional != null && additional.isObject()) {
                return DataTypes.createMapType(DataTypes.StringType, type(additional, path + "/additionalProperties", refs), true);
            }
            throw new IllegalArgumentException("an object without 'properties' (or an 'additionalProperties' schema) at " + path
                    + " has no Spark type");
        }

        private DataType ref(String ref, String path, Set<String> refs) {
            JsonNode target;
            if (ref.equals("#")) {
                target = root;
            } else if (ref.startsWith("#/$defs/") || ref.startsWith("#/definitions/")) {
                target = root.at(ref.substring(1));
                if (target.isMissingNode()) throw new IllegalArgumentException("$ref '" + ref + "' at " + path + " points to nothing");
            } else {
                throw new IllegalArgumentException("$ref '" + ref + "' at " + path + " is not supported (only #/$defs/... and #/definitions/...)");
            }
            if (!refs.add(ref)) throw new IllegalArgumentException("recursive $ref '" + ref + "' at " + path + " has no Spark type");
            try {
                return type(target, ref, refs);
            } finally {
                refs.remove(ref);
            }
        }

        private static String inferType(JsonNode s, String path) {
            if (s.has("properties") || s.has("additionalProperties")) return "object";
            if (s.has("items")) return "array";
            if (s.has("minLength") || s.has("maxLength") || s.has("format")) return "string";
            if (s.has("minimum") || s.has("maximum") || s.has("exclusiveMinimum") || s.has("exclusiveMaximum")) return "number";
            throw new IllegalArgumentException("the schema at " + path + " has no 'type' (nor keywords that imply one): any JSON value has no Spark type");
        }

        private static boolean isNullSchema(JsonNode b) {
            if (!b.isObject()) return false;
            JsonNode t = b.get("type");
            return (t != null && t.isTextual() && t.asText().equals("null")) || (b.has("const") && b.get("const").isNull());
        }

        private static DataType literalType(List<JsonNode> values, String keyword, String path) {
            Set<DataType> types = new LinkedHashSet<>();
            for (JsonNode v : values) {
                if (v.isNull()) continue;
                if (v.isTextual()) types.add(DataTypes.StringType);
                else if (v.isIntegralNumber() && v.canConvertToLong()) types.add(DataTypes.LongType);
                else if (v.isNumber()) types.add(DataTypes.DoubleType);
                else if (v.isBoolean()) types.add(DataTypes.BooleanType);
                else throw new IllegalArgumentException("'" + keyword + "' at " + path + " holds " + v.getNodeType() + " " + abbreviate(v.toString())
                            + ": only strings, numbers and booleans have a Spark type");
            }
            return single(List.copyOf(types), keyword, path);
        }

        private static DataType single(List<DataType> types, String keyword, String path) {
            Set<DataType> distinct = new LinkedHashSet<>(types);
            if (distinct.equals(Set.of(DataTypes.LongType, DataTypes.DoubleType))) return DataTypes.DoubleType; // integers are numbers
            if (distinct.isEmpty()) throw new IllegalArgumentException("'" + keyword + "' at " + path + " allows only null: no Spark type");
            if (distinct.size() > 1) {
                throw new IllegalArgumentException("'" + keyword + "' at " + path + " mixes types "
                        + distinct.stream().map(DataType::simpleString).toList() + ": a Spark column has one type");
            }
            return distinct.iterator().next();
        }
    }
}
