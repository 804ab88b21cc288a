/*
 * A/B of two builds of libtokenmill.so on one memory-bound product: the same random ggml matrix packed by each build
 * (each its own tm_pack layout), many copies (512 MB, so the weights stream from memory), one batch row, THREADS
 * threads each taking a row range, and the passes of the two builds interleaved A, B, A, B... so that the shared
 * machine's changing memory load falls on both alike (on a 2-vCPU VM the same build's GB/s moved 1.5-2x between
 * separate runs minutes apart). Prints best and median GB/s of each and their ratios, and checks both builds give
 * the same bits.
 * Build: gcc -O2 -fopenmp -o /tmp/native-ab scripts/native-ab.c -ldl
 * Run:   OMP_WAIT_POLICY=active /tmp/native-ab A.so B.so ROWS COLS TYPE [PASSES=30] [THREADS=2] [ISA=2]
 *        TYPE: ggml type id (2 Q4_0, 8 Q8_0, 12 Q4_K, 14 Q6_K); ISA: 2 AVX-512 VNNI, 1 AVX2 (tm_set_isa)
 * Copy a build aside first (engine/target/classes/native/linux-x86_64/libtokenmill.so), e.g. from a worktree of main.
 */
#include <dlfcn.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int64_t (*packed_bytes_fn)(int, int, int);
typedef int (*pack_fn)(int, const uint8_t *, int, int, uint8_t *, int, int);
typedef int (*quantize_fn)(const float *, int, int, int64_t, int, int, int8_t *, float *, int32_t *, int32_t *, float *,
                           int32_t *, int32_t *);
typedef int (*gemm_fn)(int, const uint8_t *, int, int, const int8_t *, const float *, const int32_t *, const float *,
                       const int32_t *, const int32_t *, int, float *, int64_t, int, int);
typedef int (*set_isa_fn)(int);
typedef struct { packed_bytes_fn packed_bytes; pack_fn pack; quantize_fn quantize; gemm_fn gemm; set_isa_fn set_isa; } lib;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static lib load(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "%s\n", dlerror()); exit(2); }
    lib l = {(packed_bytes_fn) dlsym(h, "tm_packed_bytes"), (pack_fn) dlsym(h, "tm_pack"),
             (quantize_fn) dlsym(h, "tm_quantize_q8"), (gemm_fn) dlsym(h, "tm_gemm"), (set_isa_fn) dlsym(h, "tm_set_isa")};
    if (!l.packed_bytes || !l.pack || !l.quantize || !l.gemm || !l.set_isa) { fprintf(stderr, "%s: missing symbols\n", path); exit(2); }
    return l;
}

static int cmp(const void *a, const void *b) { double x = *(const double *) a, y = *(const double *) b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
    if (argc < 6) { fprintf(stderr, "usage: %s A.so B.so ROWS COLS TYPE [PASSES] [THREADS] [ISA]\n", argv[0]); return 2; }
    lib L[2] = {load(argv[1]), load(argv[2])};
    const int rows = atoi(argv[3]), cols = atoi(argv[4]), type = atoi(argv[5]);
    const int passes = argc > 6 ? atoi(argv[6]) : 30, threads = argc > 7 ? atoi(argv[7]) : 2, isa = argc > 8 ? atoi(argv[8]) : 2;
    if (type != 2 && type != 8 && type != 12 && type != 14) { fprintf(stderr, "TYPE: 2, 8, 12 or 14\n"); return 2; }
    for (int l = 0; l < 2; l++) L[l].set_isa(isa);
    const int bb = type == 8 ? 34 : type == 2 ? 18 : type == 12 ? 144 : 210, bs = type >= 12 ? 256 : 32, nb = cols / 32;
    const int64_t wbytes = (int64_t) rows * (cols / bs) * bb;
    int copies = (int) ((512LL << 20) / wbytes);
    if (copies < 2) copies = 2;
    uint8_t *w = malloc(wbytes);
    for (int64_t i = 0; i < wbytes; i++) w[i] = (uint8_t) rand();
    for (int64_t b = 0; b < wbytes / bb; b++) { /* f16 scales of 2^-8 (0x1c00), not NaN or huge */
        const int at = type == 14 ? 208 : 0;
        w[b * bb + at] = 0; w[b * bb + at + 1] = 0x1c;
        if (type == 12) { w[b * bb + 2] = 0; w[b * bb + 3] = 0x1c; }
    }
    uint8_t **P[2];
    int64_t pbytes[2];
    for (int l = 0; l < 2; l++) {
        pbytes[l] = L[l].packed_bytes(type, rows, cols);
        if (pbytes[l] < 0) { fprintf(stderr, "%s cannot pack type %d %d x %d\n", argv[1 + l], type, rows, cols); return 2; }
        P[l] = malloc(sizeof(uint8_t *) * copies);
        for (int c = 0; c < copies; c++) {
            P[l][c] = aligned_alloc(4096, (pbytes[l] + 4095) / 4096 * 4096);
            L[l].pack(type, w, rows, cols, P[l][c], 0, (rows + 15) / 16);
        }
    }
    float *x = malloc(sizeof(float) * cols), *y[2] = {malloc(sizeof(float) * rows), malloc(sizeof(float) * rows)};
    for (int i = 0; i < cols; i++) x[i] = (float) (rand() % 2001 - 1000) * 1e-3f;
    int8_t *qs = aligned_alloc(64, (cols + 63) / 64 * 64);
    float *d = malloc(4 * nb), *m = malloc(4 * nb);
    int32_t *c4 = malloc(4 * nb), *c8 = malloc(4 * nb), *h0 = malloc(4 * nb), *h1 = malloc(4 * nb);
    L[0].quantize(x, 1, cols, cols, 0, nb, qs, d, c4, c8, m, h0, h1);
    double *t[2] = {malloc(sizeof(double) * passes), malloc(sizeof(double) * passes)};
    const int groups = (rows + 15) / 16;
    for (int it = -3; it < passes; it++) {
        for (int l = 0; l < 2; l++) {
            const double t0 = now();
#pragma omp parallel num_threads(threads)
            {
                const int id = omp_get_thread_num(), n = omp_get_num_threads();
                int r0 = groups * id / n * 16, r1 = groups * (id + 1) / n * 16;
                if (r1 > rows) r1 = rows;
                for (int c = 0; c < copies; c++)
                    L[l].gemm(type, P[l][c], rows, cols, qs, d, type == 2 ? c4 : c8, m, h0, h1, 1, y[l], rows, r0, r1);
            }
            if (it >= 0) t[l][it] = now() - t0;
        }
    }
    if (memcmp(y[0], y[1], sizeof(float) * rows) != 0) printf("RESULTS DIFFER\n");
    double gb[2][2];
    for (int l = 0; l < 2; l++) {
        qsort(t[l], passes, sizeof(double), cmp);
        gb[l][0] = wbytes * copies / t[l][0] * 1e-9;
        gb[l][1] = wbytes * copies / t[l][passes / 2] * 1e-9;
    }
    printf("type %2d %6d x %5d, %d threads, isa %d: A %5.1f / %5.1f GB/s, B %5.1f / %5.1f (best / median), B/A %.3f / %.3f"
           " (packed bytes %lld, %lld)\n", type, rows, cols, threads, isa, gb[0][0], gb[0][1], gb[1][0], gb[1][1],
           gb[1][0] / gb[0][0], gb[1][1] / gb[0][1], (long long) pbytes[0], (long long) pbytes[1]);
    return 0;
}
