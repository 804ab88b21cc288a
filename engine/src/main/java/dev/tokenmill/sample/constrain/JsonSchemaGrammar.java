package dev.tokenmill.sample.constrain;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * JSON Schema to grammar, in the manner of llama.cpp's {@code json-schema-to-grammar}: every output the grammar
 * allows validates against the schema. Supported: {@code type} (one or a list), {@code properties} /
 * {@code required} / {@code additionalProperties}, {@code items} / {@code minItems} / {@code maxItems}, string
 * {@code minLength} / {@code maxLength} and {@code format} (date, date-time, time, email, uuid), integer and number
 * {@code minimum} / {@code maximum} / {@code exclusiveMinimum} / {@code exclusiveMaximum}, {@code enum},
 * {@code const}, {@code anyOf} / {@code oneOf} (as alternatives: the branches of a {@code oneOf} should not overlap),
 * {@code $ref} into {@code $defs} / {@code definitions} (recursion included), and the annotations (title,
 * description, ...). Any other keyword is refused with a {@link ConstraintException} naming it and where it is.
 *
 * <p>Choices that keep outputs valid and finite: properties come in the schema's order, only declared properties are
 * generated when there are any, whitespace between tokens is one space or a newline and up to 20 spaces or tabs,
 * numbers have at most 15 integer and 15 fraction digits, and a bounded number has no exponent.
 */
final class JsonSchemaGrammar {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> ANNOTATIONS = Set.of("title", "description", "$schema", "$id", "default", "examples",
            "$comment", "readOnly", "writeOnly", "deprecated", "$defs", "definitions");
    private static final Set<String> SUPPORTED = Set.of("type", "properties", "required", "additionalProperties", "items",
            "minItems", "maxItems", "enum", "const", "minLength", "maxLength", "format", "minimum", "maximum",
            "exclusiveMinimum", "exclusiveMaximum", "anyOf", "oneOf", "$ref");
    private static final long MAX_INT = 999_999_999_999_999L; // 15 digits

    private final Grammar.Builder b = new Grammar.Builder();
    private final JsonNode root;
    private final Map<String, String> refRules = new HashMap<>();
    private final Set<String> commonStarted = new java.util.HashSet<>();
    private int counter;

    private JsonSchemaGrammar(JsonNode root) {
        this.root = root;
    }

    static Grammar fromSchema(String schema) {
        JsonNode node;
        try {
            node = JSON.readTree(schema);
        } catch (JsonProcessingException e) {
            throw new ConstraintException("the JSON schema is not valid JSON: " + e.getOriginalMessage());
        }
        if (node == null || !(node.isObject() || node.isBoolean())) {
            throw new ConstraintException("a JSON schema must be an object or a boolean, got " + (node == null ? "nothing" : node.getNodeType()));
        }
        JsonSchemaGrammar g = new JsonSchemaGrammar(node);
        g.b.define("root", g.value(node, "#"));
        return g.b.build("root");
    }

    static Grammar anyObject() {
        JsonSchemaGrammar g = new JsonSchemaGrammar(null);
        g.b.define("root", g.common("object"));
        return g.b.build("root");
    }

    // ---- schema nodes ----

