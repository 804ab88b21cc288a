package dev.tokenmill.spark;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** The version this connector (and the engine inside it) was built as. */
final class Versions {
    private Versions() {}

    static String engine() {
        try (InputStream in = Versions.class.getResourceAsStream("version.properties")) {
            if (in == null) return "unknown";
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }
}
