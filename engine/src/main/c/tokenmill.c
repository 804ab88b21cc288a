/*
 * Tokenmill int8 microkernels for x86-64, called from Java through FFM (dev.tokenmill.tensor.nativ).
 *
 * Weights are repacked once at load time from ggml blocks into groups of 16 rows (tm_pack): for each group and
 * each 32-element block, 16 f16 scales and the quants interleaved 4 bytes per row, so one 64-byte vector holds
 * elements 4j..4j+3 of all 16 rows. One vpdpbusd with 4 activation bytes broadcast then adds 4 products into
 * each of 16 lanes, one lane per weight row: the result vector is already one int32 block sum per row, with no
 * horizontal reductions, and the same weight vectors serve every batch row of a tile.
 *
 * Arithmetic (identical on every path, and in the Java twin ScalarTwin): activations are quantized per block of
 * 32 to int8 with a float scale (tm_quantize_q8); for each (row, batch row) the exact int32 block sums are
 * folded in block order as acc = fma((float) isum, d_w * d_x, acc). Integer sums are exact and the float steps
 * are fixed, so a row's result has the same bits whatever the batch size, the tile, the thread split or the ISA.
 *
 * vpdpbusd multiplies unsigned by signed bytes: weights are the unsigned side (Q4_0 nibbles 0..15 and Q5_0's
 * 5-bit values 0..31 as they are, Q8_0 stored as w + 128, Q6_K's 6-bit values 0..63) and the bias this adds (8,
 * 16, 128 or 32 times the activation sum) is removed by starting each block's accumulator at -8*sum, -16*sum,
 * -128*sum or -32*sum, from what tm_quantize_q8 precomputes. Types with a min (Q4_1, Q5_1: w = d*q + m; Q4_K,
 * Q5_K: w = d*sc*q - dmin*m) take their quants as they are and add the min's part, m times the activation block's
 * scaled sum, in float. K-quants keep their own scales: Q4_K and Q5_K per 32 elements, Q6_K per 16 (combined in
 * int32 before the float step); see tile_vnni for the exact steps.
 *
 * Types: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K. Two ISA paths chosen at run time (never -march=native):
 * AVX-512 VNNI, and AVX2+FMA+F16C; on the machine this was written on (Zen 4) one core runs about 370 GOP/s on
 * Q8_0/Q4_0 at batch 32 (79% of vpdpbusd's peak) and 300-320 on the K-quants, and a batch of 1 is memory-bound.
 * The AVX2 path (vpmaddubsw + vpmaddwd, the same exact block sums; see tile_avx2) runs there, capped with
 * tm_set_isa(1), about 135 GOP/s on Q8_0, 200 on Q4_0 and Q4_K and 175 on Q6_K at batch 32 (a Zen 3 core: 130,
 * 205, 200, 157) (scripts/native-bench.c with ISA 1).
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define TM_Q4_0 2
#define TM_Q4_1 3
#define TM_Q5_0 6
#define TM_Q5_1 7
#define TM_Q8_0 8
#define TM_Q4_K 12
#define TM_Q5_K 13
#define TM_Q6_K 14
#define QK_K 256
#define KMETA 320 /* per group and Q4_K super-block: 16 f16 d, 16 f16 dmin, 8x16 u8 scales, 8x16 u8 mins */
#define Q6META 288 /* per group and Q6_K super-block: 16 f16 d, 16x16 i8 scales */
#define QK 32
#define GROUP 16
#define MAX_BT 16

enum { ISA_NONE = 0, ISA_AVX2 = 1, ISA_AVX512VNNI = 2 };

static int detected_isa(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni")) return ISA_AVX512VNNI;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) return ISA_AVX2;
    return ISA_NONE;
}

static int isa = -1;

/** The ISA the kernels use: 2 = AVX-512 VNNI, 1 = AVX2, 0 = none (the library is unusable). */
int tm_isa(void) {
    if (isa < 0) isa = detected_isa();
    return isa;
}

/** Lowers (or restores) the ISA, for tests of the AVX2 path; returns the level now in use. */
int tm_set_isa(int level) {
    int best = detected_isa();
    isa = level < best ? level : best;
    return isa;
}

static int quant_bytes(int type) {
    return type == TM_Q8_0 ? 512 : type == TM_Q4_0 || type == TM_Q4_1 || type == TM_Q4_K ? 256
         : type == TM_Q5_0 || type == TM_Q5_1 || type == TM_Q5_K ? 320 : type == TM_Q6_K ? 384 : -1;
}

static int is_k(int type) { return type == TM_Q4_K || type == TM_Q5_K || type == TM_Q6_K; }

/* Types with a per-block min (Q4_1, Q5_1: w = d*q + m) keep an f16 m beside each f16 d. */
static int has_min(int type) { return type == TM_Q4_1 || type == TM_Q5_1; }

static int has_fifth(int type) { return type == TM_Q5_0 || type == TM_Q5_1 || type == TM_Q5_K; }

/** Bytes of the packed form of a [rows][cols] matrix of the type, or -1 if unsupported. */
int64_t tm_packed_bytes(int type, int rows, int cols) {
    int qb = quant_bytes(type);
    if (qb < 0 || cols % (is_k(type) ? QK_K : QK) != 0 || rows <= 0) return -1;
    int64_t groups = (rows + GROUP - 1) / GROUP, nb = cols / QK;
    if (is_k(type)) return groups * nb * qb + groups * (cols / QK_K) * (type == TM_Q6_K ? Q6META : KMETA);
    return groups * nb * (qb + (has_min(type) ? 4 : 2) * GROUP);
}

/*
 * Packs groups [groupFrom, groupTo) of the ggml matrix w (rows of cols elements) into out (tm_packed_bytes long).
 * Layout: quants of group g, block k at (g*nb + k)*qb, byte 64*j + 4*r + t = element 4j+t of row 16g+r
 * (Q8_0: 8 vectors, stored as w ^ 0x80 = w + 128; Q4_0: 4 vectors of the ggml bytes, whose low nibbles are
 * elements 4j+t and high nibbles 16+4j+t; Q4_1 likewise; Q5_0 and Q5_1: the same 4 vectors of nibbles, then one
 * 64-byte plane of the fifth bits, bit j of byte 4r+t for element 4j+t and bit 4+j for element 16+4j+t); then all
 * scales: f16 d of row 16g+r, block k at scaleBase + ((g*nb + k)*16 + r)*2, or for Q4_1 and Q5_1 d at
 * scaleBase + ((g*nb + k)*32 + r)*2 and m 32 bytes after it. Rows past the matrix are zero.
 */
