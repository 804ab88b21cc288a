/*
 * Throughput of the AVX2 integer ops the int8 tiles are built from, 8 independent chains each (ns per op; on a core
 * with N pipes for an op, ns/op = 1 / (N x GHz)). MIX is a dependent vpsignb + vpmaddubsw pair: if it costs twice
 * one op, the two share pipes. Used for the README's Zen 3 bound on Q8_0 (vpsignb, vpmaddubsw, vpmaddwd per 32 products).
 * CHAIN is the int16 accumulation of the Q4_0 / K-quant tiles, acc += vpmaddubsw(w, x) in 8 independent accumulators
 * (the products themselves independent): on Zen 3 it runs slower than the vpmaddubsw alone, which bounds those tiles.
 * Build and run: gcc -O2 -mavx2 -o /tmp/avx2-pipes scripts/avx2-pipes.c && /tmp/avx2-pipes
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define N 100000000L
#define BODY(OP) { __m256i a0=_mm256_set1_epi8(1),a1=a0,a2=a0,a3=a0,a4=a0,a5=a0,a6=a0,a7=a0; __m256i w=_mm256_set1_epi8(3), x=_mm256_set1_epi8(2); \
  double t0=now(); for (long i=0;i<N;i++){ a0=OP(a0,x);a1=OP(a1,x);a2=OP(a2,x);a3=OP(a3,x);a4=OP(a4,x);a5=OP(a5,x);a6=OP(a6,x);a7=OP(a7,x); __asm__("":"+x"(a0),"+x"(a1),"+x"(a2),"+x"(a3),"+x"(a4),"+x"(a5),"+x"(a6),"+x"(a7)); } \
  double t=now()-t0; __m256i s=_mm256_add_epi8(_mm256_add_epi8(_mm256_add_epi8(a0,a1),_mm256_add_epi8(a2,a3)),_mm256_add_epi8(_mm256_add_epi8(a4,a5),_mm256_add_epi8(a6,a7))); \
  printf("%-10s %.3f ns per op (%d)\n", #OP, t/N/8*1e9, _mm256_extract_epi32(s,0)); }
#define ADD(a,x) _mm256_add_epi16(a,x)
#define MUBS(a,x) _mm256_maddubs_epi16(a,x)
#define MWD(a,x) _mm256_madd_epi16(a,x)
#define SGN(a,x) _mm256_sign_epi8(a,x)
#define SLL(a,x) _mm256_slli_epi32(a,3)
#define MIX(a,x) _mm256_sign_epi8(_mm256_maddubs_epi16(a,x),x)
static void chain(void) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    __m256i w0 = _mm256_set1_epi8(3), w1 = w0, w2 = w0, w3 = w0, x = _mm256_set1_epi8(2), y = x;
    double t0 = now();
    for (long i = 0; i < N; i++) {
        __asm__ volatile("" : "+x"(w0), "+x"(w1), "+x"(w2), "+x"(w3), "+x"(x), "+x"(y)); /* fresh products every round */
        a0 = _mm256_add_epi16(a0, _mm256_maddubs_epi16(w0, x)); a1 = _mm256_add_epi16(a1, _mm256_maddubs_epi16(w1, x));
        a2 = _mm256_add_epi16(a2, _mm256_maddubs_epi16(w2, x)); a3 = _mm256_add_epi16(a3, _mm256_maddubs_epi16(w3, x));
        a4 = _mm256_add_epi16(a4, _mm256_maddubs_epi16(w0, y)); a5 = _mm256_add_epi16(a5, _mm256_maddubs_epi16(w1, y));
        a6 = _mm256_add_epi16(a6, _mm256_maddubs_epi16(w2, y)); a7 = _mm256_add_epi16(a7, _mm256_maddubs_epi16(w3, y));
        __asm__("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7));
    }
    double t = now() - t0;
    __m256i s = _mm256_add_epi16(_mm256_add_epi16(_mm256_add_epi16(a0, a1), _mm256_add_epi16(a2, a3)),
                                 _mm256_add_epi16(_mm256_add_epi16(a4, a5), _mm256_add_epi16(a6, a7)));
    printf("%-10s %.3f ns per vpmaddubsw + vpaddw (%d)\n", "CHAIN", t / N / 8 * 1e9, _mm256_extract_epi32(s, 0));
}
int main(){ BODY(ADD) BODY(MUBS) BODY(MWD) BODY(SGN) BODY(SLL) BODY(MIX) chain(); return 0; }
