package dev.tokenmill.backend.cuda;

import java.lang.reflect.Method;
import java.util.Map;

/**
 * Which GPU an engine opens when {@code EngineConfig.deviceOrdinal} is -1: {@code -Dtokenmill.cuda.device}, else the
 * GPU address Spark assigned the running task (an executor started with {@code spark.executor.resource.gpu.amount};
 * read from {@code TaskContext.get().resourcesJMap().get("gpu").addresses()[0]} by reflection, so the engine does not
 * depend on Spark), else 0.
 */
final class DeviceOrdinal {
    private DeviceOrdinal() {}

    static int resolve(int configured) {
        if (configured >= 0) return configured;
        Integer p = parse(System.getProperty("tokenmill.cuda.device"));
        if (p != null) return p;
        Integer spark = parse(sparkGpuAddress());
        return spark != null ? spark : 0;
    }

    /** A GPU address as Spark writes it ("0", "3"); null when absent or not a plain index. */
    static Integer parse(String address) {
        if (address == null) return null;
        String s = address.trim();
        if (s.isEmpty() || !s.chars().allMatch(Character::isDigit) || s.length() > 4) return null;
        return Integer.parseInt(s);
    }

    /** The first GPU address of the current Spark task, or null outside one (or without Spark). */
    static String sparkGpuAddress() {
        try {
            Class<?> tc = Class.forName("org.apache.spark.TaskContext");
            Object ctx = tc.getMethod("get").invoke(null);
            if (ctx == null) return null;
            Map<?, ?> res = (Map<?, ?>) tc.getMethod("resourcesJMap").invoke(ctx);
            Object gpu = res == null ? null : res.get("gpu");
            if (gpu == null) return null;
            Method addresses = gpu.getClass().getMethod("addresses");
            String[] a = (String[]) addresses.invoke(gpu);
            return a != null && a.length > 0 ? a[0] : null;
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return null;
        }
    }
}
