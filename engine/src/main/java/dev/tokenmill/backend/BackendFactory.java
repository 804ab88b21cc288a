package dev.tokenmill.backend;

import dev.tokenmill.EngineConfig;
import dev.tokenmill.model.Model;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/**
 * Opens a {@link Backend} for one kind of device. Implementations register through
 * {@code META-INF/services/dev.tokenmill.backend.BackendFactory}, so a backend with optional dependencies (CUDA:
 * JCuda, cuBLAS) is found when its classes are on the class path and is absent otherwise; the engine names none
 * of them. {@link #select} picks one for {@link EngineConfig#device()}.
 */
public interface BackendFactory {

    /** The device kind this factory serves. */
    EngineConfig.Device device();

    /**
     * Whether a device of this kind can be opened here (driver and device present); cheap and side-effect free
     * apart from loading the device's driver library. {@code why} receives the reason when not.
     */
    boolean available(StringBuilder why);

    /**
     * Opens a backend for {@code model}: uploads or maps weights, allocates the KV cache and every buffer a forward
     * call needs. Failures name the model file and the cause; nothing stays allocated after a failure.
     */
    Backend open(Model model, BackendOptions options);

    /** Every factory on the class path, CPU first. */
    static List<BackendFactory> all() {
        List<BackendFactory> out = new ArrayList<>();
        for (BackendFactory f : ServiceLoader.load(BackendFactory.class, BackendFactory.class.getClassLoader())) out.add(f);
        out.sort(java.util.Comparator.comparing(BackendFactory::device));
        return out;
    }

    /**
     * The factory for {@code device}: CPU or CUDA as asked (failing with the reason when CUDA is not available), or for
     * {@code AUTO} CUDA when a device and driver are present, else the CPU. {@code log} receives one line saying why.
     */
    static BackendFactory select(EngineConfig.Device device, java.util.function.Consumer<String> log) {
        List<BackendFactory> factories = all();
        BackendFactory cpu = null, cuda = null;
        for (BackendFactory f : factories) {
            if (f.device() == EngineConfig.Device.CPU && cpu == null) cpu = f;
            if (f.device() == EngineConfig.Device.CUDA && cuda == null) cuda = f;
        }
        switch (device) {
            case CPU -> {
                if (cpu == null) throw new IllegalStateException("no CPU backend on the class path (META-INF/services)");
                return cpu;
            }
            case CUDA -> {
                if (cuda == null) {
                    throw new IllegalArgumentException("EngineConfig.device = cuda, but no CUDA backend is on the class path");
                }
                StringBuilder why = new StringBuilder();
                if (!cuda.available(why)) throw new IllegalArgumentException("EngineConfig.device = cuda, but " + why);
                return cuda;
            }
            case AUTO -> {
                StringBuilder why = new StringBuilder();
                if (cuda != null && cuda.available(why)) {
                    log.accept("device auto: a CUDA device is present, using it");
                    return cuda;
                }
                if (cpu == null) throw new IllegalStateException("no CPU backend on the class path (META-INF/services)");
                log.accept("device auto: using the CPU (" + (cuda == null ? "no CUDA backend on the class path" : why) + ")");
                return cpu;
            }
        }
        throw new AssertionError(device);
    }
}
