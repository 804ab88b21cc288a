package dev.tokenmill.sample.constrain;

import dev.tokenmill.tokenizer.StreamingDecoder;
import dev.tokenmill.tokenizer.Tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** A test vocabulary of given pieces: id 0 is an end-of-sequence control token, then the pieces as given. */
final class ByteTokenizer implements Tokenizer {
    static final int EOS = 0;
    private final List<String> pieces;

    ByteTokenizer(List<String> pieces) {
        this.pieces = pieces;
    }

    @Override public int[] encode(String text, boolean addSpecial, boolean parseSpecial) { throw new UnsupportedOperationException(); }

    @Override public String decode(int[] ids) { return decode(ids, 0, ids.length); }

    @Override
    public String decode(int[] ids, int from, int to) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = from; i < to; i++) out.writeBytes(tokenBytes(ids[i]));
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override public byte[] tokenBytes(int id) { return id == EOS ? "</s>".getBytes(StandardCharsets.UTF_8) : pieces.get(id - 1).getBytes(StandardCharsets.UTF_8); }
    @Override public String tokenText(int id) { return id == EOS ? "</s>" : pieces.get(id - 1); }
    @Override public int vocabSize() { return pieces.size() + 1; }
    @Override public int bos() { return -1; }
    @Override public int eos() { return EOS; }
    @Override public boolean isEndOfGeneration(int id) { return id == EOS; }
    @Override public boolean isControl(int id) { return id == EOS; }
    @Override public StreamingDecoder newStreamingDecoder() { throw new UnsupportedOperationException(); }

    int id(String piece) {
        return pieces.indexOf(piece) + 1;
    }
}
