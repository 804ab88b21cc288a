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
 * vpdpbusd multiplies unsigned by signed bytes: weights are the unsigned side (Q4_0 nibbles 0..15 as they are,
 * Q8_0 stored as w + 128) and the bias this adds (8 or 128 times the block's activation sum) is removed by
 * starting each block's accumulator at -8*sum or -128*sum, which tm_quantize_q8 precomputes.
 *
 * Two ISA paths chosen at run time (never -march=native): AVX-512 VNNI, and AVX2+FMA+F16C.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define TM_Q4_0 2
#define TM_Q8_0 8
#define TM_Q4_K 12
#define QK_K 256
#define KMETA 320 /* per group and Q4_K super-block: 16 f16 d, 16 f16 dmin, 8x16 u8 scales, 8x16 u8 mins */
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

static int quant_bytes(int type) { return type == TM_Q8_0 ? 512 : type == TM_Q4_0 || type == TM_Q4_K ? 256 : -1; }

/** Bytes of the packed form of a [rows][cols] matrix of the type, or -1 if unsupported. */
int64_t tm_packed_bytes(int type, int rows, int cols) {
    int qb = quant_bytes(type);
    if (qb < 0 || cols % (type == TM_Q4_K ? QK_K : QK) != 0 || rows <= 0) return -1;
    int64_t groups = (rows + GROUP - 1) / GROUP, nb = cols / QK;
    if (type == TM_Q4_K) return groups * nb * qb + groups * (cols / QK_K) * KMETA;
    return groups * nb * (qb + 2 * GROUP);
}

/*
 * Packs groups [groupFrom, groupTo) of the ggml matrix w (rows of cols elements) into out (tm_packed_bytes long).
 * Layout: quants of group g, block k at (g*nb + k)*qb, byte 64*j + 4*r + t = element 4j+t of row 16g+r
 * (Q8_0: 8 vectors, stored as w ^ 0x80 = w + 128; Q4_0: 4 vectors of the ggml bytes, whose low nibbles are
 * elements 4j+t and high nibbles 16+4j+t); then all scales: f16 of row 16g+r, block k at
 * scaleBase + ((g*nb + k)*16 + r)*2. Rows past the matrix are zero.
 */
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
 * Q4_K: each 32-element sub-block's nibbles are repacked exactly like a Q4_0 block (so the quants region has the
 * Q4_0 layout, nb = cols/32 blocks), and per group and super-block a KMETA-byte record follows all quants:
 * d[16] f16, dmin[16] f16, then the 6-bit scales and mins unpacked to bytes, sc[8][16] and m[8][16].
 */
static void pack_q4_k(const uint8_t *w, int rows, int cols, uint8_t *out, int groupFrom, int groupTo) {
    const int nb = cols / QK, nsb = cols / QK_K;
    const int64_t groups = (rows + GROUP - 1) / GROUP;
    uint8_t *metaBase = out + groups * nb * 256;
    for (int64_t g = groupFrom; g < groupTo; g++) {
        for (int sb = 0; sb < nsb; sb++) {
            uint8_t *meta = metaBase + (g * nsb + sb) * KMETA;
            memset(meta, 0, KMETA);
            for (int s = 0; s < 8; s++) memset(out + (g * nb + sb * 8 + s) * 256, 0, 256);
            for (int r = 0; r < GROUP; r++) {
                int64_t row = g * GROUP + r;
                if (row >= rows) continue;
                const uint8_t *blk = w + (row * nsb + sb) * 144;
                memcpy(meta + 2 * r, blk, 2);
                memcpy(meta + 32 + 2 * r, blk + 2, 2);
                for (int s = 0; s < 8; s++) {
                    get_scale_min_k4(s, blk + 4, meta + 64 + 16 * s + r, meta + 192 + 16 * s + r);
                    const uint8_t *qs = blk + 16 + 32 * (s / 2);
                    const int shift = 4 * (s & 1);
                    uint8_t *q = out + (g * nb + sb * 8 + s) * 256;
                    for (int j = 0; j < 4; j++) {
                        for (int t = 0; t < 4; t++) {
                            int i = 4 * j + t;
                            q[64 * j + 4 * r + t] = ((qs[i] >> shift) & 0xF) | (((qs[16 + i] >> shift) & 0xF) << 4);
                        }
                    }
                }
            }
        }
    }
}

