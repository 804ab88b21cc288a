package dev.tokenmill.quant;

/** An evaluation cannot run as asked: the message names the file or option and what was expected versus found. */
public final class EvalException extends IllegalArgumentException {
    public EvalException(String message) { super(message); }
}
