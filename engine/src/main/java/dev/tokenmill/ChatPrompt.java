package dev.tokenmill;

import dev.tokenmill.model.Model;
import dev.tokenmill.tokenizer.Tokenizer;

/**
 * Chat messages to prompt ids: the one place where a {@link Request}'s messages meet the model's
 * {@code tokenizer.chat_template}. Rendering lands with {@code tokenizer.ChatTemplate}; until then a chat request is
 * refused with a message saying so. Runs on the caller's thread.
 */
final class ChatPrompt {
    static final String TEMPLATE_KEY = "tokenizer.chat_template";

    private ChatPrompt() {}

    /** The prompt ids of {@code request.messages()}, ready for generation (the assistant turn opened). */
    static int[] encode(Model model, Tokenizer tokenizer, Request request) {
        if (!model.gguf().has(TEMPLATE_KEY)) {
            throw new RequestException("request " + request.id() + ": chat messages need the model's chat template, but "
                    + model.gguf().path() + " has no " + TEMPLATE_KEY + "; send the prompt as text or token ids");
        }
        throw new RequestException("request " + request.id() + ": chat messages are not supported by this build yet "
                + "(rendering " + TEMPLATE_KEY + " needs tokenizer.ChatTemplate); send the prompt as text or token ids");
    }
}
