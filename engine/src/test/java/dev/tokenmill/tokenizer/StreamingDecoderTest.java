package dev.tokenmill.tokenizer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class StreamingDecoderTest {
    @TempDir
    static Path dir;
    static Tokenizer tok;

    @BeforeAll
    static void load() {
        tok = TestVocabularies.open(TestVocabularies.bpeWriter("gpt-2"), dir, "bpe");
    }

    @Test
    void holdsBackTheFirstByteOfATwoByteCharacter() {
        StreamingDecoder d = tok.newStreamingDecoder();
        assertThat(d.accept(0xC3)).isEmpty(); // in the test vocabulary token id b is byte b
        assertThat(d.pendingBytes()).isEqualTo(1);
        assertThat(d.accept(0xA9)).isEqualTo("é");
        assertThat(d.pendingBytes()).isZero();
    }

    @Test
    void neverEmitsHalfACharacterAndLosesNothingOnRandomText() {
        Random rnd = new Random(42);
        int[] pool = {'a', ' ', 'é', 'ß', '€', '你', 0x1F600, 0x1F44D, '\n', 'Ж'};
        for (int round = 0; round < 200; round++) {
            StringBuilder sb = new StringBuilder();
            int n = 1 + rnd.nextInt(20);
            for (int i = 0; i < n; i++) sb.appendCodePoint(pool[rnd.nextInt(pool.length)]);
            String text = sb.toString();
            int[] ids = tok.encode(text, false, false);
            StreamingDecoder d = tok.newStreamingDecoder();
            StringBuilder got = new StringBuilder();
            for (int id : ids) {
                String part = d.accept(id);
                assertThat(part).doesNotContain("\uFFFD");
                if (!part.isEmpty()) {
                    assertThat(Character.isHighSurrogate(part.charAt(part.length() - 1))).isFalse();
                }
                got.append(part);
            }
            got.append(d.flush());
            assertThat(got.toString()).isEqualTo(text);
        }
    }

    @Test
    void flushTurnsAnUnfinishedCharacterIntoReplacement() {
        StreamingDecoder d = tok.newStreamingDecoder();
        assertThat(d.accept(0xE4)).isEmpty(); // first byte of a 3-byte character
        assertThat(d.flush()).isEqualTo("\uFFFD");
        assertThat(d.pendingBytes()).isZero();
    }

    @Test
    void bytesThatCannotStartACharacterAreNotHeldBack() {
        StreamingDecoder d = tok.newStreamingDecoder();
        assertThat(d.accept(0xA9)).isEqualTo("\uFFFD"); // lone continuation byte
        assertThat(StreamingDecoder.completePrefix(new byte[] {'a', (byte) 0xE0, (byte) 0x80}, 3)).isEqualTo(3);
        assertThat(StreamingDecoder.completePrefix(new byte[] {'a', (byte) 0xE0, (byte) 0xA0}, 3)).isEqualTo(1);
    }
}
