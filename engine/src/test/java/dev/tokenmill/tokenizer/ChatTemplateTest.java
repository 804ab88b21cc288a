package dev.tokenmill.tokenizer;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.gguf.GgufValue;
import dev.tokenmill.gguf.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Expected strings were rendered by jinja2 3.1.6 in transformers' chat-template environment. */
class ChatTemplateTest {
    @TempDir
    Path dir;

    private static final String CHATML = """
            {%- for message in messages %}
                {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
            {%- endfor %}
            {%- if add_generation_prompt %}
                {{- '<|im_start|>assistant\\n' }}
            {%- endif %}
            """;

    private static final String LLAMA3 = """
            {{- bos_token }}
            {%- for message in messages %}
                {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}
            {%- endfor %}
            {%- if add_generation_prompt %}
                {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
            {%- endif %}
            """;

    private static final List<ChatMessage> CONVERSATION = List.of(
            ChatMessage.system("  Be brief.\n"), ChatMessage.user(" Hi "), ChatMessage.assistant("Hello!"),
            ChatMessage.user("Bye"));

    @Test
    void chatMlTemplateAppendsTheGenerationPromptOnlyWhenAsked() {
        ChatTemplate t = ChatTemplate.of(CHATML, "", "<|im_end|>");
        assertThat(t.render(CONVERSATION, true)).isEqualTo(
                "<|im_start|>system\n  Be brief.\n<|im_end|>\n<|im_start|>user\n Hi <|im_end|>\n"
                        + "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
                        + "<|im_start|>assistant\n");
        assertThat(t.render(List.of(ChatMessage.user(" Hi "), ChatMessage.assistant("Hello!")), false))
                .isEqualTo("<|im_start|>user\n Hi <|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n");
    }

    @Test
    void llama3TemplatePrintsBosTokenAndTrimsContent() {
        ChatTemplate t = ChatTemplate.of(LLAMA3, "<|begin_of_text|>", "<|eot_id|>");
        assertThat(t.render(CONVERSATION, true)).isEqualTo(
                "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
                        + "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n");
    }

    @Test
    void raiseExceptionBecomesAChatTemplateExceptionWithTheTemplatesMessage() {
        ChatTemplate t = ChatTemplate.of("gemma-like", "{% for message in messages %}"
                + "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
                + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
                + "{% endif %}{{ message['content'] }}{% endfor %}", "<bos>", "<eos>");
        assertThat(t.render(List.of(ChatMessage.user("a"), ChatMessage.assistant("b")), false)).isEqualTo("ab");
        assertThatThrownBy(() -> t.render(List.of(ChatMessage.user("a"), ChatMessage.user("b")), true))
                .isInstanceOfSatisfying(ChatTemplateException.class, e -> {
                    assertThat(e.raisedByTemplate()).isTrue();
                    assertThat(e.errorKind()).isEqualTo("TemplateError");
                    assertThat(e.detail())
                            .isEqualTo("Conversation roles must alternate user/assistant/user/assistant/...");
                    assertThat(e.templateName()).isEqualTo("gemma-like");
                    assertThat(e.getMessage()).contains("gemma-like", "Conversation roles must alternate");
                });
    }

    @Test
    void namespaceLoopLastAndStripWorkTogether() {
        String tpl = """
                {%- set ns = namespace(system='') %}
                {%- for m in messages %}
                  {%- if m.role == 'system' %}{% set ns.system = m.content.strip() %}{% endif %}
                {%- endfor %}
                [SYS]{{ ns.system }}[/SYS]
                {%- for m in messages if m.role != 'system' %}
                {{ m.role }}: {{ m.content.strip() }}{% if not loop.last %} |{% endif %}
                {%- endfor %}
                """;
        assertThat(ChatTemplate.of(tpl, "", "").render(CONVERSATION, false))
                .isEqualTo("[SYS]Be brief.[/SYS]user: Hi |assistant: Hello! |user: Bye");
    }

    @Test
    void toolsFromTheExtraContextRenderWithTransformersTojson() {
        Map<String, Object> city = Map.of("type", "string");
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("type", "object");
        params.put("properties", Map.of("city", city));
        Map<String, Object> fn = new LinkedHashMap<>();
        fn.put("name", "get_weather");
        fn.put("parameters", params);
        Map<String, Object> tool = new LinkedHashMap<>();
        tool.put("type", "function");
        tool.put("function", fn);
        ChatTemplate t = ChatTemplate.of(
                "{%- if tools %}{% for t in tools %}{{ t | tojson }}\n{% endfor %}{% endif %}{{ messages[-1].content }}",
                "", "");
        List<ChatMessage> msgs = List.of(ChatMessage.user(" Hi "), ChatMessage.assistant("Hello!"));
        assertThat(t.render(msgs, true, Map.of("tools", List.of(tool)))).isEqualTo(
                "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": "
                        + "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}}\nHello!");
        assertThat(t.render(msgs, true)).isEqualTo("Hello!");
    }

