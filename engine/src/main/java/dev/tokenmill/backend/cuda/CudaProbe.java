package dev.tokenmill.backend.cuda;

import jcuda.driver.JCudaDriver;

/** Loads JCuda's driver library and counts devices; loaded only when CUDA is asked for or probed. */
final class CudaProbe {
    private CudaProbe() {}

    /** null when a CUDA device can be opened, else why not. */
    static String probe() {
        JCudaDriver.setExceptionsEnabled(false);
        int rc = JCudaDriver.cuInit(0);
        if (rc != 0) return "cuInit failed: " + jcuda.driver.CUresult.stringFor(rc) + " (no NVIDIA driver or device?)";
        int[] n = new int[1];
        rc = JCudaDriver.cuDeviceGetCount(n);
        if (rc != 0) return "cuDeviceGetCount failed: " + jcuda.driver.CUresult.stringFor(rc);
        if (n[0] == 0) return "the CUDA driver sees no device";
        return null;
    }
}
