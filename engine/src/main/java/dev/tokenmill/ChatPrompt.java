package dev.tokenmill;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.tokenizer.ChatTemplate;
import dev.tokenmill.tokenizer.ChatTemplateException;
import dev.tokenmill.tokenizer.Tokenizer;

/**
 * Chat messages to prompt ids: the one place where a {@link Request}'s messages meet the model's
 * {@code tokenizer.chat_template}. The template is compiled once, on first use, and shared by all threads (rendering
 * is thread-safe). The rendered text is tokenized with control-token text parsed and no BOS added, as vLLM does:
 * templates write {@code bos_token} themselves where the model wants it. Runs on the caller's thread.
 */
final class ChatPrompt {
    private final GgufFile gguf;
    private final Tokenizer tokenizer;
    private volatile ChatTemplate template;

    ChatPrompt(GgufFile gguf, Tokenizer tokenizer) {
        this.gguf = gguf;
        this.tokenizer = tokenizer;
    }

    /** The prompt ids of {@code request.messages()}, with the assistant turn opened. */
    int[] encode(Request request) {
        if (!gguf.has(ChatTemplate.GGUF_KEY)) {
            throw new RequestException("request " + request.id() + ": chat messages need the model's chat template, but "
                    + gguf.path() + " has no " + ChatTemplate.GGUF_KEY + "; send the prompt as text or token ids");
        }
        String text;
        try {
            text = template().render(request.messages(), true);
        } catch (ChatTemplateException e) {
            throw new RequestException("request " + request.id() + ": the chat template failed: " + e.getMessage(), e);
        }
        int[] ids = tokenizer.encode(text, false, true);
        if (ids.length == 0) throw new RequestException("request " + request.id() + ": the rendered chat prompt has no tokens");
        return ids;
    }

    private ChatTemplate template() {
        ChatTemplate t = template;
        if (t == null) {
            synchronized (this) {
                if (template == null) template = ChatTemplate.fromGguf(gguf);
                t = template;
            }
        }
        return t;
    }
}
