package dev.tokenmill.tokenizer;

import dev.tokenmill.gguf.GgufFile;

import java.util.List;

/**
 * Text to token ids and back, built from the {@code tokenizer.*} metadata of a GGUF file and matching llama.cpp
 * ({@code llama_tokenize} / {@code llama_detokenize}) id for id. Supported: SentencePiece-style vocabularies
 * ({@code tokenizer.ggml.model = llama}), byte-level BPE ({@code gpt2}, with the pre-tokenizers llama.cpp selects by
 * {@code tokenizer.ggml.pre}) and WordPiece ({@code bert}). Instances are immutable and safe to share between threads.
 */
public interface Tokenizer {

    /** Builds the tokenizer a GGUF file describes; throws {@link TokenizerException} naming the file and key. */
    static Tokenizer fromGguf(GgufFile f) {
        return new GgufTokenizer(Vocabulary.fromGguf(f));
    }

    /**
     * Encodes text like {@code llama_tokenize}.
     *
     * @param addSpecial   add BOS/EOS (and CLS/SEP for WordPiece) as the vocabulary asks
     *                     ({@code tokenizer.ggml.add_bos_token}, {@code add_eos_token}, else llama.cpp's default)
     * @param parseSpecial match the text of control tokens such as {@code <s>} or {@code <|im_start|>} as those
     *                     tokens; user-defined tokens are matched either way, as in llama.cpp
     */
    int[] encode(String text, boolean addSpecial, boolean parseSpecial);

    /**
     * Decodes ids to text like {@code llama_detokenize} with special tokens kept and rendered as their text
     * (SentencePiece's leading space of the first piece is dropped, byte-level BPE cleans spaces before
     * punctuation where llama.cpp does). Bytes that are not valid UTF-8 become U+FFFD.
     */
    String decode(int[] ids);

    /** {@link #decode(int[])} of {@code ids[from..to)}. */
    String decode(int[] ids, int from, int to);

    /** {@link #decode(int[])} of a list. */
    default String decode(List<Integer> ids) {
        return decode(ids.stream().mapToInt(Integer::intValue).toArray());
    }

    /**
     * The raw bytes a token stands for, as {@code llama_token_to_piece} with special tokens rendered: byte tokens
     * resolved to their byte, byte-level BPE unmapped, {@code ▁} turned into a space. May be part of a UTF-8
     * character.
     */
    byte[] tokenBytes(int id);

    /** The token's text as stored in the vocabulary (e.g. {@code ▁the}, {@code Ġthe}, {@code <0x0A>}). */
    String tokenText(int id);

    int vocabSize();

    /**
     * Whether a token is a control or unknown token ({@code <s>}, {@code </s>}, {@code <|im_start|>}, ...): never
     * ordinary text, though {@link #tokenBytes} renders it. Constrained decoding never emits one as text.
     */
    default boolean isControl(int id) {
        return false;
    }

    /** Whether {@link #decode} drops a leading space of the first piece (SentencePiece with a space prefix). */
    default boolean decodeDropsLeadingSpace() {
        return false;
    }

    /** Beginning-of-sequence id, or -1 if the vocabulary has none. */
    int bos();

    /** End-of-sequence id, or -1 if the vocabulary has none. */
    int eos();

    /** Whether generation should stop at this token: EOS, EOT, EOM and the end tokens llama.cpp's {@code is_eog} knows. */
    boolean isEndOfGeneration(int id);

    /** A decoder for a stream of generated ids that only ever returns complete UTF-8 characters. */
    StreamingDecoder newStreamingDecoder();
}
