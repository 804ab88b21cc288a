// RMSNorm of f32 rows into the compute type: out[r] = x[src] / sqrt(mean(x[src]^2) + eps) * w, where src = rows[r]
// when rows is given (the logit rows of a step), else r.
#include "common.cuh"

// grid: (R), block: 256
extern "C" __global__ void rmsnorm(void* __restrict__ out, int outType, const float* __restrict__ x,
                                   const float* __restrict__ w, const int* __restrict__ rows, int d, float eps) {
    __shared__ float sh[32];
    int r = blockIdx.x;
    long long src = rows ? rows[r] : r;
    const float* xr = x + src * d;
    float ss = 0.f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) ss += xr[i] * xr[i];
    ss = block_sum(ss, sh);
    float scale = 1.0f / sqrtf(ss / d + eps);
    long long o = (long long)r * d;
    for (int i = threadIdx.x; i < d; i += blockDim.x) store_act(out, o + i, outType, xr[i] * scale * w[i]);
}