static inline uint32_t load_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline void store_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/*
 * Q4_K and Q5_K: each 32-element sub-block's nibbles are repacked exactly like a Q4_0 block (so the quants region has
 * the Q4_0 layout, nb = cols/32 blocks; Q5_K adds after each block's 256 bytes a 64-byte plane of fifth bits laid out
 * as Q5_0's), and per group and super-block a KMETA-byte record follows all quants: d[16] f16, dmin[16] f16, then the
 * 6-bit scales and mins unpacked to bytes, sc[8][16] and m[8][16].
 */
static void pack_q4_k(const uint8_t *w, int rows, int cols, uint8_t *out, int groupFrom, int groupTo, int five) {
    const int nb = cols / QK, nsb = cols / QK_K;
    const int qb = five ? 320 : 256, bb = five ? 176 : 144, qsAt = five ? 48 : 16;
    const int64_t groups = (rows + GROUP - 1) / GROUP;
    uint8_t *metaBase = out + groups * nb * qb;
    for (int64_t g = groupFrom; g < groupTo; g++) {
        for (int sb = 0; sb < nsb; sb++) {
            uint8_t *meta = metaBase + (g * nsb + sb) * KMETA;
            memset(meta, 0, KMETA);
            for (int s = 0; s < 8; s++) memset(out + (g * nb + sb * 8 + s) * qb, 0, qb);
            for (int r = 0; r < GROUP; r++) {
                int64_t row = g * GROUP + r;
                if (row >= rows) continue;
                const uint8_t *blk = w + (row * nsb + sb) * bb;
                memcpy(meta + 2 * r, blk, 2);
                memcpy(meta + 32 + 2 * r, blk + 2, 2);
                for (int s = 0; s < 8; s++) {
                    get_scale_min_k4(s, blk + 4, meta + 64 + 16 * s + r, meta + 192 + 16 * s + r);
                    const uint8_t *qs = blk + qsAt + 32 * (s / 2);
                    const int shift = 4 * (s & 1);
                    uint8_t *q = out + (g * nb + sb * 8 + s) * qb;
                    for (int j = 0; j < 4; j++) { /* 4 elements at a time: bytes 4j..4j+3 and 16+4j.. of the sub-block */
                        uint32_t lo4 = load_u32(qs + 4 * j), hi4 = load_u32(qs + 16 + 4 * j);
                        store_u32(q + 64 * j + 4 * r, ((lo4 >> shift) & 0x0F0F0F0Fu) | (((hi4 >> shift) & 0x0F0F0F0Fu) << 4));
                    }
                    if (five) { /* element l of sub-block s has its fifth bit at bit s of qh[l] */
                        const uint8_t *qh = blk + 16;
                        for (int t = 0; t < 4; t++) {
                            uint8_t hb = 0;
                            for (int j = 0; j < 4; j++) {
                                hb |= (uint8_t) (((qh[4 * j + t] >> s) & 1u) << j);
                                hb |= (uint8_t) (((qh[16 + 4 * j + t] >> s) & 1u) << (4 + j));
                            }
                            q[256 + 4 * r + t] = hb;
                        }
                    }
                }
            }
        }
    }
}

/*
 * Q6_K: per group and 32-element block, the low nibbles in the Q4_0 layout (256 bytes: vector j's low nibbles are
 * elements 4j+t, its high nibbles 16+4j+t) and then two 64-byte vectors of high bit pairs, the first holding
 * elements 4j+t (j = 0..3) in bits 2j..2j+1 of byte 4r+t, the second elements 16+4j+t; per group and super-block,
 * after all quants, a Q6META record: d[16] f16, then the int8 scales sc[16][16] (16-element sub-block, row).
 */
