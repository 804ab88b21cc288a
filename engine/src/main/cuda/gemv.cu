// Matrix-vector products for decode steps of at most 4 tokens, where cuBLAS's GEMM kernels leave most of the memory
// bandwidth unused: y[n, m] (+)= W[m, :] . x[n, :] for n < N, W in f16 or bf16 (row-major, k a multiple of 8), x in
// the same type, y f32. A warp per row of W, 16-byte loads, all of a lane's loads of a row issued before its first
// use; f32 accumulation.
#include "common.cuh"

#define GEMV_MAX_N 4
#define GEMV_WARPS 8

__device__ __forceinline__ void widen8(uint4 v, int t, float* f) {
    const unsigned* u = (const unsigned*)&v;
#pragma unroll
    for (int q = 0; q < 4; q++) {
        float2 p;
        if (t == ACT_BF16) p = __bfloat1622float2(*(const __nv_bfloat162*)&u[q]);
        else p = __half22float2(*(const __half2*)&u[q]);
        f[2 * q] = p.x;
        f[2 * q + 1] = p.y;
    }
}

// grid: ceil(m / 8), block: 256
extern "C" __global__ void __launch_bounds__(256) gemv(const void* __restrict__ w, const void* __restrict__ x, int type,
                                                       float* __restrict__ y, int m, int k, int n, int accumulate) {
    int lane = threadIdx.x & 31, row = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    if (row >= m) return;
    const uint4* wr = (const uint4*)((const unsigned short*)w + (long long)row * k);
    const uint4* xv = (const uint4*)x;
    int chunks = k / 8, xStride = k / 8;
    float acc[GEMV_MAX_N] = {0.f, 0.f, 0.f, 0.f};
    constexpr int UNROLL = 4;
    int c = lane;
    for (; c + 32 * (UNROLL - 1) < chunks; c += 32 * UNROLL) {
        uint4 wv[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; u++) wv[u] = __ldg(wr + c + 32 * u);
#pragma unroll
        for (int u = 0; u < UNROLL; u++) {
            float wf[8];
            widen8(wv[u], type, wf);
#pragma unroll
            for (int t = 0; t < GEMV_MAX_N; t++) {
                if (t < n) {
                    float xf[8];
                    widen8(__ldg(xv + (long long)t * xStride + c + 32 * u), type, xf);
#pragma unroll
                    for (int e = 0; e < 8; e++) acc[t] = fmaf(wf[e], xf[e], acc[t]);
                }
            }
        }
    }
    for (; c < chunks; c += 32) {
        float wf[8];
        widen8(__ldg(wr + c), type, wf);
#pragma unroll
        for (int t = 0; t < GEMV_MAX_N; t++) {
            if (t < n) {
                float xf[8];
                widen8(__ldg(xv + (long long)t * xStride + c), type, xf);
#pragma unroll
                for (int e = 0; e < 8; e++) acc[t] = fmaf(wf[e], xf[e], acc[t]);
            }
        }
    }
#pragma unroll
    for (int t = 0; t < GEMV_MAX_N; t++) {
        if (t < n) {
            float s = warp_sum(acc[t]);
            if (lane == 0) {
                long long o = (long long)t * m + row;
                y[o] = accumulate ? y[o] + s : s;
            }
        }
    }
}
