/*
 * Kernel-only timing of libtokenmill.so on cache-resident data, best of many short runs (the shared machine's
 * other load shows up as slow runs, not in the best one). Measures what the microkernel can do per core; the
 * Java-side, memory-bound comparison is scripts/native-bench.sh.
 * Build and run: gcc -O2 -o /tmp/nb scripts/native-bench.c engine/target/classes/native/linux-x86_64/libtokenmill.so && /tmp/nb
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int tm_isa(void);
int tm_set_isa(int);
int64_t tm_packed_bytes(int, int, int);
int tm_pack(int, const uint8_t *, int, int, uint8_t *, int, int);
int tm_quantize_q8(const float *, int, int, int64_t, int, int, int8_t *, float *, int32_t *, int32_t *, float *, int32_t *, int32_t *);
int tm_gemm(int, const uint8_t *, int, int, const int8_t *, const float *, const int32_t *, const float *, const int32_t *,
            const int32_t *, int, float *, int64_t, int, int);

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(int argc, char **argv) {
    int rows = argc > 1 ? atoi(argv[1]) : 256, cols = argc > 2 ? atoi(argv[2]) : 2048;
    int isa = argc > 3 ? atoi(argv[3]) : 2;
    printf("isa %d (detected %d), %d x %d\n", tm_set_isa(isa), tm_isa(), rows, cols);
    int types[] = {8, 2, 12, 14};
    for (int ti = 0; ti < 4; ti++) {
        int type = types[ti];
        const char *name = type == 8 ? "Q8_0" : type == 2 ? "Q4_0" : type == 12 ? "Q4_K" : "Q6_K";
        int bb = type == 8 ? 34 : type == 2 ? 18 : type == 12 ? 144 : 210, bs = type >= 12 ? 256 : 32, nb = cols / 32;
        int64_t wbytes = (int64_t) rows * (cols / bs) * bb;
        uint8_t *w = malloc(wbytes);
        for (int64_t i = 0; i < wbytes; i++) w[i] = rand();
        for (int64_t b = 0; b < wbytes / bb; b++) {
            int at = type == 14 ? 208 : 0;
            w[b * bb + at] = 0; w[b * bb + at + 1] = 0x1c;
            if (type == 12) { w[b * bb + 2] = 0; w[b * bb + 3] = 0x1c; }
        }
        uint8_t *p = aligned_alloc(64, tm_packed_bytes(type, rows, cols));
        tm_pack(type, w, rows, cols, p, 0, (rows + 15) / 16);
        int batches[] = {1, 4, 8, 16, 32, 128, 512};
        for (int bi = 0; bi < 7; bi++) {
            int B = batches[bi];
            float *x = malloc(sizeof(float) * B * cols), *y = malloc(sizeof(float) * B * rows);
            for (int i = 0; i < B * cols; i++) x[i] = (rand() % 2001 - 1000) * 1e-3f;
            int8_t *qs = aligned_alloc(64, (size_t) B * cols);
            float *d = malloc(4 * B * nb), *m = malloc(4 * B * nb);
            int32_t *c4 = malloc(4 * B * nb), *c8 = malloc(4 * B * nb), *h0 = malloc(4 * B * nb), *h1 = malloc(4 * B * nb);
            tm_quantize_q8(x, B, cols, cols, 0, cols / 32, qs, d, c4, c8, m, h0, h1);
            double best = 1e9;
            int reps = B == 1 ? 20 : B > 32 ? 1 : 3;
            for (int it = 0; it < (B > 32 ? 20 : 200); it++) {
                double t0 = now();
                for (int r = 0; r < reps; r++) tm_gemm(type, p, rows, cols, qs, d, type == 2 ? c4 : c8, m, h0, h1, B, y, rows, 0, rows);
                double t = (now() - t0) / reps;
                if (t < best) best = t;
            }
            double ops = 2.0 * B * rows * cols;
            printf("%s B=%2d  %7.1f GOP/s  %6.1f GB/s of weights\n", name, B, ops / best * 1e-9, wbytes / best * 1e-9);
            free(x); free(y); free(qs); free(d); free(m); free(c4); free(c8); free(h0); free(h1);
        }
        free(w); free(p);
    }
    return 0;
}
