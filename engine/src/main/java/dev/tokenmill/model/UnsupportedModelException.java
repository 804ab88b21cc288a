package dev.tokenmill.model;

import dev.tokenmill.gguf.GgufFormatException;

/** A well-formed GGUF file whose model Tokenmill cannot run (e.g. an unknown {@code general.architecture}). */
public class UnsupportedModelException extends GgufFormatException {
    public UnsupportedModelException(String message) {
        super(message);
    }
}
