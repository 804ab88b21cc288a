package dev.tokenmill.spark;

import dev.tokenmill.gguf.GgufFile;
import dev.tokenmill.gguf.GgufWriter;
import dev.tokenmill.gguf.TensorInfo;
import dev.tokenmill.synth.ModelSynthesizer;
import dev.tokenmill.synth.SynthPreset;
import dev.tokenmill.tensor.quant.FileType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The small random-weight models of the connector tests, written once per test JVM. */
final class TestModels {
    /** A ChatML-style template, enough to show that the messages went through the model's template. */
    static final String CHAT_TEMPLATE = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}"
            + "{% if add_generation_prompt %}<assistant>{% endif %}";

    private static Path tiny;
    private static Path tinyChat;

    private TestModels() {}

    /** The {@code tiny} preset (4 layers, 256 wide, 4096-token SentencePiece vocabulary), Q8_0, seed 7. */
    static synchronized Path tiny() {
        if (tiny == null) {
            try {
                Path dir = Files.createDirectories(Path.of("target", "test-models"));
                Path p = dir.resolve("tiny-q8_0-" + ProcessHandle.current().pid() + ".gguf");
                ModelSynthesizer.write(new ModelSynthesizer.Options(SynthPreset.byName("tiny"), FileType.parse("Q8_0"), 7, 2), p, null);
                p.toFile().deleteOnExit();
                tiny = p.toAbsolutePath();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return tiny;
    }

    /** {@link #tiny()} with {@link #CHAT_TEMPLATE} as its {@code tokenizer.chat_template}. */
    static synchronized Path tinyChat() {
        if (tinyChat == null) {
            Path p = tiny().resolveSibling("tiny-chat-" + ProcessHandle.current().pid() + ".gguf");
            try (GgufFile src = GgufFile.open(tiny())) {
                GgufWriter w = new GgufWriter();
                src.metadata().forEach((k, v) -> {
                    if (!k.equals("general.alignment")) w.put(k, v);
                });
                w.putString("tokenizer.chat_template", CHAT_TEMPLATE);
                for (TensorInfo t : src.tensorList()) w.addTensor(t.name(), t.type(), t.shape(), src.tensorData(t));
                w.write(p);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            p.toFile().deleteOnExit();
            tinyChat = p.toAbsolutePath();
        }
        return tinyChat;
    }
}