static void pack_q6_k(const uint8_t *w, int rows, int cols, uint8_t *out, int groupFrom, int groupTo) {
    const int nb = cols / QK, nsb = cols / QK_K;
    const int64_t groups = (rows + GROUP - 1) / GROUP;
    uint8_t *metaBase = out + groups * nb * 384;
    for (int64_t g = groupFrom; g < groupTo; g++) {
        for (int sb = 0; sb < nsb; sb++) {
            uint8_t *meta = metaBase + (g * nsb + sb) * Q6META;
            memset(meta, 0, Q6META);
            for (int s = 0; s < 8; s++) memset(out + (g * nb + sb * 8 + s) * 384, 0, 384);
            for (int r = 0; r < GROUP; r++) {
                int64_t row = g * GROUP + r;
                if (row >= rows) continue;
                const uint8_t *blk = w + (row * nsb + sb) * 210;
                memcpy(meta + 2 * r, blk + 208, 2);
                for (int h = 0; h < 16; h++) meta[32 + 16 * h + r] = blk[192 + h];
                uint8_t v[QK_K];
                for (int n = 0; n < 2; n++) {
                    const uint8_t *ql = blk + 64 * n, *qh = blk + 128 + 32 * n;
                    for (int l = 0; l < 32; l++) {
                        v[128 * n + l] = (ql[l] & 0xF) | ((qh[l] & 3) << 4);
                        v[128 * n + l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
                        v[128 * n + l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                        v[128 * n + l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
                    }
                }
                for (int s = 0; s < 8; s++) {
                    uint8_t *q = out + (g * nb + sb * 8 + s) * 384;
                    uint32_t h0 = 0, h1 = 0;
                    for (int j = 0; j < 4; j++) { /* 4 elements at a time */
                        uint32_t v0 = load_u32(v + 32 * s + 4 * j), v1 = load_u32(v + 32 * s + 16 + 4 * j);
                        store_u32(q + 64 * j + 4 * r, (v0 & 0x0F0F0F0Fu) | ((v1 & 0x0F0F0F0Fu) << 4));
                        h0 |= ((v0 >> 4) & 0x03030303u) << (2 * j);
                        h1 |= ((v1 >> 4) & 0x03030303u) << (2 * j);
                    }
                    store_u32(q + 256 + 4 * r, h0);
                    store_u32(q + 320 + 4 * r, h1);
                }
            }
        }
    }
}

int tm_pack(int type, const uint8_t *w, int rows, int cols, uint8_t *out, int groupFrom, int groupTo) {
    int qb = quant_bytes(type);
    if (is_k(type)) {
        if (cols % QK_K != 0) return -1;
        if (type == TM_Q4_K || type == TM_Q5_K) pack_q4_k(w, rows, cols, out, groupFrom, groupTo, type == TM_Q5_K);
        else pack_q6_k(w, rows, cols, out, groupFrom, groupTo);
        return 0;
    }
    if (qb < 0 || cols % QK != 0) return -1;
    /* ggml blocks: Q4_0 d, nibbles; Q4_1 d, m, nibbles; Q5_0 d, u32 fifth bits, nibbles; Q5_1 d, m, u32, nibbles */
    const int nb = cols / QK;
    const int bb = type == TM_Q8_0 ? 34 : type == TM_Q4_1 ? 20 : type == TM_Q5_0 ? 22 : type == TM_Q5_1 ? 24 : 18;
    const int hoff = type == TM_Q5_1 ? 4 : 2, qoff = bb - (type == TM_Q8_0 ? 32 : 16);
    const int sb = (has_min(type) ? 4 : 2) * GROUP; /* scale bytes per group and block: d[16], then m[16] */
    const int64_t groups = (rows + GROUP - 1) / GROUP;
    uint8_t *scales = out + groups * nb * qb;
    const uint32_t flip = type == TM_Q8_0 ? 0x80808080u : 0;
    for (int64_t g = groupFrom; g < groupTo; g++) {
        for (int k = 0; k < nb; k++) {
            uint8_t *q = out + (g * nb + k) * qb;
            uint8_t *s = scales + (g * nb + k) * sb;
            for (int r = 0; r < GROUP; r++) {
                int64_t row = g * GROUP + r;
                if (row >= rows) {
                    for (int j = 0; j < qb / 64; j++) memset(q + 64 * j + 4 * r, 0, 4);
                    memset(s + 2 * r, 0, 2);
                    if (has_min(type)) memset(s + 32 + 2 * r, 0, 2);
                    continue;
                }
                const uint8_t *blk = w + (row * nb + k) * bb;
                memcpy(s + 2 * r, blk, 2);
                if (has_min(type)) memcpy(s + 32 + 2 * r, blk + 2, 2);
                for (int j = 0; j < (type == TM_Q8_0 ? 8 : 4); j++) {
                    uint32_t v;
                    memcpy(&v, blk + qoff + 4 * j, 4);
                    v ^= flip;
                    memcpy(q + 64 * j + 4 * r, &v, 4);
                }
                if (has_fifth(type)) { /* the high-bit plane: byte 4r+t, bit j = element 4j+t, bit 4+j = element 16+4j+t */
                    const uint32_t qh = load_u32(blk + hoff);
                    for (int t = 0; t < 4; t++) {
                        uint8_t hb = 0;
                        for (int j = 0; j < 4; j++) {
                            hb |= (uint8_t) (((qh >> (4 * j + t)) & 1u) << j);
                            hb |= (uint8_t) (((qh >> (16 + 4 * j + t)) & 1u) << (4 + j));
                        }
                        q[256 + 4 * r + t] = hb;
                    }
                }
            }
        }
    }
    return 0;
}

/*
 * Quantizes the 32-element blocks [blockFrom, blockTo) of every batch row [0, batch) of x (row stride ldx floats) to
 * int8, as ggml's quantize_row_q8_0_ref but with the scale kept in f32 and round-half-even: d = amax / 127, q = rint(x * (1/d)).
 * Block-major, so a tile of batch rows reads each block's activations at fixed offsets: for block k of batch
 * row b, qs[(k*batch + b)*32 + i], d[k*batch + b], c4[k*batch + b] = -8 * sum(q), c8[k*batch + b] = -128 * sum(q),
 * m[k*batch + b] = d * sum(q) (the block's sum for Q4_K's min term), h0/h1[k*batch + b] = -32 * the sum of the first /
 * last 16 quants (the bias of Q6_K's unsigned 6-bit values). Threads may quantize disjoint block ranges of one batch
 * at once: a range's outputs are one contiguous run of each array, so they share no cache line but at its ends.
 */
__attribute__((target("avx2,fma")))
static inline int32_t hsum_epi32(__m256i v) {
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    return _mm_cvtsi128_si32(s4);
}

__attribute__((target("avx2,fma")))
static void quantize_avx2(const float *x, int batch, int64_t ldx, int blockFrom, int blockTo, int8_t *qs, float *d,
                          int32_t *c4, int32_t *c8, float *m, int32_t *h0, int32_t *h1) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int b = 0; b < batch; b++) {
        for (int k = blockFrom; k < blockTo; k++) {
            const float *xb = x + b * ldx + k * QK;
            __m256 v[4];
            __m256 mx = _mm256_setzero_ps();
            for (int i = 0; i < 4; i++) {
                v[i] = _mm256_loadu_ps(xb + 8 * i);
                mx = _mm256_max_ps(mx, _mm256_and_ps(v[i], absmask));
            }
            __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
            m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
            const float amax = _mm_cvtss_f32(m4);
            const float dk = amax / 127.0f;
            const float id = dk != 0.0f ? 1.0f / dk : 0.0f;
            const __m256 idv = _mm256_set1_ps(id);
            __m256i q[4];
            for (int i = 0; i < 4; i++) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], idv)); /* MXCSR default: nearest-even */
            const int32_t s0 = hsum_epi32(_mm256_add_epi32(q[0], q[1])), s1 = hsum_epi32(_mm256_add_epi32(q[2], q[3]));
            const int32_t s = s0 + s1;
            __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
            __m256i p = _mm256_packs_epi16(p01, p23);
            p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            const int64_t o = (int64_t) k * batch + b;
            _mm256_storeu_si256((__m256i *) (qs + o * QK), p);
            d[o] = dk;
            c4[o] = -8 * s;
            c8[o] = -128 * s;
            m[o] = dk * (float) s;
            h0[o] = -32 * s0;
            h1[o] = -32 * s1;
        }
    }
}

