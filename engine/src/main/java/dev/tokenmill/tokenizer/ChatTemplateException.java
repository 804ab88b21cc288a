package dev.tokenmill.tokenizer;

/**
 * A chat template that does not compile, or that fails while rendering. The message names the template, the
 * Python/Jinja error kind, the template line and what failed. {@link #errorKind()} is {@code "TemplateError"} when
 * the template itself refused the conversation via {@code raise_exception(msg)}; {@link #detail()} is then exactly
 * {@code msg} (e.g. "Conversation roles must alternate user/assistant/user/assistant/..."), suitable to show to the
 * client that sent the conversation.
 */
public final class ChatTemplateException extends RuntimeException {
    private final String templateName;
    private final String errorKind;
    private final String detail;
    private final int line;

    ChatTemplateException(String templateName, String errorKind, String detail, int line, Throwable cause) {
        super("chat template " + templateName + ": " + errorKind + (line > 0 ? " at template line " + line : "")
                + ": " + detail, cause);
        this.templateName = templateName;
        this.errorKind = errorKind;
        this.detail = detail;
        this.line = line;
    }

    public String templateName() { return templateName; }

    /** The jinja2/Python exception class transformers would raise: TemplateError, UndefinedError, TypeError, ... */
    public String errorKind() { return errorKind; }

    public String detail() { return detail; }

    /** 1-based template line of the failing statement, or 0 when unknown. */
    public int line() { return line; }

    /** True when the template rejected the input with {@code raise_exception} (an input error, not a bug). */
    public boolean raisedByTemplate() { return "TemplateError".equals(errorKind); }
}
