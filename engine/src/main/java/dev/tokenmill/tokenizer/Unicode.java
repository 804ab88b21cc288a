package dev.tokenmill.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;

/**
 * Code point classification and byte-level mappings as llama.cpp's {@code unicode.cpp} sees them. The category
 * flags mirror {@code unicode_cpt_flags} (generated there from Python's {@code regex} module); here they come from
 * {@link Character#getType(int)}, which agrees except for code points assigned in Unicode versions newer than
 * llama.cpp's table.
 */
final class Unicode {
    static final int UNDEFINED = 0x0001;
    static final int NUMBER = 0x0002;
    static final int LETTER = 0x0004;
    static final int SEPARATOR = 0x0008;
    static final int ACCENT_MARK = 0x0010;
    static final int PUNCTUATION = 0x0020;
    static final int SYMBOL = 0x0040;
    static final int CONTROL = 0x0080;
    static final int CATEGORY_MASK = 0x00FF;
    static final int WHITESPACE = 0x0100;

    /** Flags of the Basic Multilingual Plane, computed once; other planes are classified on the fly. */
    private static final short[] BMP_FLAGS = new short[0x10000];

    /** GPT-2's byte-to-unicode table: byte value to the code point that stands for it in byte-level vocabularies. */
    private static final int[] BYTE_TO_CPT = new int[256];
    /** The inverse: code point (all below 0x144) to byte value, or -1. */
    private static final int[] CPT_TO_BYTE = new int[0x200];

    static {
        for (int c = 0; c < 0x10000; c++) BMP_FLAGS[c] = (short) computeFlags(c);
        java.util.Arrays.fill(CPT_TO_BYTE, -1);
        boolean[] direct = new boolean[256];
        for (int b = 0x21; b <= 0x7E; b++) direct[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) direct[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) direct[b] = true;
        int n = 0;
        for (int b = 0; b < 256; b++) {
            int cpt = direct[b] ? b : 256 + n++;
            BYTE_TO_CPT[b] = cpt;
            CPT_TO_BYTE[cpt] = b;
        }
    }

    private Unicode() {}

    /** llama.cpp's {@code unicode_cpt_flags_from_cpt}: one category bit plus {@link #WHITESPACE}. */
    static int flags(int cpt) {
        if (cpt >= 0 && cpt < 0x10000) return BMP_FLAGS[cpt];
        return cpt <= Character.MAX_CODE_POINT && cpt >= 0 ? computeFlags(cpt) : UNDEFINED;
    }

    static boolean isWhitespace(int cpt) { return (flags(cpt) & WHITESPACE) != 0; }

    static boolean isLetter(int cpt) { return (flags(cpt) & LETTER) != 0; }

    static boolean isNumber(int cpt) { return (flags(cpt) & NUMBER) != 0; }

    private static int computeFlags(int cpt) {
        int category = switch (Character.getType(cpt)) {
            case Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER,
                 Character.MODIFIER_LETTER, Character.OTHER_LETTER -> LETTER;
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> NUMBER;
            case Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.COMBINING_SPACING_MARK -> ACCENT_MARK;
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                 Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                 Character.OTHER_PUNCTUATION -> PUNCTUATION;
            case Character.MATH_SYMBOL, Character.CURRENCY_SYMBOL, Character.MODIFIER_SYMBOL,
                 Character.OTHER_SYMBOL -> SYMBOL;
            case Character.SPACE_SEPARATOR, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR -> SEPARATOR;
            case Character.CONTROL, Character.FORMAT, Character.PRIVATE_USE, Character.SURROGATE -> CONTROL;
            default -> UNDEFINED; // Cn, unassigned
        };
        return category | (whiteSpaceProperty(cpt) ? WHITESPACE : 0);
    }

    /** Unicode's White_Space property, the set llama.cpp calls {@code unicode_set_whitespace}. */
    private static boolean whiteSpaceProperty(int c) {
        return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
                || c == 0x3000;
    }

    /** llama.cpp's {@code unicode_tolower}: the first code point of the full lowercase mapping. */
    static int toLower(int cpt) {
        return Character.toLowerCase(cpt);
    }

    /** llama.cpp's NFD table keeps only the first code point of the canonical decomposition. */
    static int nfdFirst(int cpt) {
        if (cpt < 0xC0) return cpt;
        String s = Normalizer.normalize(Character.toString(cpt), Normalizer.Form.NFD);
        return s.codePointAt(0);
    }

    /** The code point that stands for {@code b} (0..255) in a byte-level BPE vocabulary. */
    static int byteToCpt(int b) { return BYTE_TO_CPT[b & 0xFF]; }

    /** The byte a byte-level code point stands for, or -1. */
    static int cptToByte(int cpt) { return cpt >= 0 && cpt < CPT_TO_BYTE.length ? CPT_TO_BYTE[cpt] : -1; }

    /** Maps every UTF-8 byte of {@code s} to its byte-level code point (llama.cpp's byte encoding of a word). */
    static String byteEncode(String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        StringBuilder sb = new StringBuilder(utf8.length);
        for (byte b : utf8) sb.append((char) BYTE_TO_CPT[b & 0xFF]);
        return sb.toString();
    }

    /**
     * llama.cpp's {@code llama_decode_text}: byte-level code points back to bytes. A code point outside the table
     * becomes the same {@code [UNK_BYTE_0x..]} marker llama.cpp writes.
     */
    static byte[] byteDecode(String text) {
        byte[] fast = new byte[text.length()];
        for (int i = 0; i < fast.length; i++) {
            int b = cptToByte(text.charAt(i));
            if (b < 0) return byteDecodeWithMarkers(text);
            fast[i] = (byte) b;
        }
        return fast;
    }

    private static byte[] byteDecodeWithMarkers(String text) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(text.length());
        for (int i = 0; i < text.length(); ) {
            int cpt = text.codePointAt(i);
            i += Character.charCount(cpt);
            int b = cptToByte(cpt);
            if (b >= 0) {
                out.write(b);
            } else {
                StringBuilder marker = new StringBuilder("[UNK_BYTE_0x");
                for (byte u : Character.toString(cpt).getBytes(StandardCharsets.UTF_8)) {
                    marker.append(String.format("%02x", u & 0xFF));
                }
                marker.append(text).append(']');
                out.writeBytes(marker.toString().getBytes(StandardCharsets.UTF_8));
            }
        }
        return out.toByteArray();
    }

    /** Length of a UTF-8 sequence from its lead byte, as llama.cpp's {@code unicode_len_utf8}. */
    static int utf8Length(byte lead) {
        int hi = (lead & 0xFF) >> 4;
        return hi < 12 ? 1 : hi < 14 ? 2 : hi == 14 ? 3 : 4;
    }
}
