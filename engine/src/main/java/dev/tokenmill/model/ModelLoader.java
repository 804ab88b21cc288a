package dev.tokenmill.model;

import dev.tokenmill.gguf.GgufFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;

/** Opens a GGUF file and reads the config and weights of a supported architecture. */
public final class ModelLoader {
    private static final Logger LOG = LoggerFactory.getLogger(ModelLoader.class);

    private ModelLoader() {}

    /** Maps the file and checks every tensor; the caller closes the returned model. */
    public static Model load(Path path) throws IOException {
        GgufFile gguf = GgufFile.open(path);
        try {
            return fromGguf(gguf);
        } catch (RuntimeException e) {
            gguf.close();
            throw e;
        }
    }

    /** Reads config and weights from an open file, which the returned model then owns. */
    public static Model fromGguf(GgufFile gguf) {
        ModelConfig config = ModelConfig.fromGguf(gguf);
        ModelWeights weights = ModelWeights.fromGguf(gguf, config);
        LOG.debug("loaded {}: {}", gguf.path(), config);
        return new Model(gguf, config, weights);
    }
}
