// Paged attention over block tables, for decode and prefill chunks alike (flash-decoding style).
//
// Work item = (run, kv head, split): a run is up to 16 / group consecutive tokens of one sequence (the host plans
// them: decode tokens are runs of one), so its query rows (token, query head of this kv head) number at most 16;
// four warps take rows w, w + 4, w + 8, w + 12. The block walks the positions [split * splitLen, ...) of the run's
// context in tiles of 32, each position's K/V found through the sequence's block table (slot = table[p / bs] * bs +
// p % bs), tiles of K and V widened to f32 in shared memory and shared by every row; each row keeps an online
// softmax (running max and sum) and masks positions past its own (causal over the cached prefix plus the new
// tokens). With one split the block writes the normalized output; with several it writes unnormalized partials and
// their (max, sum), which attn_combine merges. HD is the kernel's capacity (32, 64 or 128), hd the model's head size
// (a multiple of 8, at most HD): elements past hd are zero in q, K and V and never stored. K and V tiles are read
// with 16-byte loads into registers one tile ahead (the loads of tile i + 1 are in flight while tile i is computed),
// then widened into shared memory. The split length is read from device memory (the step plan), so that a captured
// CUDA graph serves every context length.
#include "common.cuh"

#define TILE 32
#define MAX_ROWS 16
#define WARPS 4
#define RPW (MAX_ROWS / WARPS)

