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

// The same four elements a thread with 16-byte loads, when ffn is a multiple of 4. grid: ceil(T * ffn / 4 / 256)
extern "C" __global__ void swiglu4(void* __restrict__ h, int hType, const float* __restrict__ gu, int ffn, long long total4) {
    long long idx4 = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx4 >= total4) return;
    long long idx = idx4 * 4, t = idx / ffn, i = idx - t * ffn;
    float4 g = *(const float4*)(gu + t * 2 * ffn + i);
    float4 u = *(const float4*)(gu + t * 2 * ffn + ffn + i);
    float r0 = g.x / (1.0f + expf(-g.x)) * u.x, r1 = g.y / (1.0f + expf(-g.y)) * u.y;
    float r2 = g.z / (1.0f + expf(-g.z)) * u.z, r3 = g.w / (1.0f + expf(-g.w)) * u.w;
    if (hType == ACT_BF16) {
        __nv_bfloat162 a = __floats2bfloat162_rn(r0, r1), b = __floats2bfloat162_rn(r2, r3);
        uint2 pk;
        pk.x = *(unsigned*)&a;
        pk.y = *(unsigned*)&b;
        *(uint2*)((__nv_bfloat16*)h + idx) = pk;
    } else if (hType == ACT_F16) {
        __half2 a = __floats2half2_rn(r0, r1), b = __floats2half2_rn(r2, r3);
        uint2 pk;
        pk.x = *(unsigned*)&a;
        pk.y = *(unsigned*)&b;
        *(uint2*)((__half*)h + idx) = pk;
    } else {
        *(float4*)((float*)h + idx) = make_float4(r0, r1, r2, r3);
    }
}
