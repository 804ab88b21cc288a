package dev.tokenmill.spark;

import org.apache.spark.sql.catalyst.CatalystTypeConverters;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructType;

import java.io.Serializable;
import java.util.List;

/**
 * The columns a run appends to its input, fixed on the driver: the result struct ({@link RowResult}, with
 * {@code logprobs} and {@code choice_probabilities} when asked for) and, with {@code parseJson}, the typed JSON column.
 *
 * @param jsonColumn null without {@code parseJson}
 * @param jsonType   the Spark type of the JSON column ({@link JsonSchemaTypes}); null without {@code parseJson}
 */
record ResultColumns(String resultColumn, boolean logprobs, boolean choices, String jsonColumn, DataType jsonType)
        implements Serializable {

    /** The input schema plus the appended columns. */
    StructType appendTo(StructType input) {
        List<String> names = List.of(input.fieldNames());
        if (names.contains(resultColumn)) {
            throw new IllegalArgumentException("tokenmill option 'resultColumn': the input already has a column '" + resultColumn + "'");
        }
        StructType out = input.add(resultColumn, RowResult.schema(logprobs, choices), false);
        if (jsonType == null) return out;
        if (names.contains(jsonColumn)) {
            throw new IllegalArgumentException("tokenmill option 'jsonColumn': the input already has a column '" + jsonColumn + "'");
        }
        return out.add(jsonColumn, jsonType, true);
    }

    /** How many columns are appended. */
    int size() {
        return jsonType == null ? 1 : 2;
    }

    /** The appended values as Spark's external row holds them. */
    Object[] external(RowResult r) {
        Object row = r.toRow(logprobs, choices);
        if (jsonType == null) return new Object[] {row};
        Object json = json(r);
        return new Object[] {row, json == null ? null : CatalystTypeConverters.convertToScala(json, jsonType)};
    }

    /** The appended values as Spark's internal row holds them. */
    Object[] internal(RowResult r) {
        Object row = r.toInternalRow(logprobs, choices);
        return jsonType == null ? new Object[] {row} : new Object[] {row, json(r)};
    }

    /**
     * The row's text parsed into the JSON column's type; null when the row failed, its JSON was cut short
     * (incomplete), or its text does not fit the type (a row whose own {@code jsonSchema} column differs).
     */
    private Object json(RowResult r) {
        if (r.failed() || r.incomplete() || r.text() == null) return null;
        try {
            return JsonSchemaTypes.toCatalyst(r.text(), jsonType);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