    @Test
    void mapMessagesCarryToolCalls() {
        Map<String, Object> call = Map.of("type", "function",
                "function", Map.of("name", "get_weather", "arguments", Map.of("city", "Zürich")));
        Map<String, Object> assistant = new LinkedHashMap<>();
        assistant.put("role", "assistant");
        assistant.put("content", null);
        assistant.put("tool_calls", List.of(call));
        ChatTemplate t = ChatTemplate.of("{%- for m in messages %}{{ m.role }}:{% if m.tool_calls %}"
                + "{% for c in m.tool_calls %}{{ c.function.name }}({{ c.function.arguments | tojson }}){% endfor %}"
                + "{% else %}{{ m.content }}{% endif %};{% endfor %}", "", "");
        assertThat(t.renderMaps(List.of(Map.of("role", "user", "content", "weather?"), assistant), false, Map.of()))
                .isEqualTo("user:weather?;assistant:get_weather({\"city\": \"Zürich\"});");
    }

    @Test
    void variablesNotPassedAreUndefinedButToolsIsNone() {
        ChatTemplate t = ChatTemplate.of("{% if enable_thinking is defined and enable_thinking is false %}no-think"
                + "{% else %}think{% endif %} {{ tools is defined }} {{ tools is none }}", "", "");
        assertThat(t.render(List.of(), false)).isEqualTo("think True True");
        assertThat(t.render(List.of(), false, Map.of("enable_thinking", false))).isEqualTo("no-think True True");
    }

    @Test
    void strftimeNowReadsTheConfiguredClock() {
        Clock fixed = Clock.fixed(LocalDateTime.of(2026, 1, 15, 0, 0).toInstant(ZoneOffset.UTC), ZoneOffset.UTC);
        ChatTemplate t = ChatTemplate.of("Today: {{ strftime_now('%d %b %Y') }}", "", "").withClock(fixed);
        assertThat(t.render(List.of(), true)).isEqualTo("Today: 15 Jan 2026");
    }

    @Test
    void compileErrorsNameTheTemplate() {
        assertThatThrownBy(() -> ChatTemplate.of("broken.jinja", "{% for m in messages %}", "", ""))
                .isInstanceOfSatisfying(ChatTemplateException.class, e -> {
                    assertThat(e.errorKind()).isEqualTo("TemplateSyntaxError");
                    assertThat(e.getMessage()).startsWith("chat template broken.jinja: TemplateSyntaxError");
                });
    }

    @Test
    void fromGgufReadsTheTemplateAndSpecialTokens() throws IOException {
        Path p = dir.resolve("chat.gguf");
        new GgufWriter()
                .putString("general.architecture", "llama")
                .putString(ChatTemplate.GGUF_KEY, "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}")
                .put("tokenizer.ggml.tokens", GgufValue.ofStrings(new String[] {"<unk>", "<s>", "</s>", "hi"}))
                .putUint32("tokenizer.ggml.bos_token_id", 1)
                .putUint32("tokenizer.ggml.eos_token_id", 2)
                .write(p);
        try (GgufFile f = GgufFile.open(p)) {
            ChatTemplate t = ChatTemplate.fromGguf(f);
            assertThat(t.bosToken()).isEqualTo("<s>");
            assertThat(t.eosToken()).isEqualTo("</s>");
            assertThat(t.name()).isEqualTo("chat.gguf:tokenizer.chat_template");
            assertThat(t.render(List.of(ChatMessage.user("x")), false)).isEqualTo("<s>x</s>");
        }
    }

    @Test
    void fromGgufWithoutATemplateThrowsNamingTheKey() throws IOException {
        Path p = dir.resolve("plain.gguf");
        new GgufWriter().putString("general.architecture", "llama").write(p);
        try (GgufFile f = GgufFile.open(p)) {
            assertThatThrownBy(() -> ChatTemplate.fromGguf(f))
                    .isInstanceOf(TokenizerException.class)
                    .hasMessageContaining("plain.gguf")
                    .hasMessageContaining("tokenizer.chat_template");
        }
    }
}
