package dev.tokenmill.quant;

/** A model cannot be quantized as asked: the message names the file, tensor or type and what was expected. */
public final class QuantizeException extends IllegalArgumentException {
    public QuantizeException(String message) { super(message); }

    public QuantizeException(String message, Throwable cause) { super(message, cause); }
}
