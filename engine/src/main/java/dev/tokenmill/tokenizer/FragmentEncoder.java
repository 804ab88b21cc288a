package dev.tokenmill.tokenizer;

/** Encodes one stretch of text that holds no special token (llama.cpp's per-type tokenizer session). */
sealed interface FragmentEncoder permits SentencePieceEncoder, BpeEncoder, WordPieceEncoder {
    /** Appends the ids of {@code text} to {@code out}. */
    void encode(String text, IntList out);
}
