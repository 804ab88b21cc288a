import dev.tokenmill.Engine;
import dev.tokenmill.EngineConfig;
import dev.tokenmill.Request;

import java.nio.file.Path;
import java.util.List;

/**
 * Opens an engine on a model, runs one short greedy request (so every weight is read), prints how long the open took and "ready" and waits
 * for stdin to close: scripts/rss-two-jvms.sh reads the process's memory meanwhile.
 */
public class RssDriver {
    public static void main(String[] args) throws Exception {
        EngineConfig config = EngineConfig.builder().threads(1).maxSeqs(4).maxBatchTokens(64).maxModelLen(512)
                .kvCacheBytes(32L << 20).build();
        long t0 = System.nanoTime();
        try (Engine engine = Engine.open(Path.of(args[0]), config)) {
            System.out.printf("open %.2f s%n", (System.nanoTime() - t0) / 1e9);
            engine.generate(List.of(Request.tokens("r", 1, 2, 3, 4, 5, 6, 7, 8).greedy(8).ignoreEos(true).build()));
            System.out.println("ready");
            System.out.flush();
            while (System.in.read() >= 0) { }
        }
    }
}
