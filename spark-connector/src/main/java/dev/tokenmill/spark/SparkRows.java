package dev.tokenmill.spark;

import dev.tokenmill.tokenizer.ChatMessage;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.util.ArrayList;
import java.util.List;

/** {@link RowValues} over Spark's two row forms. */
final class SparkRows {
    private SparkRows() {}

    static RowValues of(Row row) {
        return new RowValues() {
            @Override public boolean isNull(int i) { return row.isNullAt(i); }

            @Override public String text(int i) { return String.valueOf(row.get(i)); }

            @Override public double number(int i) {
                return row.get(i) instanceof Number n ? n.doubleValue() : Double.parseDouble(row.get(i).toString().trim());
            }

            @Override public long integer(int i) {
                return row.get(i) instanceof Number n ? wholeNumber(n.doubleValue(), n.longValue()) : Long.parseLong(row.get(i).toString().trim());
            }

            @Override public List<String> strings(int i) {
                if (row.get(i) instanceof String s) return List.of(s);
                List<String> out = new ArrayList<>();
                for (Object o : row.getList(i)) out.add(o == null ? null : o.toString());
                return out;
            }

            @Override public List<ChatMessage> messages(int i) {
                List<ChatMessage> out = new ArrayList<>();
                for (Object o : row.getList(i)) {
                    if (o == null) throw new IllegalArgumentException("a chat message is null");
                    Row m = (Row) o;
                    out.add(message(m.isNullAt(0) ? null : m.getString(0), m.isNullAt(1) ? null : m.getString(1)));
                }
                return out;
            }
        };
    }

    static RowValues of(InternalRow row, StructType schema) {
        return new RowValues() {
            private DataType type(int i) { return schema.fields()[i].dataType(); }

            @Override public boolean isNull(int i) { return row.isNullAt(i); }

            @Override public String text(int i) { return String.valueOf(row.get(i, type(i))); }

            @Override public double number(int i) {
                Object v = row.get(i, type(i));
                return v instanceof Number n ? n.doubleValue() : Double.parseDouble(v.toString().trim());
            }

            @Override public long integer(int i) {
                Object v = row.get(i, type(i));
                return v instanceof Number n ? wholeNumber(n.doubleValue(), n.longValue()) : Long.parseLong(v.toString().trim());
            }

            @Override public List<String> strings(int i) {
                if (type(i).equals(DataTypes.StringType)) return List.of(row.getUTF8String(i).toString());
                ArrayData a = row.getArray(i);
                List<String> out = new ArrayList<>();
                for (int j = 0; j < a.numElements(); j++) out.add(a.isNullAt(j) ? null : a.getUTF8String(j).toString());
                return out;
            }

            @Override public List<ChatMessage> messages(int i) {
                ArrayData a = row.getArray(i);
                int fields = ((StructType) ((ArrayType) type(i)).elementType()).size();
                List<ChatMessage> out = new ArrayList<>();
                for (int j = 0; j < a.numElements(); j++) {
                    if (a.isNullAt(j)) throw new IllegalArgumentException("a chat message is null");
                    InternalRow m = a.getStruct(j, fields);
                    out.add(message(m.isNullAt(0) ? null : m.getUTF8String(0).toString(), m.isNullAt(1) ? null : m.getUTF8String(1).toString()));
                }
                return out;
            }
        };
    }

    private static ChatMessage message(String role, String content) {
        if (role == null || role.isBlank()) throw new IllegalArgumentException("a chat message has no role");
        if (content == null) throw new IllegalArgumentException("chat message content of role '" + role + "' is null");
        return new ChatMessage(role, content);
    }

    private static long wholeNumber(double d, long l) {
        if (d != l) throw new IllegalArgumentException("expected a whole number, got " + d);
        return l;
    }
}
