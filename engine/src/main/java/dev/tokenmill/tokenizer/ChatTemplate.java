package dev.tokenmill.tokenizer;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.tokenizer.chat.JinjaException;
import dev.tokenmill.tokenizer.chat.JinjaTemplate;

import java.time.Clock;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A model's Hugging Face chat template ({@code tokenizer.chat_template}), rendered the way transformers'
 * {@code tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...)} does.
 *
 * <p>The template runs in Tokenmill's own Jinja interpreter ({@code dev.tokenmill.tokenizer.chat}), which
 * reproduces jinja2 3.1 with transformers' environment: {@code trim_blocks}/{@code lstrip_blocks}, loop controls,
 * {@code {% generation %}}, transformers' {@code tojson} (no HTML escaping, {@code ensure_ascii=False}),
 * {@code raise_exception}, {@code strftime_now}, and Python value semantics (string methods, slicing, None vs
 * undefined, {@code repr} printing). The template sees only the variables passed here; it has no access to Java
 * objects.
 *
 * <p>Variables: {@code messages}, {@code add_generation_prompt}, {@code bos_token}, {@code eos_token}, and, like
 * transformers, {@code tools = None} and {@code documents = None} unless the extra context sets them. Anything
 * else ({@code enable_thinking}, {@code reasoning_effort}, ...) is undefined unless given in the extra context.
 *
 * <p>Immutable and thread-safe.
 */
public final class ChatTemplate {
    /** The GGUF metadata key holding the template. */
    public static final String GGUF_KEY = "tokenizer.chat_template";

    private final String name;
    private final String source;
    private final String bosToken;
    private final String eosToken;
    private final Clock clock;
    private final JinjaTemplate compiled;

    private ChatTemplate(String name, String source, String bosToken, String eosToken, Clock clock,
                         JinjaTemplate compiled) {
        this.name = name;
        this.source = source;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.clock = clock;
        this.compiled = compiled;
    }

    /**
     * The chat template of a GGUF file, with {@code bos_token}/{@code eos_token} taken from
     * {@code tokenizer.ggml.bos_token_id}/{@code eos_token_id} and {@code tokenizer.ggml.tokens} (the empty string
     * when the file has no such id).
     *
     * @throws TokenizerException when the file has no {@code tokenizer.chat_template} (check
     *                            {@code f.has(ChatTemplate.GGUF_KEY)} first to fall back quietly)
     * @throws ChatTemplateException when the template does not compile
     */
    public static ChatTemplate fromGguf(GgufFile f) {
        if (!f.has(GGUF_KEY)) {
            throw new TokenizerException(f.path() + ": metadata key '" + GGUF_KEY
                    + "' is missing: the model has no chat template (pass one explicitly)");
        }
        String[] tokens = f.has("tokenizer.ggml.tokens") ? f.getStringArray("tokenizer.ggml.tokens") : new String[0];
        String label = f.path().getFileName() + ":" + GGUF_KEY;
        return of(label, f.getString(GGUF_KEY), tokenText(f, tokens, "tokenizer.ggml.bos_token_id"),
                tokenText(f, tokens, "tokenizer.ggml.eos_token_id"));
    }

    private static String tokenText(GgufFile f, String[] tokens, String key) {
        if (!f.has(key)) return "";
        long id = f.getLong(key);
        if (id < 0 || id >= tokens.length) {
            throw new TokenizerException(f.path() + ": metadata key '" + key + "' = " + id
                    + " is outside the vocabulary of " + tokens.length + " tokens");
        }
        return tokens[(int) id];
    }

    /** A template given as text, named "inline" in error messages. */
    public static ChatTemplate of(String template, String bosToken, String eosToken) {
        return of("inline", template, bosToken, eosToken);
    }

    /**
     * A template given as text; {@code name} labels it in error messages.
     *
     * @throws ChatTemplateException when the template does not compile
     */
    public static ChatTemplate of(String name, String template, String bosToken, String eosToken) {
        Objects.requireNonNull(template, "template");
        try {
            return new ChatTemplate(name, template, bosToken, eosToken, Clock.systemDefaultZone(),
                    JinjaTemplate.compile(template));
        } catch (JinjaException e) {
            throw wrap(name, e);
        }
    }

    /** The same template with {@code strftime_now} reading this clock (its local date-time). */
    public ChatTemplate withClock(Clock c) {
        return new ChatTemplate(name, source, bosToken, eosToken, Objects.requireNonNull(c), compiled);
    }

    public String name() { return name; }

    public String source() { return source; }

    public String bosToken() { return bosToken; }

    public String eosToken() { return eosToken; }

    /** Renders the conversation; {@code addGenerationPrompt} appends the assistant-turn header. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * Renders with extra template variables ({@code tools}, {@code enable_thinking}, {@code reasoning_effort},
     * ...). Values are null, String, Boolean, Number, Map, List or arrays of those.
     *
     * @throws ChatTemplateException when the template raises or fails
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, ?> extraContext) {
        List<Map<String, Object>> maps = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Map<String, Object> msg = new LinkedHashMap<>();
            msg.put("role", m.role());
            msg.put("content", m.content());
            maps.add(msg);
        }
        return renderMaps(maps, addGenerationPrompt, extraContext);
    }

    /**
     * Renders messages given as maps, for fields beyond role and content ({@code tool_calls}, {@code name},
     * {@code reasoning_content}, content parts, ...), exactly as transformers receives them.
     *
     * @throws ChatTemplateException when the template raises or fails
     */
    public String renderMaps(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt,
                             Map<String, ?> extraContext) {
        Map<String, Object> vars = new HashMap<>();
        vars.put("messages", messages);
        vars.put("tools", null);
        vars.put("documents", null);
        vars.put("add_generation_prompt", addGenerationPrompt);
        vars.put("bos_token", bosToken);
        vars.put("eos_token", eosToken);
        vars.putAll(extraContext);
        try {
            return compiled.render(vars, () -> LocalDateTime.now(clock));
        } catch (JinjaException e) {
            throw wrap(name, e);
        }
    }

    private static ChatTemplateException wrap(String name, JinjaException e) {
        return new ChatTemplateException(name, e.kind(), e.detail(), e.line(), e);
    }

    @Override
    public String toString() {
        return "ChatTemplate[" + name + ", " + source.length() + " chars]";
    }
}
