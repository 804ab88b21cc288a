package dev.tokenmill.spark;

import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.catalyst.util.MapData;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.LocalDate;
import java.time.temporal.ChronoUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JsonSchemaTypesTest {
    static final String ORDER = """
            {"type": "object",
             "properties": {
               "id": {"type": "integer", "minimum": 0},
               "customer": {"$ref": "#/$defs/customer"},
               "status": {"enum": ["open", "shipped", "closed"]},
               "placed": {"type": "string", "format": "date"},
               "updated": {"type": "string", "format": "date-time"},
               "lines": {"type": "array", "items": {"type": "object",
                          "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}, "price": {"type": "number"}},
                          "required": ["sku"]}},
               "gift": {"type": "boolean"},
               "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}
             },
             "required": ["id", "status"],
             "$defs": {"customer": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20}}}}}
            """;

    @Test
    void objectBecomesStructWithPropertiesInDeclaredOrderAllNullable() {
        DataType t = JsonSchemaTypes.toSparkType(ORDER);

        assertThat(t.simpleString()).isEqualTo("struct<id:bigint,customer:struct<name:string>,status:string,placed:date,"
                + "updated:timestamp,lines:array<struct<sku:string,qty:bigint,price:double>>,gift:boolean,note:string>");
        assertThat(((StructType) t).fields()).allSatisfy(f -> assertThat(f.nullable()).isTrue());
    }

    @Test
    void scalarsEnumsConstsUnionsAndMaps() {
        assertThat(JsonSchemaTypes.toSparkType("{\"type\": \"integer\"}")).isEqualTo(DataTypes.LongType);
        assertThat(JsonSchemaTypes.toSparkType("{\"type\": \"number\", \"maximum\": 3}")).isEqualTo(DataTypes.DoubleType);
        assertThat(JsonSchemaTypes.toSparkType("{\"type\": [\"boolean\", \"null\"]}")).isEqualTo(DataTypes.BooleanType);
        assertThat(JsonSchemaTypes.toSparkType("{\"type\": \"string\", \"format\": \"uuid\"}")).isEqualTo(DataTypes.StringType);
        assertThat(JsonSchemaTypes.toSparkType("{\"const\": \"yes\"}")).isEqualTo(DataTypes.StringType);
        assertThat(JsonSchemaTypes.toSparkType("{\"enum\": [1, 2.5, null]}")).isEqualTo(DataTypes.DoubleType);
        assertThat(JsonSchemaTypes.toSparkType("{\"oneOf\": [{\"type\": \"null\"}, {\"type\": \"string\", \"format\": \"date\"}]}"))
                .isEqualTo(DataTypes.DateType);
        assertThat(JsonSchemaTypes.toSparkType("{\"type\": [\"integer\", \"number\"]}")).isEqualTo(DataTypes.DoubleType);
        assertThat(JsonSchemaTypes.toSparkType("{\"type\": \"object\", \"additionalProperties\": {\"type\": \"integer\"}}"))
                .isEqualTo(DataTypes.createMapType(DataTypes.StringType, DataTypes.LongType, true));
        assertThat(JsonSchemaTypes.toSparkType("{\"items\": {\"type\": \"string\"}}"))
                .isEqualTo(DataTypes.createArrayType(DataTypes.StringType, true));
    }

    @Test
    void unsupportedConstructsAreRefusedNamingThem() {
        assertThatThrownBy(() -> JsonSchemaTypes.toSparkType("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", \"pattern\": \"x+\"}}}"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'pattern'").hasMessageContaining("#/properties/a");
        assertThatThrownBy(() -> JsonSchemaTypes.toSparkType("{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}]}"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("anyOf").hasMessageContaining("mixes types");
        assertThatThrownBy(() -> JsonSchemaTypes.toSparkType("{\"type\": \"object\", \"properties\": {\"next\": {\"$ref\": \"#\"}}}"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("recursive $ref '#'");
        assertThatThrownBy(() -> JsonSchemaTypes.toSparkType("{\"$ref\": \"#/$defs/missing\"}"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("points to nothing");
        assertThatThrownBy(() -> JsonSchemaTypes.toSparkType("{\"type\": \"array\"}"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("without 'items'");
        assertThatThrownBy(() -> JsonSchemaTypes.toSparkType("{\"description\": \"anything\"}"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no 'type'");
        assertThatThrownBy(() -> JsonSchemaTypes.toSparkType("{\"type\": \"object\"}"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("without 'properties'");
        assertThatThrownBy(() -> JsonSchemaTypes.toSparkType("{\"type\": \"objekt\"}"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'objekt'");
        assertThatThrownBy(() -> JsonSchemaTypes.toSparkType("{\"type\": "))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not valid JSON");
    }

    @Test
    void jsonBecomesInternalValuesOfTheSchemaType() {
        DataType t = JsonSchemaTypes.toSparkType(ORDER);
        String json = """
                {"id": 42, "customer": {"name": "Ada"}, "status": "shipped", "placed": "2024-02-28",
                 "updated": "2024-03-01T10:15:30.5+01:00",
                 "lines": [{"sku": "A-1", "qty": 2, "price": 9.5}, {"sku": "B-2", "price": 3}],
                 "gift": false, "extra": "ignored"}""";

        InternalRow r = (InternalRow) JsonSchemaTypes.toCatalyst(json, t);

        assertThat(r.getLong(0)).isEqualTo(42L);
        assertThat(r.getStruct(1, 1).getUTF8String(0)).isEqualTo(UTF8String.fromString("Ada"));
        assertThat(r.getUTF8String(2).toString()).isEqualTo("shipped");
        assertThat(r.getInt(3)).isEqualTo((int) LocalDate.of(2024, 2, 28).toEpochDay());
        assertThat(r.getLong(4)).isEqualTo(ChronoUnit.MICROS.between(Instant.EPOCH, Instant.parse("2024-03-01T09:15:30.5Z")));
        ArrayData lines = r.getArray(5);
        assertThat(lines.numElements()).isEqualTo(2);
        assertThat(lines.getStruct(0, 3).getLong(1)).isEqualTo(2L);
        assertThat(lines.getStruct(1, 3).isNullAt(1)).as("a missing property is null").isTrue();
        assertThat(lines.getStruct(1, 3).getDouble(2)).isEqualTo(3.0);
        assertThat(r.getBoolean(6)).isFalse();
        assertThat(r.isNullAt(7)).isTrue();
    }

    @Test
    void mapsAndTopLevelScalars() {
        MapData m = (MapData) JsonSchemaTypes.toCatalyst("{\"a\": 1, \"b\": null}",
                DataTypes.createMapType(DataTypes.StringType, DataTypes.LongType, true));
        assertThat(m.numElements()).isEqualTo(2);
        assertThat(m.keyArray().getUTF8String(1).toString()).isEqualTo("b");
        assertThat(m.valueArray().isNullAt(1)).isTrue();
        assertThat(JsonSchemaTypes.toCatalyst(" 7 ", DataTypes.LongType)).isEqualTo(7L);
        assertThat(JsonSchemaTypes.toCatalyst("null", DataTypes.StringType)).isNull();
        assertThat(JsonSchemaTypes.toCatalyst(null, DataTypes.StringType)).isNull();
    }

    @Test
    void jsonThatDoesNotFitItsTypeIsRefusedNamingThePath() {
        DataType t = JsonSchemaTypes.toSparkType(ORDER);
        assertThatThrownBy(() -> JsonSchemaTypes.toCatalyst("{\"lines\": [{\"qty\": \"two\"}]}", t))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("$.lines[0].qty").hasMessageContaining("integer");
        assertThatThrownBy(() -> JsonSchemaTypes.toCatalyst("{\"placed\": \"2024-02-30\"}", t))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("$.placed");
        assertThatThrownBy(() -> JsonSchemaTypes.toCatalyst("{\"id\": 1", t))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not valid JSON");
    }
}
