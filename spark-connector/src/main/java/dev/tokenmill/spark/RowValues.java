package dev.tokenmill.spark;

import dev.tokenmill.tokenizer.ChatMessage;

import java.util.List;

/**
 * The columns of one input row as the prompt plan reads them, by ordinal; one implementation reads Spark's external
 * {@code Row}, one its {@code InternalRow}. Types were checked against the schema when the plan was built.
 */
interface RowValues {
    boolean isNull(int ordinal);

    /** A string column's value, or any other column's value as text (for template placeholders). */
    String text(int ordinal);

    /** A numeric column's value (or a string column holding a number). */
    double number(int ordinal);

    /** An integral column's value (or a string column holding one). */
    long integer(int ordinal);

    /** An {@code array<string>} column's value; a plain string column gives one element. */
    List<String> strings(int ordinal);

    /** An {@code array<struct<role:string,content:string>>} column's value. */
    List<ChatMessage> messages(int ordinal);
}
