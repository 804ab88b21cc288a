package dev.tokenmill.backend.cuda;

import dev.tokenmill.EngineConfig;
import dev.tokenmill.backend.Backend;
import dev.tokenmill.backend.BackendFactory;
import dev.tokenmill.backend.BackendOptions;
import dev.tokenmill.model.Model;

/**
 * The CUDA backend (JCuda's driver API, cuBLAS and our PTX kernels). This class names no JCuda type, so the
 * service loader can instantiate it on a class path without JCuda; {@link #available} loads the CUDA classes only
 * when asked, and answers false with the reason (no JCuda, no driver, no device) instead of throwing.
 */
public final class CudaBackendFactory implements BackendFactory {

    @Override
    public EngineConfig.Device device() { return EngineConfig.Device.CUDA; }

    @Override
    public boolean available(StringBuilder why) {
        try {
            Class.forName("jcuda.driver.JCudaDriver", false, CudaBackendFactory.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            why.append("JCuda (org.jcuda:jcuda 12.0.0) is not on the class path");
            return false;
        }
        try {
            String reason = CudaProbe.probe();
            if (reason == null) return true;
            why.append(reason);
            return false;
        } catch (Throwable t) { // UnsatisfiedLinkError without a driver, CudaException, anything: never thrown from here
            String m = String.valueOf(t.getMessage()).lines().findFirst().orElse("");
            why.append("the CUDA driver could not be used: ").append(t.getClass().getSimpleName()).append(": ").append(m);
            return false;
        }
    }

    @Override
    public Backend open(Model model, BackendOptions options) {
        return CudaBackend.open(model, options);
    }
}