int tm_pack(int type, const uint8_t *w, int rows, int cols, uint8_t *out, int groupFrom, int groupTo) {
    int qb = quant_bytes(type);
    if (type == TM_Q4_K) {
        if (cols % QK_K != 0) return -1;
        pack_q4_k(w, rows, cols, out, groupFrom, groupTo);
        return 0;
    }
    if (qb < 0 || cols % QK != 0) return -1;
    const int nb = cols / QK, bb = type == TM_Q8_0 ? 34 : 18;
    const int64_t groups = (rows + GROUP - 1) / GROUP;
    uint8_t *scales = out + groups * nb * qb;
    const uint8_t flip = type == TM_Q8_0 ? 0x80 : 0;
    for (int64_t g = groupFrom; g < groupTo; g++) {
        for (int k = 0; k < nb; k++) {
            uint8_t *q = out + (g * nb + k) * qb;
            uint8_t *s = scales + (g * nb + k) * GROUP * 2;
            for (int r = 0; r < GROUP; r++) {
                int64_t row = g * GROUP + r;
                if (row >= rows) {
                    for (int j = 0; j < qb / 64; j++) memset(q + 64 * j + 4 * r, 0, 4);
                    memset(s + 2 * r, 0, 2);
                    continue;
                }
                const uint8_t *blk = w + (row * nb + k) * bb;
                memcpy(s + 2 * r, blk, 2);
                for (int j = 0; j < qb / 64; j++) {
                    for (int t = 0; t < 4; t++) q[64 * j + 4 * r + t] = blk[2 + 4 * j + t] ^ flip;
                }
            }
        }
    }
    return 0;
}

/*
 * Quantizes rows [0, batch) of x (row stride ldx floats) to int8 blocks of 32, as ggml's quantize_row_q8_0_ref
 * but with the scale kept in f32 and round-half-even: d = amax / 127, q = rint(x * (1/d)).
 * Block-major, so a tile of batch rows reads each block's activations at fixed offsets: for block k of batch
 * row b, qs[(k*batch + b)*32 + i], d[k*batch + b], c4[k*batch + b] = -8 * sum(q), c8[k*batch + b] = -128 * sum(q),
 * m[k*batch + b] = d * sum(q) (the block's sum for Q4_K's min term).
 */
__attribute__((target("avx2,fma")))
static void quantize_avx2(const float *x, int batch, int cols, int64_t ldx, int8_t *qs, float *d, int32_t *c4, int32_t *c8, float *m) {
    const int nb = cols / QK;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int b = 0; b < batch; b++) {
        for (int k = 0; k < nb; k++) {
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
            __m256i sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
            const int32_t s = _mm_cvtsi128_si32(s4);
            __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
            __m256i p = _mm256_packs_epi16(p01, p23);
            p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            const int64_t o = (int64_t) k * batch + b;
            _mm256_storeu_si256((__m256i *) (qs + o * QK), p);
            d[o] = dk;
            c4[o] = -8 * s;
            c8[o] = -128 * s;
            m[o] = dk * (float) s;
        }
    }
}

int tm_quantize_q8(const float *x, int batch, int cols, int64_t ldx, int8_t *qs, float *d, int32_t *c4, int32_t *c8, float *m) {
    if (tm_isa() == ISA_NONE || cols % QK != 0) return -1;
    quantize_avx2(x, batch, cols, ldx, qs, d, c4, c8, m);
    return 0;
}