int tm_quantize_q8(const float *x, int batch, int cols, int64_t ldx, int blockFrom, int blockTo, int8_t *qs, float *d,
                   int32_t *c4, int32_t *c8, float *m, int32_t *h0, int32_t *h1) {
    if (tm_isa() == ISA_NONE || cols % QK != 0 || blockFrom < 0 || blockTo > cols / QK || blockFrom > blockTo) return -1;
    quantize_avx2(x, batch, ldx, blockFrom, blockTo, qs, d, c4, c8, m, h0, h1);
    return 0;
}

/* ---------------------------------------------------------------- AVX-512 VNNI */

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512dq,fma,f16c,avx2")))

enum { K_Q8_0 = 0, K_Q4_0 = 1, K_Q4_K = 2, K_Q6_K = 3, K_Q5_0 = 4, K_Q5_K = 5, K_Q4_1 = 6, K_Q5_1 = 7 };

/* Q4_K and Q5_K share scales, mins and steps; Q5_0 and Q5_K share the plane of fifth bits. */
#define KMIN(kind) ((kind) == K_Q4_K || (kind) == K_Q5_K)
#define FIFTH(kind) ((kind) == K_Q5_0 || (kind) == K_Q5_1 || (kind) == K_Q5_K)
/* Q4_1 and Q5_1: unsigned quants, no bias, and a per-block min added as m * d_x * sum(q_x). */
#define BMIN(kind) ((kind) == K_Q4_1 || (kind) == K_Q5_1)

/* Quantized activations of a tile: arrays as tm_quantize_q8 writes them, advanced to the tile's first batch row. */
typedef struct {
    const int8_t *q;
    const float *d;
    const int32_t *c;   /* Q4_0 and Q5_0: c4, Q8_0: c8 */
    const float *m;     /* Q4_K */
    const int32_t *h0;  /* Q6_K */
    const int32_t *h1;
    int64_t xs;         /* batch rows per block: element (k, b) is at k * xs + b */
} acts;

static inline int32_t load_i32(const int8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

/*
 * One 16-row group times BT batch rows over all nb blocks; kind and BT are compile-time constants after
 * inlining. sw: the group's f16 scales (Q8_0, Q4_0) or its K-quant meta records; y: output row 0 of the group
 * for batch row 0. Per block and lane, with exact int32 block sums:
 *   Q8_0, Q4_0, Q5_0: acc = fma(isum, d_w * d_x, acc)
 *   Q4_1, Q5_1: acc = fma(isum, d_w * d_x, acc); acc = fma(m, d_x * sum(q_x), acc)
 *   Q4_K, Q5_K: acc = fma(isum, (d * sc) * d_x, acc); acc = fma(-(dmin * m), d_x * sum(q_x), acc)
 *   Q6_K:       acc = fma(sc_lo * isum_lo + sc_hi * isum_hi, d * d_x, acc)   (16-element halves, int32)
 */
VNNI static inline __attribute__((always_inline))
void tile_vnni(const int kind, const int BT, const uint8_t *qw, const uint8_t *sw, int nb, const acts *a,
               float *y, int64_t ldy, __mmask16 mask) {
    const int qb = kind == K_Q8_0 ? 512 : kind == K_Q6_K ? 384 : FIFTH(kind) ? 320 : 256;
    const int64_t xs = a->xs;
    const __m512i lo = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30), m10 = _mm512_set1_epi8(0x10);
    __m512 acc[MAX_BT];
#pragma GCC unroll 16
    for (int b = 0; b < BT; b++) acc[b] = _mm512_setzero_ps();
    for (int k = 0; k < nb; k++) {
        const uint8_t *q = qw + (int64_t) k * qb;
        __m512i w[8];
        if (kind == K_Q8_0) {
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) w[j] = _mm512_load_si512((const void *) (q + 64 * j));
        } else {
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                __m512i p = _mm512_load_si512((const void *) (q + 64 * j));
                w[j] = _mm512_and_si512(p, lo);
                w[j + 4] = _mm512_and_si512(_mm512_srli_epi16(p, 4), lo);
            }
        }
        if (FIFTH(kind)) { /* add the fifth bits: bit j (and 4+j) of the plane byte moves to bit 4 */
            const __m512i hp = _mm512_load_si512((const void *) (q + 256));
            w[0] = _mm512_ternarylogic_epi32(w[0], _mm512_slli_epi16(hp, 4), m10, 0xF8);
            w[1] = _mm512_ternarylogic_epi32(w[1], _mm512_slli_epi16(hp, 3), m10, 0xF8);
            w[2] = _mm512_ternarylogic_epi32(w[2], _mm512_slli_epi16(hp, 2), m10, 0xF8);
            w[3] = _mm512_ternarylogic_epi32(w[3], _mm512_slli_epi16(hp, 1), m10, 0xF8);
            w[4] = _mm512_ternarylogic_epi32(w[4], hp, m10, 0xF8);
            w[5] = _mm512_ternarylogic_epi32(w[5], _mm512_srli_epi16(hp, 1), m10, 0xF8);
            w[6] = _mm512_ternarylogic_epi32(w[6], _mm512_srli_epi16(hp, 2), m10, 0xF8);
            w[7] = _mm512_ternarylogic_epi32(w[7], _mm512_srli_epi16(hp, 3), m10, 0xF8);
        }
        if (kind == K_Q6_K) { /* add the high bit pairs: bits 2j..2j+1 of the plane byte move to bits 4..5 */
            const __m512i h0 = _mm512_load_si512((const void *) (q + 256)), h1 = _mm512_load_si512((const void *) (q + 320));
            w[0] = _mm512_ternarylogic_epi32(w[0], _mm512_slli_epi16(h0, 4), m30, 0xF8);
            w[1] = _mm512_ternarylogic_epi32(w[1], _mm512_slli_epi16(h0, 2), m30, 0xF8);
            w[2] = _mm512_ternarylogic_epi32(w[2], h0, m30, 0xF8);
            w[3] = _mm512_ternarylogic_epi32(w[3], _mm512_srli_epi16(h0, 2), m30, 0xF8);
            w[4] = _mm512_ternarylogic_epi32(w[4], _mm512_slli_epi16(h1, 4), m30, 0xF8);
            w[5] = _mm512_ternarylogic_epi32(w[5], _mm512_slli_epi16(h1, 2), m30, 0xF8);
            w[6] = _mm512_ternarylogic_epi32(w[6], h1, m30, 0xF8);
            w[7] = _mm512_ternarylogic_epi32(w[7], _mm512_srli_epi16(h1, 2), m30, 0xF8);
        }
        __m512 dw, dm = _mm512_setzero_ps();
        __m512i sc0 = _mm512_setzero_si512(), sc1 = _mm512_setzero_si512();
        if (KMIN(kind)) {
            const uint8_t *meta = sw + (int64_t) (k / 8) * KMETA;
            const int s = k % 8;
            dw = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_load_si256((const __m256i *) meta)),
                               _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_load_si128((const __m128i *) (meta + 64 + 16 * s)))));
            dm = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_load_si256((const __m256i *) (meta + 32))),
                               _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_load_si128((const __m128i *) (meta + 192 + 16 * s)))));
        } else if (kind == K_Q6_K) {
            const uint8_t *meta = sw + (int64_t) (k / 8) * Q6META;
            const int s = k % 8;
            dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) meta));
            sc0 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *) (meta + 32 + 32 * s)));
            sc1 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *) (meta + 48 + 32 * s)));
        } else if (BMIN(kind)) {
            dw = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *) (sw + (int64_t) k * GROUP * 4)));
            dm = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *) (sw + (int64_t) k * GROUP * 4 + 32)));
        } else {
            dw = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *) (sw + (int64_t) k * GROUP * 2)));
        }
