package dev.tokenmill.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hand-built blocks with known values, packed the way ggml's quantizers pack them (quantize_row_*_ref), so a
 * layout mistake shared by the scalar and the vector twin still fails. Each block is preceded by 3 bytes of
 * junk so rows are read at an unaligned offset.
 */
class BlockLayoutTest {
    private static final int PAD = 3;

    record Case(GgmlType type, byte[] bytes, float[] expected) {
        @Override public String toString() { return type.toString(); }
    }

    static Stream<Arguments> cases() {
        List<Case> cases = new ArrayList<>();
        cases.add(q8_0());
        cases.add(q4_0());
        cases.add(q4_1());
        cases.add(q5_0());
        cases.add(q5_1());
        cases.add(q4_K());
        cases.add(q5_K());
        cases.add(q6_K());
        cases.add(f32());
        cases.add(f16());
        cases.add(bf16());
        List<Arguments> args = new ArrayList<>();
        for (Case c : cases) {
            args.add(Arguments.of(c, "scalar", Kernels.scalar(c.type())));
            args.add(Arguments.of(c, "fast", Kernels.forType(c.type())));
        }
        return args.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void dequantizesHandBuiltBlockToKnownValues(Case c, String which, RowKernel k) {
        MemorySegment w = padded(c.bytes());
        float[] out = new float[c.expected().length + 2];
        k.dequantize(w, PAD, out, 1, c.expected().length);
        float[] got = java.util.Arrays.copyOfRange(out, 1, 1 + c.expected().length);
        assertThat(got).containsExactly(c.expected());
        assertThat(out[0]).isZero();
        assertThat(out[out.length - 1]).isZero();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void dotWithIndexWeightsMatchesKnownValues(Case c, String which, RowKernel k) {
        MemorySegment w = padded(c.bytes());
        int n = c.expected().length;
        float[] x = new float[n + 5];
        double want = 0;
        for (int i = 0; i < n; i++) {
            x[5 + i] = (i % 7) - 3; // small integers keep every product and partial sum exact
            want += (double) c.expected()[i] * x[5 + i];
        }
        assertThat(k.dot(w, PAD, x, 5, n)).isEqualTo((float) want);
    }

    private static MemorySegment padded(byte[] bytes) {
        MemorySegment w = Arena.ofAuto().allocate(bytes.length + PAD + 5);
        for (int i = 0; i < PAD; i++) w.set(ValueLayout.JAVA_BYTE, i, (byte) 0x5a);
        MemorySegment.copy(bytes, 0, w, ValueLayout.JAVA_BYTE, PAD, bytes.length);
        return w;
    }

    // ---- builders ---------------------------------------------------------------------------------------------

    /** Little-endian byte builder. */
    static final class Bytes {
        final java.nio.ByteBuffer buf;

        Bytes(int size) { buf = java.nio.ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN); }

        Bytes f16(float v) { buf.putShort(Fp16.fromFloat(v)); return this; }
        Bytes u8(int v) { buf.put((byte) v); return this; }
        Bytes u32(int v) { buf.putInt(v); return this; }

        byte[] done() {
            assertThat(buf.remaining()).as("block fully written").isZero();
            return buf.array();
        }
    }

    static Case q8_0() {
        // two blocks: d=0.5 with qs = -16..15, d=-2 with qs = 0..31
        Bytes b = new Bytes(68).f16(0.5f);
        float[] e = new float[64];
        for (int j = 0; j < 32; j++) { b.u8(j - 16); e[j] = (j - 16) * 0.5f; }
        b.f16(-2f);
        for (int j = 0; j < 32; j++) { b.u8(j); e[32 + j] = j * -2f; }
        return new Case(GgmlType.Q8_0, b.done(), e);
    }

    static Case q4_0() {
        // qs[j] low nibble = j (element j), high nibble = 15 - j (element 16 + j); value (q - 8) * d
        Bytes b = new Bytes(18).f16(2f);
        float[] e = new float[32];
        for (int j = 0; j < 16; j++) {
            b.u8(j | ((15 - j) << 4));
            e[j] = (j - 8) * 2f;
            e[16 + j] = (15 - j - 8) * 2f;
        }
        return new Case(GgmlType.Q4_0, b.done(), e);
    }

    static Case q4_1() {
        Bytes b = new Bytes(20).f16(0.5f).f16(-1f);
        float[] e = new float[32];
        for (int j = 0; j < 16; j++) {
            b.u8(j | ((15 - j) << 4));
            e[j] = j * 0.5f - 1f;
            e[16 + j] = (15 - j) * 0.5f - 1f;
        }
        return new Case(GgmlType.Q4_1, b.done(), e);
    }

    static Case q5_0() {
        // block 1: qh bits 0..15 set, so elements 0..15 get their fifth bit; block 2: only bits 0 and 31
        Bytes b = new Bytes(44).f16(1f).u32(0x0000ffff);
        float[] e = new float[64];
        for (int j = 0; j < 16; j++) { b.u8(j | (j << 4)); e[j] = j; e[16 + j] = j - 16; }
        b.f16(0.25f).u32(0x80000001);
        for (int j = 0; j < 16; j++) { b.u8(j | (j << 4)); e[32 + j] = (j - 16) * 0.25f; e[48 + j] = (j - 16) * 0.25f; }
        e[32] = 0f;           // element 0: 0 | 16 - 16
        e[63] = 15 * 0.25f;   // element 31: 15 | 16 - 16
        return new Case(GgmlType.Q5_0, b.done(), e);
    }

    static Case q5_1() {
        Bytes b = new Bytes(24).f16(1f).f16(0.5f).u32(0xffff0000);
        float[] e = new float[32];
        for (int j = 0; j < 16; j++) { b.u8(j | (j << 4)); e[j] = j + 0.5f; e[16 + j] = j + 16 + 0.5f; }
        return new Case(GgmlType.Q5_1, b.done(), e);
    }

    private static final int[] K_SC = {1, 2, 3, 4, 17, 34, 51, 63};
    private static final int[] K_MIN = {0, 1, 2, 3, 20, 33, 47, 60};

    /** The 12 scale bytes as quantize_row_q4_K_ref packs 8 (scale, min) pairs of 6 bits. */
    static byte[] packKScales(int[] sc, int[] mn) {
        int[] s = new int[12];
        for (int j = 0; j < 8; j++) {
            if (j < 4) {
                s[j] = sc[j];
                s[j + 4] = mn[j];
            } else {
                s[j + 4] = (sc[j] & 0xf) | ((mn[j] & 0xf) << 4);
                s[j - 4] |= (sc[j] >> 4) << 6;
                s[j] |= (mn[j] >> 4) << 6;
            }
        }
        byte[] out = new byte[12];
        for (int i = 0; i < 12; i++) out[i] = (byte) s[i];
        return out;
    }

    static Case q4_K() {
        float d = 0.5f, dmin = 0.25f;
        int[] q = new int[256];
        for (int e = 0; e < 256; e++) q[e] = (e * 5 + e / 32) % 16;
        Bytes b = new Bytes(144).f16(d).f16(dmin);
        for (byte s : packKScales(K_SC, K_MIN)) b.u8(s);
        for (int g = 0; g < 4; g++) {
            for (int l = 0; l < 32; l++) b.u8(q[64 * g + l] | (q[64 * g + 32 + l] << 4));
        }
        float[] e = new float[256];
        for (int i = 0; i < 256; i++) e[i] = d * K_SC[i / 32] * q[i] - dmin * K_MIN[i / 32];
        return new Case(GgmlType.Q4_K, b.done(), e);
    }

    static Case q5_K() {
        float d = 0.5f, dmin = 0.25f;
        int[] q = new int[256];
        for (int e = 0; e < 256; e++) q[e] = (e * 7 + e / 32) % 32;
        int[] qh = new int[32];
        for (int e = 0; e < 256; e++) qh[e % 32] |= (q[e] >> 4) << (e / 32); // quantize_row_q5_K_ref: bit s of qh[l]
        Bytes b = new Bytes(176).f16(d).f16(dmin);
        for (byte s : packKScales(K_SC, K_MIN)) b.u8(s);
        for (int l = 0; l < 32; l++) b.u8(qh[l]);
        for (int g = 0; g < 4; g++) {
            for (int l = 0; l < 32; l++) b.u8((q[64 * g + l] & 0xf) | ((q[64 * g + 32 + l] & 0xf) << 4));
        }
        float[] e = new float[256];
        for (int i = 0; i < 256; i++) e[i] = d * K_SC[i / 32] * q[i] - dmin * K_MIN[i / 32];
        return new Case(GgmlType.Q5_K, b.done(), e);
    }

    static Case q6_K() {
        float d = 0.5f;
        int[] q = new int[256];
        for (int e = 0; e < 256; e++) q[e] = (e * 7 + 3) % 64;
        int[] sc = new int[16];
        for (int i = 0; i < 16; i++) sc[i] = i * 9 - 70;
        int[] ql = new int[128], qh = new int[64];
        for (int half = 0; half < 2; half++) { // quantize_row_q6_K_ref's packing
            int j = 128 * half;
            for (int l = 0; l < 32; l++) {
                ql[64 * half + l] = (q[j + l] & 0xf) | ((q[j + l + 64] & 0xf) << 4);
                ql[64 * half + l + 32] = (q[j + l + 32] & 0xf) | ((q[j + l + 96] & 0xf) << 4);
                qh[32 * half + l] = (q[j + l] >> 4) | ((q[j + l + 32] >> 4) << 2) | ((q[j + l + 64] >> 4) << 4) | ((q[j + l + 96] >> 4) << 6);
            }
        }
        Bytes b = new Bytes(210);
        for (int v : ql) b.u8(v);
        for (int v : qh) b.u8(v);
        for (int v : sc) b.u8(v);
        b.f16(d);
        float[] e = new float[256];
        for (int i = 0; i < 256; i++) e[i] = d * sc[i / 16] * (q[i] - 32);
        return new Case(GgmlType.Q6_K, b.done(), e);
    }

    static Case f32() {
        float[] e = new float[37];
        Bytes b = new Bytes(4 * e.length);
        for (int i = 0; i < e.length; i++) { e[i] = i * 0.75f - 9f; b.buf.putFloat(e[i]); }
        return new Case(GgmlType.F32, b.done(), e);
    }

    static Case f16() {
        float[] e = new float[37];
        Bytes b = new Bytes(2 * e.length);
        for (int i = 0; i < e.length; i++) { e[i] = i * 0.75f - 9f; b.f16(e[i]); }
        e[5] = 0x1p-24f; b.buf.putShort(2 * 5, (short) 0x0001);       // smallest subnormal half
        e[6] = -0x1.ff8p-15f; b.buf.putShort(2 * 6, (short) 0x83ff);  // largest negative subnormal
        e[7] = 65504f; b.buf.putShort(2 * 7, (short) 0x7bff);         // largest half
        e[8] = -0x1p-14f; b.buf.putShort(2 * 8, (short) 0x8400);      // smallest negative normal
        e[9] = -0f; b.buf.putShort(2 * 9, (short) 0x8000);
        return new Case(GgmlType.F16, b.done(), e);
    }

    static Case bf16() {
        float[] e = new float[37];
        Bytes b = new Bytes(2 * e.length);
        for (int i = 0; i < e.length; i++) { e[i] = i * 0.75f - 9f; b.buf.putShort(Fp16.floatToBf16(e[i])); }
        return new Case(GgmlType.BF16, b.done(), e);
    }
}
