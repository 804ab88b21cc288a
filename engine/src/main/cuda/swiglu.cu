// SwiGLU over the fused gate|up product: h[t, i] = silu(gu[t, i]) * gu[t, ffn + i], into the compute type.
#include "common.cuh"

// grid: ceil(T * ffn / 256), block: 256
extern "C" __global__ void swiglu(void* __restrict__ h, int hType, const float* __restrict__ gu, int ffn, long long total) {
    long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) return;
    long long t = idx / ffn, i = idx - t * ffn;
    float g = gu[t * 2 * ffn + i], u = gu[t * 2 * ffn + ffn + i];
    store_act(h, idx, hType, g / (1.0f + expf(-g)) * u);
}