#pragma GCC unroll 16
        for (int b = 0; b < BT; b++) {
            const int64_t o = k * xs + b;
            const int8_t *xb = a->q + o * QK;
            __m512i i0;
            if (kind == K_Q6_K || BT <= 2) { /* two chains: Q6_K's halves, or a short tile's latency */
                i0 = kind == K_Q6_K ? _mm512_set1_epi32(a->h0[o]) : KMIN(kind) || BMIN(kind) ? _mm512_setzero_si512()
                   : _mm512_set1_epi32(kind == K_Q5_0 ? 2 * a->c[o] : a->c[o]);
                __m512i i1 = kind == K_Q6_K ? _mm512_set1_epi32(a->h1[o]) : _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) {
                    i0 = _mm512_dpbusd_epi32(i0, w[j], _mm512_set1_epi32(load_i32(xb + 4 * j)));
                    i1 = _mm512_dpbusd_epi32(i1, w[j + 4], _mm512_set1_epi32(load_i32(xb + 16 + 4 * j)));
                }
                i0 = kind == K_Q6_K ? _mm512_add_epi32(_mm512_mullo_epi32(i0, sc0), _mm512_mullo_epi32(i1, sc1))
                                    : _mm512_add_epi32(i0, i1);
            } else {
                i0 = KMIN(kind) || BMIN(kind) ? _mm512_setzero_si512() : _mm512_set1_epi32(kind == K_Q5_0 ? 2 * a->c[o] : a->c[o]);
#pragma GCC unroll 8
                for (int j = 0; j < 8; j++) i0 = _mm512_dpbusd_epi32(i0, w[j], _mm512_set1_epi32(load_i32(xb + 4 * j)));
            }
            const __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(a->d[o]));
            acc[b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0), s, acc[b]);
            if (KMIN(kind)) acc[b] = _mm512_fnmadd_ps(dm, _mm512_set1_ps(a->m[o]), acc[b]);
            if (BMIN(kind)) acc[b] = _mm512_fmadd_ps(dm, _mm512_set1_ps(a->m[o]), acc[b]);
        }
    }
#pragma GCC unroll 16
    for (int b = 0; b < BT; b++) _mm512_mask_storeu_ps(y + (int64_t) b * ldy, mask, acc[b]);
}

typedef void (*tile_fn)(const uint8_t *, const uint8_t *, int, const acts *, float *, int64_t, __mmask16);

