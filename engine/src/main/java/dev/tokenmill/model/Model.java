package dev.tokenmill.model;

import dev.tokenmill.gguf.GgufFile;

/**
 * A loaded model: the mapped GGUF file, its hyperparameters and its weight handles. The weights point into the
 * mapping, so they are valid until {@link #close()}.
 */
public record Model(GgufFile gguf, ModelConfig config, ModelWeights weights) implements AutoCloseable {
    @Override
    public void close() {
        gguf.close();
    }
}
