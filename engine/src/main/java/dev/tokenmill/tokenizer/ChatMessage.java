package dev.tokenmill.tokenizer;

import java.util.Objects;

/**
 * One chat turn as Hugging Face chat templates see it: {@code {"role": role, "content": content}}.
 * For tool calls or other extra fields pass plain maps to {@link ChatTemplate#renderMaps}.
 */
public record ChatMessage(String role, String content) {
    public ChatMessage {
        Objects.requireNonNull(role, "role");
    }

    public static ChatMessage system(String content) { return new ChatMessage("system", content); }

    public static ChatMessage user(String content) { return new ChatMessage("user", content); }

    public static ChatMessage assistant(String content) { return new ChatMessage("assistant", content); }
}