#define TILE_FN(isa, kind, BT) \
    isa##_ATTR static void tile_##isa##_##kind##_##BT(const uint8_t *qw, const uint8_t *sw, int nb, const acts *a, \
            float *y, int64_t ldy, __mmask16 mask) { \
        tile_##isa(kind, BT, qw, sw, nb, a, y, ldy, mask); }

#define TILE_SET(isa, kind) \
    TILE_FN(isa, kind, 1) TILE_FN(isa, kind, 2) TILE_FN(isa, kind, 3) TILE_FN(isa, kind, 4) TILE_FN(isa, kind, 5) \
    TILE_FN(isa, kind, 6) TILE_FN(isa, kind, 7) TILE_FN(isa, kind, 8) TILE_FN(isa, kind, 9) TILE_FN(isa, kind, 10) \
    TILE_FN(isa, kind, 11) TILE_FN(isa, kind, 12) TILE_FN(isa, kind, 13) TILE_FN(isa, kind, 14) TILE_FN(isa, kind, 15) \
    TILE_FN(isa, kind, 16) \
    static const tile_fn tiles_##isa##_##kind[MAX_BT + 1] = { 0, \
        tile_##isa##_##kind##_1, tile_##isa##_##kind##_2, tile_##isa##_##kind##_3, tile_##isa##_##kind##_4, \
        tile_##isa##_##kind##_5, tile_##isa##_##kind##_6, tile_##isa##_##kind##_7, tile_##isa##_##kind##_8, \
        tile_##isa##_##kind##_9, tile_##isa##_##kind##_10, tile_##isa##_##kind##_11, tile_##isa##_##kind##_12, \
        tile_##isa##_##kind##_13, tile_##isa##_##kind##_14, tile_##isa##_##kind##_15, tile_##isa##_##kind##_16 };

#define vnni_ATTR VNNI
TILE_SET(vnni, K_Q8_0)
TILE_SET(vnni, K_Q4_0)
TILE_SET(vnni, K_Q4_K)
TILE_SET(vnni, K_Q6_K)
TILE_SET(vnni, K_Q5_0)
TILE_SET(vnni, K_Q5_K)
TILE_SET(vnni, K_Q4_1)
TILE_SET(vnni, K_Q5_1)

/* ---------------------------------------------------------------- AVX2 */

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define avx2_ATTR AVX2

/*
 * The same tile on 8-lane vectors: both halves of the group (rows 0-7, 8-15) at once, so each broadcast of 4
 * activation bytes serves two weight vectors, and the batch rows in passes of AVX2_PASS whose integer sums stay
 * in registers. The int8 product is vpmaddubsw (unsigned weight bytes times signed activation bytes, pairs summed
 * to int16 with saturation) then vpmaddwd by 1 to int32. With |x| <= 127 a pair of 4-bit quants (0..15) sums to
 * at most 3810, so the int16 sums of all 8 vectors of a block stay below 32767 and exact, and one vpmaddwd
 * widens them; 5-bit quants (7874 a pair) allow 4 vectors per vpmaddwd, Q6_K's 6-bit ones (16002) 2 (AVX2_RUN).
 * Q8_0 (w + 128 would overflow the pairs) goes in as |w| times the activations with w's sign (vpsignb), which
 * needs no bias, one vpmaddwd per vector. The other types take the same biases as the VNNI path. Q6_K's vpmaddwd
 * multiplies by the half's int scale instead of 1, and a second one applies both halves' biases (sc0 * h0 + sc1 *
 * h1, with h / 32 as int16), which gives the same int32 as sc0 * (isum0 + h0) + sc1 * (isum1 + h1) without vpmulld
 * (a Q6_K tile 3-12% faster at batch 4-128, 30% at batch 2-3, on Zen 3). When a tile
 * has more than one pass, each block's weights are unpacked once (nibbles split, high bits merged, Q8_0's |w|)
 * into a buffer that every pass reads. Same exact block sums, same float steps, so the same bits.
 */
#define AVX2_PASS(kind) (FIFTH(kind) ? 2 : 4)
/* Keeps a running sum in its register, in program order: GCC otherwise reassociates the chains of adds into trees
   whose partial sums spill to the stack. */
#define KEEP(v) __asm__("" : "+x"(v))
#define AVX2_RUN(kind) ((kind) == K_Q8_0 ? 1 : (kind) == K_Q6_K ? 2 : FIFTH(kind) ? 4 : 8)

/* Weight vector j (elements 4j..4j+3 of each row) of half h of the block at q, as unsigned quants (Q8_0: signed). */
AVX2 static inline __attribute__((always_inline)) __m256i unpack_avx2(const int kind, const uint8_t *q, const int h, const int j) {
    if (kind == K_Q8_0) return _mm256_xor_si256(_mm256_load_si256((const __m256i *) (q + 64 * j + 32 * h)), _mm256_set1_epi8((char) 0x80));
    const __m256i lo = _mm256_set1_epi8(0x0f);
    const __m256i p = _mm256_load_si256((const __m256i *) (q + 64 * (j & 3) + 32 * h));
    __m256i wv = j < 4 ? _mm256_and_si256(p, lo) : _mm256_and_si256(_mm256_srli_epi16(p, 4), lo);
    if (FIFTH(kind)) { /* bit j (and 4+j) of the plane byte moves to bit 4 */
        __m256i hp = _mm256_load_si256((const __m256i *) (q + 256 + 32 * h));
        hp = j == 0 ? _mm256_slli_epi16(hp, 4) : j == 1 ? _mm256_slli_epi16(hp, 3)
           : j == 2 ? _mm256_slli_epi16(hp, 2) : j == 3 ? _mm256_slli_epi16(hp, 1)
           : j == 4 ? hp : j == 5 ? _mm256_srli_epi16(hp, 1)
           : j == 6 ? _mm256_srli_epi16(hp, 2) : _mm256_srli_epi16(hp, 3);
        wv = _mm256_or_si256(wv, _mm256_and_si256(hp, _mm256_set1_epi8(0x10)));
    }
    if (kind == K_Q6_K) { /* bits 2j..2j+1 of the plane byte move to bits 4..5 */
        __m256i hp = _mm256_load_si256((const __m256i *) (q + (j < 4 ? 256 : 320) + 32 * h));
        const int jj = j & 3;
        hp = jj == 0 ? _mm256_slli_epi16(hp, 4) : jj == 1 ? _mm256_slli_epi16(hp, 2)
           : jj == 2 ? hp : _mm256_srli_epi16(hp, 2);
        wv = _mm256_or_si256(wv, _mm256_and_si256(hp, _mm256_set1_epi8(0x30)));
    }
    return wv;
}

/*
 * The block's scales of half h: dw (d_w per row), dm (the min's factor). Q6_K's int scales of the two 16-element
 * halves as int16 pairs, for vpmaddwd: sc0/sc1 (sc, sc) per row, so one vpmaddwd both widens a run of int16 sums and
 * applies its half's scale; scp (sc0, sc1) per row, for the two biases at once.
 */
typedef struct { __m256 dw[2], dm[2]; __m256i sc0[2], sc1[2], scp[2]; } scales_avx2;

/*
 * Block k of batch rows b0..b0+n-1 (n <= AVX2_PASS) into acc. wq/wa: the block's unpacked weights and (Q8_0) their
 * absolute values when buffered, else NULL and the weights are unpacked here from q.
 */
AVX2 static inline __attribute__((always_inline))
void pass_avx2(const int kind, const int n, const uint8_t *q, const __m256i (*wq)[8], const __m256i (*wa)[8],
               const acts *a, int k, int b0, const scales_avx2 *sc, __m256 (*acc)[2]) {
    const int R = AVX2_RUN(kind);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i is[4][2], t[4][2]; /* int32 sums (Q6_K: already times the scales), int16 runs */
    const int8_t *xb = a->q + (k * a->xs + b0) * QK;
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
#pragma GCC unroll 4
        for (int i = 0; i < n; i++) {
            const __m256i xv = _mm256_set1_epi32(load_i32(xb + i * QK + 4 * j));
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                const __m256i w = wq ? wq[h][j] : unpack_avx2(kind, q, h, j);
                if (kind == K_Q8_0) {
                    const __m256i wabs = wa ? wa[h][j] : _mm256_abs_epi8(w);
                    const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(wabs, _mm256_sign_epi8(xv, w)), ones);
                    is[i][h] = j == 0 ? s : _mm256_add_epi32(is[i][h], s);
                    if (wq) KEEP(is[i][h]);
                } else {
                    const __m256i p = _mm256_maddubs_epi16(w, xv);
                    t[i][h] = j % R == 0 ? p : _mm256_add_epi16(t[i][h], p);
                    if (wq) KEEP(t[i][h]);
                    if (j % R == R - 1) {
                        const __m256i s = _mm256_madd_epi16(t[i][h], kind != K_Q6_K ? ones : j < 4 ? sc->sc0[h] : sc->sc1[h]);
                        is[i][h] = j == R - 1 ? s : _mm256_add_epi32(is[i][h], s);
                    }
                }
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < n; i++) {
        const int64_t o = k * a->xs + b0 + i;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256i iv = is[i][h];
            if (kind == K_Q4_0) iv = _mm256_add_epi32(iv, _mm256_set1_epi32(a->c[o]));
            if (kind == K_Q5_0) iv = _mm256_add_epi32(iv, _mm256_set1_epi32(2 * a->c[o]));
            if (kind == K_Q6_K) { /* + sc0 * h0 + sc1 * h1: h0, h1 are -32 times sums of 16 quants, h / 32 fits int16 */
                const uint32_t hh = (uint16_t) (a->h0[o] >> 5) | (uint32_t) (a->h1[o] >> 5) << 16;
                iv = _mm256_add_epi32(iv, _mm256_slli_epi32(_mm256_madd_epi16(sc->scp[h], _mm256_set1_epi32((int) hh)), 5));
            }
            const __m256 s = _mm256_mul_ps(sc->dw[h], _mm256_set1_ps(a->d[o]));
            __m256 r = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iv), s, acc[b0 + i][h]);
            if (KMIN(kind)) r = _mm256_fnmadd_ps(sc->dm[h], _mm256_set1_ps(a->m[o]), r);
            if (BMIN(kind)) r = _mm256_fmadd_ps(sc->dm[h], _mm256_set1_ps(a->m[o]), r);
            acc[b0 + i][h] = r;
        }
    }
}

