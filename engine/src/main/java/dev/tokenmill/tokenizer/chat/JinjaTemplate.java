package dev.tokenmill.tokenizer.chat;

import dev.tokenmill.tokenizer.chat.Node.Stmt;

import java.time.LocalDateTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A compiled Jinja template rendered with the semantics of Hugging Face transformers' chat-template environment
 * (jinja2 3.1 {@code ImmutableSandboxedEnvironment} with {@code trim_blocks}, {@code lstrip_blocks},
 * {@code loopcontrols}, the {@code {% generation %}} tag, and the {@code tojson}, {@code raise_exception} and
 * {@code strftime_now} overrides). Templates can only reach the values they are given: there is no reflection
 * and no access to Java objects, so a template from an untrusted model file cannot escape the sandbox.
 *
 * <p>Immutable and thread-safe once compiled; each {@link #render} call has its own state.
 */
public final class JinjaTemplate {
    private final List<Stmt> body;

    private JinjaTemplate(List<Stmt> body) {
        this.body = body;
    }

    /** Parses the template; syntax errors throw {@link JinjaException} of kind {@code TemplateSyntaxError}. */
    public static JinjaTemplate compile(String source) {
        return new JinjaTemplate(Parser.parse(source));
    }

    /**
     * Renders with the given variables. Values may be null (Python None), String, Boolean, Number, Map, List or
     * arrays of those; they are converted to the Python value model first. {@code now} feeds
     * {@code strftime_now}.
     *
     * @throws JinjaException when the template raises or fails at run time
     */
    public String render(Map<String, ?> variables, Supplier<LocalDateTime> now) {
        Map<String, Object> ctx = new HashMap<>();
        for (Map.Entry<String, ?> e : variables.entrySet()) ctx.put(e.getKey(), Py.fromJava(e.getValue()));
        try {
            return new Interpreter(now).render(body, ctx);
        } catch (JinjaException e) {
            throw e;
        } catch (StackOverflowError e) {
            throw new JinjaException("RecursionError", "maximum recursion depth exceeded");
        } catch (RuntimeException e) {
            // wrong argument counts or types reaching a builtin: Python would raise TypeError here
            throw new JinjaException("TypeError", e.toString());
        }
    }
}