/* ---------------------------------------------------------------- AVX-512 VNNI */

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512dq,fma,f16c,avx2")))

enum { K_Q8_0 = 0, K_Q4_0 = 1, K_Q4_K = 2 };

static inline int32_t load_i32(const int8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

/*
 * One 16-row group times BT batch rows over all nb blocks; kind and BT are compile-time constants after
 * inlining. sw: the group's f16 scales (Q8_0, Q4_0) or its Q4_K meta records. xq/xd/xc/xm point at the first
 * batch row of the tile (block stride xs); y at output row 0 of the group for batch row 0.
 * Per block and lane: acc = fma(isum, dw * dx, acc), and for Q4_K then acc = fma(-(dmin * m), dx * sum(q), acc).
 */
VNNI static inline __attribute__((always_inline))
void tile_vnni(const int kind, const int BT, const uint8_t *qw, const uint8_t *sw, int nb, const int8_t *xq,
               const float *xd, const int32_t *xc, const float *xm, int64_t xs, float *y, int64_t ldy, __mmask16 mask) {
    const int qb = kind == K_Q8_0 ? 512 : 256;
    const __m512i lo = _mm512_set1_epi8(0x0f);
    __m512 acc[MAX_BT];
#pragma GCC unroll 16
    for (int b = 0; b < BT; b++) acc[b] = _mm512_setzero_ps();
    for (int k = 0; k < nb; k++) {
        const uint8_t *q = qw + (int64_t) k * qb;
        __m512i w[8];
        if (kind != K_Q8_0) {
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                __m512i p = _mm512_load_si512((const void *) (q + 64 * j));
                w[j] = _mm512_and_si512(p, lo);
                w[j + 4] = _mm512_and_si512(_mm512_srli_epi16(p, 4), lo);
            }
        } else {
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) w[j] = _mm512_load_si512((const void *) (q + 64 * j));
        }
        __m512 dw, dm = _mm512_setzero_ps();
        if (kind == K_Q4_K) {
            const uint8_t *meta = sw + (int64_t) (k / 8) * KMETA;
            const int s = k % 8;
            dw = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_load_si256((const __m256i *) meta)),
                               _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_load_si128((const __m128i *) (meta + 64 + 16 * s)))));
            dm = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_load_si256((const __m256i *) (meta + 32))),
                               _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_load_si128((const __m128i *) (meta + 192 + 16 * s)))));
        } else {
            dw = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *) (sw + (int64_t) k * GROUP * 2)));
        }
#pragma GCC unroll 16
        for (int b = 0; b < BT; b++) {
            const int8_t *xb = xq + (k * xs + b) * QK;
            __m512i i0 = kind == K_Q4_K ? _mm512_setzero_si512() : _mm512_set1_epi32(xc[k * xs + b]);
            if (BT <= 2) { /* short tiles: two dependency chains */
                __m512i i1 = _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) {
                    i0 = _mm512_dpbusd_epi32(i0, w[j], _mm512_set1_epi32(load_i32(xb + 4 * j)));
                    i1 = _mm512_dpbusd_epi32(i1, w[j + 4], _mm512_set1_epi32(load_i32(xb + 16 + 4 * j)));
                }
                i0 = _mm512_add_epi32(i0, i1);
            } else {
#pragma GCC unroll 8
                for (int j = 0; j < 8; j++) i0 = _mm512_dpbusd_epi32(i0, w[j], _mm512_set1_epi32(load_i32(xb + 4 * j)));
            }
            const __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(xd[k * xs + b]));
            acc[b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i0), s, acc[b]);
            if (kind == K_Q4_K) acc[b] = _mm512_fnmadd_ps(dm, _mm512_set1_ps(xm[k * xs + b]), acc[b]);
        }
    }
#pragma GCC unroll 16
    for (int b = 0; b < BT; b++) _mm512_mask_storeu_ps(y + (int64_t) b * ldy, mask, acc[b]);
}