AVX2 static inline __attribute__((always_inline))
void tile_avx2(const int kind, const int BT, const uint8_t *qw, const uint8_t *sw, int nb, const acts *a,
               float *y, int64_t ldy, __mmask16 mask) {
    const int qb = kind == K_Q8_0 ? 512 : kind == K_Q6_K ? 384 : FIFTH(kind) ? 320 : 256;
    const int P = AVX2_PASS(kind);
    __m256 acc[MAX_BT][2];
    __m256i wq[2][8], wa[2][8];
    for (int b = 0; b < BT; b++) acc[b][0] = acc[b][1] = _mm256_setzero_ps();
    for (int k = 0; k < nb; k++) {
        const uint8_t *q = qw + (int64_t) k * qb;
        /* A tile of a few batch rows is bound by streaming the weights from memory: on a Zen 3 core the hardware
           prefetchers alone left a 2-thread decode at 75-80% of the read bandwidth, and fetching 2 KB ahead (every
           line of a later block) gained 10-20% there (distances 1-3 KB alike). A prefetch past the group's end
           reads the next group's lines, which the thread reads next. */
        if (BT <= 4) {
            for (int o = 0; o < qb; o += 64) _mm_prefetch((const char *) q + 2048 + o, _MM_HINT_T0);
        }
        scales_avx2 sc;
        for (int h = 0; h < 2; h++) {
            sc.dm[h] = _mm256_setzero_ps();
            sc.sc0[h] = sc.sc1[h] = sc.scp[h] = _mm256_setzero_si256();
            if (KMIN(kind)) {
                const uint8_t *meta = sw + (int64_t) (k / 8) * KMETA;
                const int s = k % 8;
                sc.dw[h] = _mm256_mul_ps(_mm256_cvtph_ps(_mm_load_si128((const __m128i *) (meta + 16 * h))),
                                         _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *) (meta + 64 + 16 * s + 8 * h)))));
                sc.dm[h] = _mm256_mul_ps(_mm256_cvtph_ps(_mm_load_si128((const __m128i *) (meta + 32 + 16 * h))),
                                         _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *) (meta + 192 + 16 * s + 8 * h)))));
            } else if (kind == K_Q6_K) {
                const uint8_t *meta = sw + (int64_t) (k / 8) * Q6META;
                const int s = k % 8;
                sc.dw[h] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (meta + 16 * h)));
                const __m256i s0 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *) (meta + 32 + 32 * s + 8 * h)));
                const __m256i s1 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *) (meta + 48 + 32 * s + 8 * h)));
                sc.sc0[h] = _mm256_blend_epi16(s0, _mm256_slli_epi32(s0, 16), 0xAA);
                sc.sc1[h] = _mm256_blend_epi16(s1, _mm256_slli_epi32(s1, 16), 0xAA);
                sc.scp[h] = _mm256_blend_epi16(s0, _mm256_slli_epi32(s1, 16), 0xAA);
            } else if (BMIN(kind)) {
                sc.dw[h] = _mm256_cvtph_ps(_mm_load_si128((const __m128i *) (sw + (int64_t) k * GROUP * 4 + 16 * h)));
                sc.dm[h] = _mm256_cvtph_ps(_mm_load_si128((const __m128i *) (sw + (int64_t) k * GROUP * 4 + 32 + 16 * h)));
            } else {
                sc.dw[h] = _mm256_cvtph_ps(_mm_load_si128((const __m128i *) (sw + (int64_t) k * GROUP * 2 + 16 * h)));
            }
        }
        if (BT > P) {
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
#pragma GCC unroll 8
                for (int j = 0; j < 8; j++) {
                    wq[h][j] = unpack_avx2(kind, q, h, j);
                    if (kind == K_Q8_0) wa[h][j] = _mm256_abs_epi8(wq[h][j]);
                }
            }
        }
        const __m256i (*bw)[8] = BT > P ? (const __m256i (*)[8]) wq : 0;
        const __m256i (*ba)[8] = BT > P && kind == K_Q8_0 ? (const __m256i (*)[8]) wa : 0;
        int b0 = 0;
        for (; b0 + P <= BT; b0 += P) pass_avx2(kind, P, q, bw, ba, a, k, b0, &sc, acc);
        if (BT % P) pass_avx2(kind, BT % P, q, bw, ba, a, k, b0, &sc, acc);
    }
    for (int b = 0; b < BT; b++) {
        float tmp[16];
        _mm256_storeu_ps(tmp, acc[b][0]);
        _mm256_storeu_ps(tmp + 8, acc[b][1]);
        for (int r = 0; r < 16; r++) {
            if (mask >> r & 1) y[(int64_t) b * ldy + r] = tmp[r];
        }
    }
}

