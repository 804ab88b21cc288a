package dev.tokenmill.quant;

/** A Hugging Face checkpoint cannot be converted: the message names the file, key or tensor and what was expected. */
public final class ConvertException extends IllegalArgumentException {
    public ConvertException(String message) { super(message); }
}