typedef void (*tile_fn)(const uint8_t *, const uint8_t *, int, const int8_t *, const float *, const int32_t *,
                        const float *, int64_t, float *, int64_t, __mmask16);

#define TILE_FN(isa, kind, BT) \
    isa##_ATTR static void tile_##isa##_##kind##_##BT(const uint8_t *qw, const uint8_t *sw, int nb, const int8_t *xq, \
            const float *xd, const int32_t *xc, const float *xm, int64_t xs, float *y, int64_t ldy, __mmask16 mask) { \
        tile_##isa(kind, BT, qw, sw, nb, xq, xd, xc, xm, xs, y, ldy, mask); }

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

/* ---------------------------------------------------------------- AVX2 */

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define avx2_ATTR AVX2

/*
 * The same tile on 8-lane vectors, one half of the group (8 rows) at a time. Q8_0 uses vpmaddubsw on |w| and
 * sign-transferred activations (w + 128 would overflow its int16 pair sums), so it needs no bias; Q4_0 nibbles
 * go in as they are with the -8*sum bias. Both give the same exact block sums as the VNNI path.
 */
AVX2 static inline __attribute__((always_inline))
void tile_avx2(const int kind, const int BT, const uint8_t *qw, const uint8_t *sw, int nb, const int8_t *xq,
               const float *xd, const int32_t *xc, const float *xm, int64_t xs, float *y, int64_t ldy, __mmask16 mask) {
    const int qb = kind == K_Q8_0 ? 512 : 256;
    const __m256i lo = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8((char) 0x80);
    for (int h = 0; h < 2; h++) {
        __m256 acc[MAX_BT];
        for (int b = 0; b < BT; b++) acc[b] = _mm256_setzero_ps();
        for (int k = 0; k < nb; k++) {
            const uint8_t *q = qw + (int64_t) k * qb + 32 * h;
            __m256 dw, dm = _mm256_setzero_ps();
            if (kind == K_Q4_K) {
                const uint8_t *meta = sw + (int64_t) (k / 8) * KMETA;
                const int s = k % 8;
                dw = _mm256_mul_ps(_mm256_cvtph_ps(_mm_load_si128((const __m128i *) (meta + 16 * h))),
                                   _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *) (meta + 64 + 16 * s + 8 * h)))));
                dm = _mm256_mul_ps(_mm256_cvtph_ps(_mm_load_si128((const __m128i *) (meta + 32 + 16 * h))),
                                   _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *) (meta + 192 + 16 * s + 8 * h)))));
            } else {
                dw = _mm256_cvtph_ps(_mm_load_si128((const __m128i *) (sw + (int64_t) k * GROUP * 2 + 16 * h)));
            }
            for (int b = 0; b < BT; b++) {
                const int8_t *xb = xq + (k * xs + b) * QK;
                __m256i i0 = kind == K_Q4_0 ? _mm256_set1_epi32(xc[k * xs + b]) : _mm256_setzero_si256();
                for (int j = 0; j < 8; j++) {
                    const __m256i xv = _mm256_set1_epi32(load_i32(xb + 4 * j));
                    __m256i t;
                    if (kind != K_Q8_0) {
                        __m256i p = _mm256_load_si256((const __m256i *) (q + 64 * (j & 3)));
                        __m256i wv = j < 4 ? _mm256_and_si256(p, lo) : _mm256_and_si256(_mm256_srli_epi16(p, 4), lo);
                        t = _mm256_maddubs_epi16(wv, xv);
                    } else {
                        __m256i wv = _mm256_xor_si256(_mm256_load_si256((const __m256i *) (q + 64 * j)), flip);
                        t = _mm256_maddubs_epi16(_mm256_abs_epi8(wv), _mm256_sign_epi8(xv, wv));
                    }
                    i0 = _mm256_add_epi32(i0, _mm256_madd_epi16(t, ones));
                }
                const __m256 s = _mm256_mul_ps(dw, _mm256_set1_ps(xd[k * xs + b]));
                acc[b] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i0), s, acc[b]);
                if (kind == K_Q4_K) acc[b] = _mm256_fnmadd_ps(dm, _mm256_set1_ps(xm[k * xs + b]), acc[b]);
            }
        }
        for (int b = 0; b < BT; b++) {
            float tmp[8];
            _mm256_storeu_ps(tmp, acc[b]);
            for (int r = 0; r < 8; r++) {
                if (mask >> (8 * h + r) & 1) y[(int64_t) b * ldy + 8 * h + r] = tmp[r];
            }
        }
    }
}

