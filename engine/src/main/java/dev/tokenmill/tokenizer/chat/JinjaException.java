package dev.tokenmill.tokenizer.chat;

/**
 * A template that fails to compile or to render. {@link #kind()} names the Python/Jinja exception that
 * transformers would raise in the same place ({@code TemplateError} for the template's own
 * {@code raise_exception(msg)}, {@code UndefinedError}, {@code TypeError}, {@code SecurityError},
 * {@code TemplateSyntaxError}, ...); {@link #detail()} is the bare message (for {@code TemplateError} exactly the
 * template's text), and {@link #line()} the template line being executed (0 when unknown).
 */
public final class JinjaException extends RuntimeException {
    private final String kind;
    private final String detail;
    private final int line;

    JinjaException(String kind, String detail, int line) {
        super(kind + (line > 0 ? " at line " + line : "") + ": " + detail);
        this.kind = kind;
        this.detail = detail;
        this.line = line;
    }

    JinjaException(String kind, String detail) {
        this(kind, detail, 0);
    }

    public String kind() { return kind; }

    public String detail() { return detail; }

    public int line() { return line; }

    /** The same error with the line filled in, when it had none. */
    JinjaException atLine(int l) {
        return line > 0 || l <= 0 ? this : new JinjaException(kind, detail, l);
    }

    static JinjaException type(String msg) { return new JinjaException("TypeError", msg); }

    static JinjaException undefined(String msg) { return new JinjaException("UndefinedError", msg); }

    static JinjaException value(String msg) { return new JinjaException("ValueError", msg); }

    static JinjaException syntax(String msg, int line) { return new JinjaException("TemplateSyntaxError", msg, line); }

    static JinjaException runtime(String msg) { return new JinjaException("TemplateRuntimeError", msg); }
}