template <int HD>
__device__ __forceinline__ void attention_body(
        const float* __restrict__ qkv, int qkvStride, void* __restrict__ out, int outType,
        const __half* __restrict__ kc, const __half* __restrict__ vc, int kvd,
        const int* __restrict__ itemTok0, const int* __restrict__ itemLen, const int* __restrict__ itemSeq,
        const int* __restrict__ positions, const int* __restrict__ btStart, const int* __restrict__ btFlat, int bs,
        int group, int nKv, int hd, float scale, const int* __restrict__ splitLenPtr, float* __restrict__ partO,
        float* __restrict__ partML) {
    constexpr int C = HD / 32;
    constexpr int CHUNKS = HD / 8;                  // 16-byte chunks of one position's head
    constexpr int NV = TILE * CHUNKS / (WARPS * 32); // chunks of K (and of V) a thread loads per tile
    // rows of 16-byte multiples: q and K are read four floats at a time (a K row padded by 4 floats keeps a warp's
    // 16-byte reads of 32 rows conflict-free), V two at a time
    constexpr int PAIR = C % 2 == 0; // a lane owns elements (2 lane, 2 lane + 1) of each 64, else lane + 32 c
    __shared__ __align__(16) float qs[MAX_ROWS][HD];
    __shared__ __align__(16) float ks[TILE][HD + 4];
    __shared__ __align__(16) float vs[TILE][HD];
    __shared__ int rowPos[MAX_ROWS];

    int item = blockIdx.x / nKv, kvh = blockIdx.x % nKv, split = blockIdx.y, nSplit = gridDim.y;
    int tok0 = itemTok0[item], len = itemLen[item], seq = itemSeq[item];
    int nq = len * group;
    int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    int nHeads = nKv * group, qDim = nHeads * hd;
    int ctx = positions[tok0 + len - 1] + 1;
    int splitLen = *splitLenPtr;
    int bsShift = (bs & (bs - 1)) == 0 ? __ffs(bs) - 1 : -1; // power-of-two block sizes: shifts, not divisions
    int start = split * splitLen;
    int end = min(ctx, start + splitLen);
    const int* table = btFlat + btStart[seq];

    for (int i = tid; i < nq * HD; i += blockDim.x) {
        int j = i / HD, e = i % HD;
        int t = tok0 + j / group, head = kvh * group + j % group;
        qs[j][e] = e < hd ? qkv[(long long)t * qkvStride + head * hd + e] * scale : 0.f;
    }
    if (tid < nq) rowPos[tid] = positions[tok0 + tid / group];
    __syncthreads();

    float m[RPW], l[RPW], acc[RPW][C];
#pragma unroll
    for (int k = 0; k < RPW; k++) {
        m[k] = -INFINITY;
        l[k] = 0.f;
#pragma unroll
        for (int c = 0; c < C; c++) acc[k][c] = 0.f;
    }

    uint4 kr[NV], vr[NV];
    auto load = [&](int p0) {
#pragma unroll
        for (int i = 0; i < NV; i++) {
            int idx = tid + i * WARPS * 32;
            int pp = idx / CHUNKS, e = (idx % CHUNKS) * 8;
            int p = p0 + pp;
            kr[i] = make_uint4(0, 0, 0, 0);
            vr[i] = make_uint4(0, 0, 0, 0);
            if (p < end && e < hd) {
                int blk = bsShift >= 0 ? p >> bsShift : p / bs, in = bsShift >= 0 ? p & (bs - 1) : p % bs;
                long long off = (long long)(table[blk] * bs + in) * kvd + kvh * hd + e;
                kr[i] = __ldg((const uint4*)(kc + off));
                vr[i] = __ldg((const uint4*)(vc + off));
            }
        }
    };
    if (start < end) load(start);
    for (int p0 = start; p0 < end; p0 += TILE) {
#pragma unroll
        for (int i = 0; i < NV; i++) {
            int idx = tid + i * WARPS * 32;
            int pp = idx / CHUNKS, e = (idx % CHUNKS) * 8;
            const __half2* kh = (const __half2*)&kr[i];
            const __half2* vh = (const __half2*)&vr[i];
            float2 k0 = __half22float2(kh[0]), k1 = __half22float2(kh[1]), k2 = __half22float2(kh[2]), k3 = __half22float2(kh[3]);
            float2 v0 = __half22float2(vh[0]), v1 = __half22float2(vh[1]), v2 = __half22float2(vh[2]), v3 = __half22float2(vh[3]);
            float4* kd = (float4*)&ks[pp][e];
            float4* vd = (float4*)&vs[pp][e];
            kd[0] = make_float4(k0.x, k0.y, k1.x, k1.y);
            kd[1] = make_float4(k2.x, k2.y, k3.x, k3.y);
            vd[0] = make_float4(v0.x, v0.y, v1.x, v1.y);
            vd[1] = make_float4(v2.x, v2.y, v3.x, v3.y);
        }
        __syncthreads();
        if (p0 + TILE < end) load(p0 + TILE); // in flight while this tile is computed
        int p = p0 + lane;
#pragma unroll
        for (int k = 0; k < RPW; k++) {
            int j = warp + k * WARPS;
            if (j < nq) { // uniform over the warp
                bool valid = p < end && p <= rowPos[j];
                // four independent chains: the dot is latency-bound otherwise
                float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
                const float4* qrow = (const float4*)qs[j];
                const float4* krow = (const float4*)ks[lane];
#pragma unroll
                for (int i4 = 0; i4 < HD / 4; i4++) {
                    float4 qv = qrow[i4], kv = krow[i4];
                    s0 = fmaf(qv.x, kv.x, s0);
                    s1 = fmaf(qv.y, kv.y, s1);
                    s2 = fmaf(qv.z, kv.z, s2);
                    s3 = fmaf(qv.w, kv.w, s3);
                }
                float s = (s0 + s1) + (s2 + s3);
                s = valid ? s : -INFINITY;
                float mt = warp_max(s);
                float mn = fmaxf(m[k], mt);
                if (mn != -INFINITY) {
                    float pr = valid ? __expf(s - mn) : 0.f;
                    float corr = m[k] == -INFINITY ? 0.f : __expf(m[k] - mn);
                    l[k] = l[k] * corr + warp_sum(pr);
                    float a2[C]; // odd positions in a second chain
#pragma unroll
                    for (int c = 0; c < C; c++) {
                        acc[k][c] *= corr;
                        a2[c] = 0.f;
                    }
#pragma unroll 4
                    for (int pp = 0; pp < TILE; pp += 2) {
                        float w0 = __shfl_sync(0xffffffffu, pr, pp), w1 = __shfl_sync(0xffffffffu, pr, pp + 1);
                        if constexpr (PAIR) {
#pragma unroll
                            for (int c2 = 0; c2 < C / 2; c2++) {
                                float2 x0 = *(const float2*)&vs[pp][64 * c2 + 2 * lane];
                                float2 x1 = *(const float2*)&vs[pp + 1][64 * c2 + 2 * lane];
                                acc[k][2 * c2] = fmaf(w0, x0.x, acc[k][2 * c2]);
                                acc[k][2 * c2 + 1] = fmaf(w0, x0.y, acc[k][2 * c2 + 1]);
                                a2[2 * c2] = fmaf(w1, x1.x, a2[2 * c2]);
                                a2[2 * c2 + 1] = fmaf(w1, x1.y, a2[2 * c2 + 1]);
                            }
                        } else {
#pragma unroll
                            for (int c = 0; c < C; c++) {
                                acc[k][c] = fmaf(w0, vs[pp][lane + 32 * c], acc[k][c]);
                                a2[c] = fmaf(w1, vs[pp + 1][lane + 32 * c], a2[c]);
                            }
                        }
                    }
#pragma unroll
                    for (int c = 0; c < C; c++) acc[k][c] += a2[c];
                    m[k] = mn;
                }
            }
        }
        __syncthreads();
    }

#pragma unroll
    for (int k = 0; k < RPW; k++) {
        int j = warp + k * WARPS;
        if (j >= nq) continue;
        if (nSplit == 1) {
            int t = tok0 + j / group, head = kvh * group + j % group;
            float inv = l[k] > 0.f ? 1.0f / l[k] : 0.f;
            long long o = (long long)t * qDim + head * hd;
#pragma unroll
            for (int c = 0; c < C; c++) {
                int el = PAIR ? 64 * (c / 2) + 2 * lane + (c % 2) : lane + 32 * c;
                if (el < hd) store_act(out, o + el, outType, acc[k][c] * inv);
            }
        } else {
            long long r = ((long long)split * gridDim.x + blockIdx.x) * MAX_ROWS + j;
#pragma unroll
            for (int c = 0; c < C; c++) partO[r * HD + (PAIR ? 64 * (c / 2) + 2 * lane + (c % 2) : lane + 32 * c)] = acc[k][c];
            if (lane == 0) {
                partML[r * 2] = m[k];
                partML[r * 2 + 1] = l[k];
            }
        }
    }
}

