package dev.tokenmill.tensor;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Whether the Vector API module ({@code --add-modules jdk.incubator.vector}) is present; warns once when not. */
public final class VectorSupport {
    private static final Logger LOG = LoggerFactory.getLogger(VectorSupport.class);
    private static final boolean AVAILABLE = detect();

    private VectorSupport() {}

    public static boolean available() {
        return AVAILABLE;
    }

    private static boolean detect() {
        if (Boolean.getBoolean("tokenmill.scalar")) return false;
        try {
            Class.forName("jdk.incubator.vector.FloatVector");
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            LOG.warn("The Vector API (jdk.incubator.vector) is not available: using scalar kernels, which are much slower. "
                    + "Start the JVM with --add-modules jdk.incubator.vector.");
            return false;
        }
    }
}