    private Expr value(JsonNode s, String path) {
        if (s.isBoolean()) {
            if (!s.asBoolean()) throw new ConstraintException("the schema at " + path + " is false: nothing validates");
            return common("value");
        }
        if (!s.isObject()) throw new ConstraintException("the schema at " + path + " must be an object or a boolean");
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!SUPPORTED.contains(k) && !ANNOTATIONS.contains(k)) {
                throw new ConstraintException("unsupported JSON Schema keyword '" + k + "' at " + path);
            }
        }
        if (s.has("$ref")) {
            for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!k.equals("$ref") && !ANNOTATIONS.contains(k)) {
                    throw new ConstraintException("keyword '" + k + "' next to $ref at " + path + " is not supported");
                }
            }
            return ref(s.get("$ref").asText(), path);
        }
        if (s.has("const")) return jsonLiteral(s.get("const"));
        if (s.has("enum")) {
            JsonNode e = s.get("enum");
            if (!e.isArray() || e.isEmpty()) throw new ConstraintException("'enum' at " + path + " must be a non-empty array");
            List<Expr> options = new ArrayList<>();
            for (JsonNode v : e) options.add(jsonLiteral(v));
            return Expr.alt(options);
        }
        for (String k : new String[] {"anyOf", "oneOf"}) {
            if (!s.has(k)) continue;
            JsonNode list = s.get(k);
            if (!list.isArray() || list.isEmpty()) throw new ConstraintException("'" + k + "' at " + path + " must be a non-empty array");
            if (s.has("type") || s.has("properties") || s.has("items")) {
                throw new ConstraintException("'" + k + "' next to type, properties or items at " + path + " is not supported");
            }
            List<Expr> options = new ArrayList<>();
            for (int i = 0; i < list.size(); i++) options.add(value(list.get(i), path + "/" + k + "/" + i));
            return Expr.alt(options);
        }
        List<String> types = new ArrayList<>();
        JsonNode t = s.get("type");
        if (t == null) {
            types.add(inferType(s));
        } else if (t.isTextual()) {
            types.add(t.asText());
        } else if (t.isArray() && !t.isEmpty()) {
            for (JsonNode x : t) types.add(x.asText());
        } else {
            throw new ConstraintException("'type' at " + path + " must be a string or a non-empty array of strings");
        }
        List<Expr> options = new ArrayList<>();
        for (String type : types) options.add(typed(type, s, path));
        return Expr.alt(options);
    }

    /** The type a schema without {@code type} implies from its keywords; {@code any} when none. */
    private static String inferType(JsonNode s) {
        if (s.has("properties") || s.has("required") || s.has("additionalProperties")) return "object";
        if (s.has("items") || s.has("minItems") || s.has("maxItems")) return "array";
        if (s.has("minLength") || s.has("maxLength") || s.has("format")) return "string";
        if (s.has("minimum") || s.has("maximum") || s.has("exclusiveMinimum") || s.has("exclusiveMaximum")) return "number";
        return "any";
    }

    private Expr typed(String type, JsonNode s, String path) {
        return switch (type) {
            case "any" -> common("value");
            case "string" -> string(s, path);
            case "integer" -> integer(s, path);
            case "number" -> number(s, path);
            case "boolean" -> Expr.alt(Expr.literal("true"), Expr.literal("false"));
            case "null" -> Expr.literal("null");
            case "object" -> object(s, path);
            case "array" -> array(s, path);
            default -> throw new ConstraintException("unknown type '" + type + "' at " + path);
        };
    }

    private Expr ref(String ref, String path) {
        String rule = refRules.get(ref);
        if (rule != null) return Expr.ref(rule);
        JsonNode target;
        if (ref.equals("#")) {
            target = root;
        } else if (ref.startsWith("#/$defs/") || ref.startsWith("#/definitions/")) {
            target = root.at(ref.substring(1));
            if (target.isMissingNode()) throw new ConstraintException("$ref '" + ref + "' at " + path + " points to nothing");
        } else {
            throw new ConstraintException("$ref '" + ref + "' at " + path + " is not supported (only #, #/$defs/... and #/definitions/...)");
        }
        rule = "ref" + (counter++);
        refRules.put(ref, rule);
        b.define(rule, value(target, ref));
        return Expr.ref(rule);
    }

    private Expr string(JsonNode s, String path) {
        if (s.has("format")) {
            if (s.has("minLength") || s.has("maxLength")) {
                throw new ConstraintException("'format' together with minLength/maxLength at " + path + " is not supported");
            }
            return quoted(format(s.get("format").asText(), path));
        }
        int min = intKeyword(s, "minLength", 0, path);
        int max = intKeyword(s, "maxLength", -1, path);
        if (max >= 0 && max < min) throw new ConstraintException("maxLength < minLength at " + path);
        return quoted(Expr.repeat(common("char"), min, max));
    }

    private static Expr quoted(Expr inner) {
        return Expr.seq(Expr.literal("\""), inner, Expr.literal("\""));
    }

    private Expr format(String format, String path) {
        Expr hex = Expr.chars(new int[] {'0', '9', 'a', 'f'});
        return switch (format) {
            case "date" -> date();
            case "time" -> time();
            case "date-time" -> Expr.seq(date(), Expr.literal("T"), time());
            case "uuid" -> Expr.seq(Expr.repeat(hex, 8, 8), Expr.literal("-"), Expr.repeat(hex, 4, 4), Expr.literal("-"),
                    Expr.repeat(hex, 4, 4), Expr.literal("-"), Expr.repeat(hex, 4, 4), Expr.literal("-"), Expr.repeat(hex, 12, 12));
            case "email" -> {
                Expr label = Expr.repeat(Expr.chars(new int[] {'a', 'z', '0', '9'}), 1, 16);
                Expr dotted = Expr.seq(label, Expr.repeat(Expr.seq(Expr.literal("."), label), 0, 2));
                yield Expr.seq(dotted, Expr.literal("@"), dotted, Expr.literal("."),
                        Expr.alt(Expr.literal("com"), Expr.literal("org"), Expr.literal("net"), Expr.literal("io")));
            }
            default -> {
                throw new ConstraintException("unsupported string format '" + format + "' at " + path
                        + " (supported: date, time, date-time, email, uuid)");
            }
        };
    }

    /** YYYY-MM-DD with the right number of days per month (February: 28). */
    private static Expr date() {
        Expr d09 = Expr.byteRange('0', '9');
        Expr year = Expr.seq(Expr.byteRange('1', '2'), d09, d09, d09);
        Expr d01to09 = Expr.seq(Expr.literal("0"), Expr.byteRange('1', '9'));
        Expr d10to29 = Expr.seq(Expr.byteRange('1', '2'), d09);
        Expr day31 = Expr.alt(d01to09, d10to29, Expr.seq(Expr.literal("3"), Expr.byteRange('0', '1')));
        Expr day30 = Expr.alt(d01to09, d10to29, Expr.literal("30"));
        Expr day28 = Expr.alt(d01to09, Expr.seq(Expr.literal("1"), d09), Expr.seq(Expr.literal("2"), Expr.byteRange('0', '8')));
        Expr m31 = Expr.alt(Expr.literal("01"), Expr.literal("03"), Expr.literal("05"), Expr.literal("07"), Expr.literal("08"),
                Expr.literal("10"), Expr.literal("12"));
        Expr m30 = Expr.alt(Expr.literal("04"), Expr.literal("06"), Expr.literal("09"), Expr.literal("11"));
        Expr monthDay = Expr.alt(Expr.seq(m31, Expr.literal("-"), day31), Expr.seq(m30, Expr.literal("-"), day30),
                Expr.seq(Expr.literal("02-"), day28));
        return Expr.seq(year, Expr.literal("-"), monthDay);
    }

    /** hh:mm:ss with optional milliseconds and a Z or ±hh:mm offset (RFC 3339). */
    private static Expr time() {
        Expr d09 = Expr.byteRange('0', '9');
        Expr hh = Expr.alt(Expr.seq(Expr.byteRange('0', '1'), d09), Expr.seq(Expr.literal("2"), Expr.byteRange('0', '3')));
        Expr mm = Expr.seq(Expr.byteRange('0', '5'), d09);
        Expr frac = Expr.opt(Expr.seq(Expr.literal("."), Expr.repeat(d09, 1, 3)));
        // offsets up to ±13:59: java.time (and validators built on it) refuse offsets beyond ±18:00
        Expr offsetHh = Expr.alt(Expr.seq(Expr.literal("0"), d09), Expr.seq(Expr.literal("1"), Expr.byteRange('0', '3')));
        Expr offset = Expr.alt(Expr.literal("Z"), Expr.seq(Expr.chars(new int[] {'+', '+', '-', '-'}), offsetHh, Expr.literal(":"), mm));
        return Expr.seq(hh, Expr.literal(":"), mm, Expr.literal(":"), mm, frac, offset);
    }

    private Expr integer(JsonNode s, String path) {
        long[] r = bounds(s, path, true);
        if (r == null) return common("integer");
        if (r[0] > r[1]) throw new ConstraintException("no integer lies within the bounds at " + path);
        return intRange(r[0], r[1]);
    }

    private Expr number(JsonNode s, String path) {
        long[] r = bounds(s, path, false);
        if (r == null) return common("number");
        long lo = r[0], hi = r[1];
        if (lo > hi) throw new ConstraintException("the number bounds at " + path + " leave no value this grammar can write");
        Expr frac = Expr.seq(Expr.literal("."), Expr.repeat(Expr.byteRange('0', '9'), 1, 15));
        List<Expr> options = new ArrayList<>();
        options.add(intRange(lo, hi));                                                     // whole numbers
        if (Math.max(0, lo) <= hi - 1) options.add(Expr.seq(intRange(Math.max(0, lo), hi - 1), frac)); // i.f, i >= 0
        if (lo + 1 <= Math.min(-1, hi)) options.add(Expr.seq(intRange(lo + 1, Math.min(-1, hi)), frac)); // -k.f
        return Expr.alt(options);
    }

    /**
     * Integer bounds {@code [lo, hi]} such that every integer in them, and for numbers every {@code i.f} built as in
     * {@link #number}, lies within the schema's bounds; null when the schema has none.
     */
    private static long[] bounds(JsonNode s, String path, boolean integer) {
        JsonNode min = s.get("minimum"), max = s.get("maximum"), xmin = s.get("exclusiveMinimum"), xmax = s.get("exclusiveMaximum");
        if (min == null && max == null && (xmin == null || xmin.isBoolean()) && (xmax == null || xmax.isBoolean())) return null;
        long lo = -MAX_INT, hi = MAX_INT;
        boolean minExclusive = xmin != null && xmin.isBoolean() && xmin.asBoolean(); // draft 4
        boolean maxExclusive = xmax != null && xmax.isBoolean() && xmax.asBoolean();
        if (min != null) lo = Math.max(lo, minExclusive ? floor(min, path) + 1 : ceil(min, path));
        if (max != null) hi = Math.min(hi, maxExclusive ? ceil(max, path) - 1 : floor(max, path));
        if (xmin != null && xmin.isNumber()) lo = Math.max(lo, floor(xmin, path) + 1);
        if (xmax != null && xmax.isNumber()) hi = Math.min(hi, ceil(xmax, path) - 1);
        return new long[] {Math.max(lo, -MAX_INT), Math.min(hi, MAX_INT)};
    }

    private static long ceil(JsonNode n, String path) {
        return clamp(decimal(n, path).setScale(0, RoundingMode.CEILING));
    }

    private static long floor(JsonNode n, String path) {
        return clamp(decimal(n, path).setScale(0, RoundingMode.FLOOR));
    }

    private static BigDecimal decimal(JsonNode n, String path) {
        if (!n.isNumber()) throw new ConstraintException("a numeric bound at " + path + " is not a number: " + n);
        return n.decimalValue();
    }

    private static long clamp(BigDecimal v) {
        if (v.compareTo(BigDecimal.valueOf(MAX_INT + 1)) > 0) return MAX_INT + 1;
        if (v.compareTo(BigDecimal.valueOf(-MAX_INT - 1)) < 0) return -MAX_INT - 1;
        return v.longValueExact();
    }

    private Expr object(JsonNode s, String path) {
        JsonNode props = s.get("properties");
        JsonNode additional = s.get("additionalProperties");
        Set<String> required = new java.util.LinkedHashSet<>();
        if (s.has("required")) {
            if (!s.get("required").isArray()) throw new ConstraintException("'required' at " + path + " must be an array");
            for (JsonNode r : s.get("required")) required.add(r.asText());
        }
        Expr ws = common("ws");
        if (props == null || props.isEmpty()) {
            if (!required.isEmpty()) {
                throw new ConstraintException("required property '" + required.iterator().next() + "' at " + path + " is not in 'properties'");
            }
            if (additional != null && additional.isBoolean() && !additional.asBoolean()) {
                return Expr.seq(Expr.literal("{"), ws, Expr.literal("}"));
            }
            if (additional == null || additional.isBoolean()) return common("object");
            Expr member = Expr.seq(common("string"), ws, Expr.literal(":"), ws, value(additional, path + "/additionalProperties"));
            return Expr.seq(Expr.literal("{"), ws,
                    Expr.opt(Expr.seq(member, Expr.star(Expr.seq(ws, Expr.literal(","), ws, member)), ws)), Expr.literal("}"));
        }
        if (!props.isObject()) throw new ConstraintException("'properties' at " + path + " must be an object");
        if (additional != null && !additional.isBoolean()) value(additional, path + "/additionalProperties"); // checked, not generated
        List<String> names = new ArrayList<>();
        List<Expr> values = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = props.fields(); it.hasNext(); ) {
            var e = it.next();
            names.add(e.getKey());
            String rule = "prop" + (counter++);
            b.define(rule, value(e.getValue(), path + "/properties/" + e.getKey()));
            values.add(Expr.ref(rule));
        }
        for (String r : required) {
            if (!names.contains(r)) throw new ConstraintException("required property '" + r + "' at " + path + " is not in 'properties'");
        }
        String prefix = "obj" + (counter++) + "-";
        Expr members = members(prefix, names, values, required, 0, true);
        return Expr.seq(Expr.literal("{"), ws, members, ws, Expr.literal("}"));
    }

    /** Properties {@code i..} in order, each optional one skippable; {@code first}: no comma before the next one. */
    private Expr members(String prefix, List<String> names, List<Expr> values, Set<String> required, int i, boolean first) {
        if (i == names.size()) return Expr.empty();
        String rule = prefix + i + (first ? "f" : "n");
        if (b.has(rule)) return Expr.ref(rule);
        Expr ws = common("ws");
        Expr kv = Expr.seq(first ? Expr.empty() : Expr.seq(ws, Expr.literal(","), ws), jsonLiteral(JSON.getNodeFactory().textNode(names.get(i))),
                ws, Expr.literal(":"), ws, values.get(i));
        Expr taken = Expr.seq(kv, members(prefix, names, values, required, i + 1, false));
        Expr body = required.contains(names.get(i)) ? taken : Expr.alt(taken, members(prefix, names, values, required, i + 1, first));
        b.define(rule, body);
        return Expr.ref(rule);
    }

    private Expr array(JsonNode s, String path) {
        JsonNode items = s.get("items");
        if (items != null && items.isArray()) throw new ConstraintException("tuple 'items' (an array) at " + path + " is not supported");
        Expr item;
        if (items == null) {
            item = common("value");
        } else {
            String rule = "item" + (counter++);
            b.define(rule, value(items, path + "/items"));
            item = Expr.ref(rule);
        }
        int min = intKeyword(s, "minItems", 0, path);
        int max = intKeyword(s, "maxItems", -1, path);
        if (max >= 0 && max < min) throw new ConstraintException("maxItems < minItems at " + path);
        Expr ws = common("ws");
        if (max == 0) return Expr.seq(Expr.literal("["), ws, Expr.literal("]"));
        Expr elems = Expr.seq(item, Expr.repeat(Expr.seq(ws, Expr.literal(","), ws, item), Math.max(0, min - 1), max < 0 ? -1 : max - 1));
        Expr body = min == 0 ? Expr.opt(Expr.seq(elems, ws)) : Expr.seq(elems, ws);
        return Expr.seq(Expr.literal("["), ws, body, Expr.literal("]"));
    }

    private static int intKeyword(JsonNode s, String key, int dflt, String path) {
        JsonNode n = s.get(key);
        if (n == null) return dflt;
        if (!n.canConvertToInt() || n.asInt() < 0 || (n.isFloatingPointNumber() && n.asDouble() != Math.rint(n.asDouble()))) {
            throw new ConstraintException("'" + key + "' at " + path + " must be a non-negative integer, got " + n);
        }
        if (n.asInt() > 10_000) throw new ConstraintException("'" + key + "' at " + path + " is larger than 10000");
        return n.asInt();
    }

    private static Expr jsonLiteral(JsonNode v) {
        try {
            return Expr.literal(JSON.writeValueAsString(v));
        } catch (JsonProcessingException e) {
            throw new ConstraintException("cannot write the JSON value " + v + ": " + e.getOriginalMessage());
        }
    }

    // ---- integer ranges as digit patterns ----

    /** Decimal integers in {@code [lo, hi]}, without leading zeros or {@code -0}. */
    static Expr intRange(long lo, long hi) {
        List<Expr> options = new ArrayList<>();
        if (lo < 0) options.add(Expr.seq(Expr.literal("-"), uintRange(Math.max(1, -hi), -lo)));
        if (hi >= 0) options.add(uintRange(Math.max(0, lo), hi));
        return Expr.alt(options);
    }

    private static Expr uintRange(long lo, long hi) {
        List<Expr> options = new ArrayList<>();
        int dLo = Long.toString(lo).length(), dHi = Long.toString(hi).length();
        for (int d = dLo; d <= dHi; d++) {
            long a = Math.max(lo, d == 1 ? 0 : pow10(d - 1));
            long b = Math.min(hi, pow10(d) - 1);
            if (a <= b) options.add(sameLength(Long.toString(a), Long.toString(b)));
        }
        return Expr.alt(options);
    }

    private static long pow10(int d) {
        long p = 1;
        for (int i = 0; i < d; i++) p *= 10;
        return p;
    }

    /** Digit strings of one length between {@code a} and {@code b} inclusive. */
    private static Expr sameLength(String a, String b) {
        int n = a.length();
        if (n == 0) return Expr.empty();
        char a0 = a.charAt(0), b0 = b.charAt(0);
        if (n == 1) return Expr.byteRange(a0, b0);
        if (a0 == b0) return Expr.seq(Expr.literal(String.valueOf(a0)), sameLength(a.substring(1), b.substring(1)));
        String restA = a.substring(1), restB = b.substring(1);
        if (restA.chars().allMatch(c -> c == '0') && restB.chars().allMatch(c -> c == '9')) {
            return Expr.seq(Expr.byteRange(a0, b0), Expr.repeat(Expr.byteRange('0', '9'), n - 1, n - 1));
        }
        List<Expr> options = new ArrayList<>();
        options.add(Expr.seq(Expr.literal(String.valueOf(a0)), sameLength(restA, "9".repeat(n - 1))));
        if (b0 - a0 > 1) {
            options.add(Expr.seq(Expr.byteRange(a0 + 1, b0 - 1), Expr.repeat(Expr.byteRange('0', '9'), n - 1, n - 1)));
        }
        options.add(Expr.seq(Expr.literal(String.valueOf(b0)), sameLength("0".repeat(n - 1), restB)));
        return Expr.alt(options);
    }

    // ---- the generic JSON rules ----

    /** A rule of generic JSON, defined on first use: ws, char, string, integer, number, value, object, array. */
    private Expr common(String name) {
        if (!commonStarted.add(name)) return Expr.ref(name); // defined, or being defined up the call chain
        Expr d09 = Expr.byteRange('0', '9');
        Expr def = switch (name) {
            case "ws" -> Expr.opt(Expr.alt(Expr.literal(" "), Expr.seq(Expr.literal("\n"), Expr.repeat(Expr.chars(new int[] {' ', ' ', '\t', '\t'}), 0, 20))));
            case "char" -> {
                Expr hex = Expr.chars(new int[] {'0', '9', 'a', 'f', 'A', 'F'});
                Expr hexNoD = Expr.chars(new int[] {'0', '9', 'a', 'c', 'A', 'C', 'e', 'f', 'E', 'F'});
                // \\uXXXX escapes of surrogates are left out: each escape is one code point
                Expr uEscape = Expr.seq(Expr.literal("u"), Expr.alt(Expr.seq(hexNoD, hex, hex, hex),
                        Expr.seq(Expr.chars(new int[] {'d', 'd', 'D', 'D'}), Expr.byteRange('0', '7'), hex, hex)));
                yield Expr.alt(Expr.charsExcept(new int[] {0, 0x1F, '"', '"', '\\', '\\'}),
                        Expr.seq(Expr.literal("\\"), Expr.alt(Expr.chars(new int[] {'"', '"', '\\', '\\', '/', '/', 'b', 'b', 'f', 'f', 'n', 'n', 'r', 'r', 't', 't'}), uEscape)));
            }
            case "string" -> quoted(Expr.star(common("char")));
            case "integer" -> Expr.seq(Expr.opt(Expr.literal("-")),
                    Expr.alt(Expr.literal("0"), Expr.seq(Expr.byteRange('1', '9'), Expr.repeat(d09, 0, 14))));
            case "number" -> Expr.seq(common("integer"), Expr.opt(Expr.seq(Expr.literal("."), Expr.repeat(d09, 1, 15))),
                    Expr.opt(Expr.seq(Expr.chars(new int[] {'e', 'e', 'E', 'E'}), Expr.opt(Expr.chars(new int[] {'+', '+', '-', '-'})), Expr.repeat(d09, 1, 2))));
            case "value" -> Expr.alt(common("object"), common("array"), common("string"), common("number"),
                    Expr.literal("true"), Expr.literal("false"), Expr.literal("null"));
            case "object" -> {
                Expr ws = common("ws");
                Expr member = Expr.seq(common("string"), ws, Expr.literal(":"), ws, common("value"));
                yield Expr.seq(Expr.literal("{"), ws, Expr.opt(Expr.seq(member, Expr.star(Expr.seq(ws, Expr.literal(","), ws, member)), ws)),
                        Expr.literal("}"));
            }
            case "array" -> {
                Expr ws = common("ws");
                yield Expr.seq(Expr.literal("["), ws, Expr.opt(Expr.seq(common("value"), Expr.star(Expr.seq(ws, Expr.literal(","), ws, common("value"))), ws)),
                        Expr.literal("]"));
            }
            default -> throw new IllegalArgumentException(name);
        };
        b.define(name, def);
        return Expr.ref(name);
    }
}