TILE_SET(avx2, K_Q8_0)
TILE_SET(avx2, K_Q4_0)
TILE_SET(avx2, K_Q4_K)
TILE_SET(avx2, K_Q6_K)
TILE_SET(avx2, K_Q5_0)
TILE_SET(avx2, K_Q5_K)
TILE_SET(avx2, K_Q4_1)
TILE_SET(avx2, K_Q5_1)

/* ---------------------------------------------------------------- driver */

/*
 * y[b*ldy + r] = dot(W[r], X[b]) for b in [0, batch), r in [rowFrom, rowTo). W is packed (tm_pack), X quantized
 * by tm_quantize_q8 (cols elements per row; pass its arrays; xc is c4 for Q4_0 and Q5_0 and c8 for Q8_0, the others are
 * read by the K-quants).
 * Groups of 16 rows are the unit of work: splitting rows between threads at multiples of 16 avoids computing
 * a shared group twice. Batches over 16 rows run as near-equal tiles of at most 16, each re-reading the group's
 * weights from cache. Which tile a batch row lands in never changes its bits.
 */
int tm_gemm(int type, const uint8_t *packed, int rows, int cols, const int8_t *xq, const float *xd,
            const int32_t *xc, const float *xm, const int32_t *xh0, const int32_t *xh1, int batch,
            float *y, int64_t ldy, int rowFrom, int rowTo) {
    const int kind = type == TM_Q8_0 ? K_Q8_0 : type == TM_Q4_0 ? K_Q4_0 : type == TM_Q4_K ? K_Q4_K : type == TM_Q6_K ? K_Q6_K
                   : type == TM_Q5_0 ? K_Q5_0 : type == TM_Q5_K ? K_Q5_K : type == TM_Q4_1 ? K_Q4_1 : type == TM_Q5_1 ? K_Q5_1 : -1;
    if (kind < 0 || cols % (is_k(type) ? QK_K : QK) != 0 || rowFrom < 0 || rowTo > rows || rowFrom > rowTo || batch < 1) return -1;
    const int level = tm_isa();
    if (level == ISA_NONE) return -2;
    static const tile_fn *const vnni[8] = {tiles_vnni_K_Q8_0, tiles_vnni_K_Q4_0, tiles_vnni_K_Q4_K, tiles_vnni_K_Q6_K,
                                           tiles_vnni_K_Q5_0, tiles_vnni_K_Q5_K, tiles_vnni_K_Q4_1, tiles_vnni_K_Q5_1};
    static const tile_fn *const avx2[8] = {tiles_avx2_K_Q8_0, tiles_avx2_K_Q4_0, tiles_avx2_K_Q4_K, tiles_avx2_K_Q6_K,
                                           tiles_avx2_K_Q5_0, tiles_avx2_K_Q5_K, tiles_avx2_K_Q4_1, tiles_avx2_K_Q5_1};
    const tile_fn *tiles = level == ISA_AVX512VNNI ? vnni[kind] : avx2[kind];
    const int nb = cols / QK, qb = quant_bytes(type);
    const int64_t groups = (rows + GROUP - 1) / GROUP;
    const uint8_t *scales = packed + groups * nb * qb;
    const int64_t scaleBytes = KMIN(kind) ? (int64_t) (cols / QK_K) * KMETA
                             : kind == K_Q6_K ? (int64_t) (cols / QK_K) * Q6META : (int64_t) nb * GROUP * (BMIN(kind) ? 4 : 2);
    /* Batch rows in chunks whose activations stay in L2 (512 KB of a Zen 4 core's 1 MB) while every group of the range passes over them;
       a long prompt then re-reads the weights once per chunk instead of the activations once per group. */
    int chunk = (512 * 1024 / cols) / MAX_BT * MAX_BT;
    if (chunk < 2 * MAX_BT) chunk = 2 * MAX_BT;
    for (int c0 = 0; c0 < batch; c0 += chunk) {
        const int cb = batch - c0 < chunk ? batch - c0 : chunk;
        const int nt = (cb + MAX_BT - 1) / MAX_BT;
        for (int g = rowFrom / GROUP; g * GROUP < rowTo; g++) {
            const int r0 = g * GROUP;
            const int lo = rowFrom > r0 ? rowFrom - r0 : 0, hi = rowTo < r0 + GROUP ? rowTo - r0 : GROUP;
            const __mmask16 mask = (__mmask16) (((1u << hi) - 1) & ~((1u << lo) - 1));
            const uint8_t *qw = packed + (int64_t) g * nb * qb;
            const uint8_t *sw = scales + g * scaleBytes;
            for (int t = 0, b0 = c0; t < nt; t++) {
                const int bt = (c0 + cb - b0) / (nt - t);
                const acts a = {xq + (int64_t) b0 * QK, xd + b0, xc + b0, xm + b0, xh0 + b0, xh1 + b0, batch};
                tiles[bt](qw, sw, nb, &a, y + (int64_t) b0 * ldy + r0, ldy, mask);
                b0 += bt;
            }
        }
    }
    return 0;
}
