package dev.tokenmill.backend.cuda;

/** A CUDA driver or cuBLAS call failed; the message names the call and its status. */
public final class CudaException extends RuntimeException {
    public CudaException(String message) {
        super(message);
    }

    public CudaException(String message, Throwable cause) {
        super(message, cause);
    }
}