// MINB: resident blocks per multiprocessor the register budget must allow (8 x 128 threads: 64 registers a thread)
#define ATTENTION(HD, MINB)                                                                                           \
    extern "C" __global__ void __launch_bounds__(128, MINB) attention_hd##HD(                                        \
            const float* qkv, int qkvStride, void* out, int outType, const __half* kc, const __half* vc, int kvd,      \
            const int* itemTok0, const int* itemLen, const int* itemSeq, const int* positions, const int* btStart,      \
            const int* btFlat, int bs, int group, int nKv, int hd, float scale, const int* splitLenPtr, float* partO,   \
            float* partML) {                                                                                          \
        attention_body<HD>(qkv, qkvStride, out, outType, kc, vc, kvd, itemTok0, itemLen, itemSeq, positions, btStart, \
                           btFlat, bs, group, nKv, hd, scale, splitLenPtr, partO, partML);                            \
    }

ATTENTION(32, 8)
ATTENTION(64, 8)
ATTENTION(128, 4)

// Merges the splits of attention_hd*: grid (items * nKv, MAX_ROWS), block hd threads; partials have a stride of
// cap (the attention kernel's HD) floats per row.
extern "C" __global__ void attn_combine(void* __restrict__ out, int outType, const float* __restrict__ partO,
                                        const float* __restrict__ partML, int nSplit, const int* __restrict__ itemTok0,
                                        const int* __restrict__ itemLen, int group, int nKv, int hd, int cap) {
    int item = blockIdx.x / nKv, kvh = blockIdx.x % nKv, j = blockIdx.y, e = threadIdx.x;
    int nq = itemLen[item] * group;
    if (j >= nq) return;
    int nBlocks = gridDim.x;
    float M = -INFINITY;
    for (int s = 0; s < nSplit; s++) M = fmaxf(M, partML[(((long long)s * nBlocks + blockIdx.x) * MAX_ROWS + j) * 2]);
    float L = 0.f, o = 0.f;
    for (int s = 0; s < nSplit; s++) {
        long long r = ((long long)s * nBlocks + blockIdx.x) * MAX_ROWS + j;
        float ms = partML[r * 2];
        if (ms == -INFINITY) continue;
        float f = __expf(ms - M);
        L += partML[r * 2 + 1] * f;
        o += partO[r * cap + e] * f;
    }
    int t = itemTok0[item] + j / group, head = kvh * group + j % group;
    long long dst = (long long)t * (nKv * group * hd) + head * hd + e;
    store_act(out, dst, outType, L > 0.f ? o / L : 0.f);
}