TILE_SET(avx2, K_Q8_0)
TILE_SET(avx2, K_Q4_0)
TILE_SET(avx2, K_Q4_K)

/* ---------------------------------------------------------------- driver */

/*
 * y[b*ldy + r] = dot(W[r], X[b]) for b in [0, batch), r in [rowFrom, rowTo). W is packed (tm_pack), X quantized
 * (tm_quantize_q8, cols elements per row); xc is its c4 array for Q4_0 and its c8 array for Q8_0, xm its m array
 * (read for Q4_K only).
 * Groups of 16 rows are the unit of work: splitting rows between threads at multiples of 16 avoids computing
 * a shared group twice. Batches over 16 rows run as near-equal tiles of at most 16, each re-reading the group's
 * weights from cache.
 */
int tm_gemm(int type, const uint8_t *packed, int rows, int cols, const int8_t *xq, const float *xd,
            const int32_t *xc, const float *xm, int batch, float *y, int64_t ldy, int rowFrom, int rowTo) {
    const int kind = type == TM_Q8_0 ? K_Q8_0 : type == TM_Q4_0 ? K_Q4_0 : type == TM_Q4_K ? K_Q4_K : -1;
    if (kind < 0 || cols % (kind == K_Q4_K ? QK_K : QK) != 0 || rowFrom < 0 || rowTo > rows || rowFrom > rowTo || batch < 1) return -1;
    const int level = tm_isa();
    if (level == ISA_NONE) return -2;
    static const tile_fn *const vnni[3] = {tiles_vnni_K_Q8_0, tiles_vnni_K_Q4_0, tiles_vnni_K_Q4_K};
    static const tile_fn *const avx2[3] = {tiles_avx2_K_Q8_0, tiles_avx2_K_Q4_0, tiles_avx2_K_Q4_K};
    const tile_fn *tiles = level == ISA_AVX512VNNI ? vnni[kind] : avx2[kind];
    const int nb = cols / QK, qb = quant_bytes(type);
    const int64_t groups = (rows + GROUP - 1) / GROUP;
    const uint8_t *scales = packed + groups * nb * qb;
    const int64_t scaleBytes = kind == K_Q4_K ? (int64_t) (cols / QK_K) * KMETA : (int64_t) nb * GROUP * 2;
    const int nt = (batch + MAX_BT - 1) / MAX_BT;
    for (int g = rowFrom / GROUP; g * GROUP < rowTo; g++) {
        const int r0 = g * GROUP;
        const int lo = rowFrom > r0 ? rowFrom - r0 : 0, hi = rowTo < r0 + GROUP ? rowTo - r0 : GROUP;
        const __mmask16 mask = (__mmask16) (((1u << hi) - 1) & ~((1u << lo) - 1));
        const uint8_t *qw = packed + (int64_t) g * nb * qb;
        const uint8_t *sw = scales + g * scaleBytes;
        for (int t = 0, b0 = 0; t < nt; t++) {
            const int bt = (batch - b0) / (nt - t);
            tiles[bt](qw, sw, nb, xq + (int64_t) b0 * QK, xd + b0, xc + b0, xm + b0, batch, y + (int64_t) b0 * ldy + r0, ldy, mask);
            b0 += bt;
        }
    }
    return 0;
}
