// procedural: one state per post neuron and no synapse stored (GeNN's procedural
// connectivity). Each pre neuron with an event gets one warp, whose lanes regenerate its
// targets from (key0, key1, i) with synbench/core/connect/generated.py's arithmetic in
// unsigned int (which wraps modulo 2**32, as that arithmetic does) and add the weight
// times its event to each, atomically.
//
// `params` (unsigned int, on the GPU) holds the generator: PROCEDURAL_* below give the
// position of each value; the count table follows them. A fixed count (FixedPostNum) is
// `count_lo` with an empty table.
#include "common.cuh"

#define PROCEDURAL_KEY0 0
#define PROCEDURAL_KEY1 1
#define PROCEDURAL_SKIP_SELF 2   // 1 without self-connections
#define PROCEDURAL_N_AVAIL 3     // candidates per row: n_post, less one without self
#define PROCEDURAL_HALF_BITS 4   // the Feistel domain has 2 * half_bits bits
#define PROCEDURAL_COUNT_LO 5    // the count of a row is count_lo + table entries <= u
#define PROCEDURAL_TABLE_SIZE 6
#define PROCEDURAL_TABLE 7       // the binomial count table (CDF times 2**32), ascending

#define PROCEDURAL_COUNT_STREAM 0x68E31DA4u
#define PROCEDURAL_GOLDEN 0x9E3779B9u

// generated.mix: a 32-bit integer hash.
__device__ __forceinline__ unsigned procedural_mix(unsigned x) {
    x ^= x >> 16;
    x *= 0x21F0AAADu;
    x ^= x >> 15;
    x *= 0x735A2D97u;
    return x ^ (x >> 15);
}

// One pass of the 4-round Feistel network on 2 * half_bits bits.
__device__ __forceinline__ unsigned procedural_feistel(unsigned x, const unsigned* round_keys,
                                                       unsigned half_bits) {
    const unsigned half = (1u << half_bits) - 1u;
    unsigned left = x >> half_bits, right = x & half;
#pragma unroll
    for (int r = 0; r < 4; ++r) {
        const unsigned next = left ^ (procedural_mix(right ^ round_keys[r]) & half);
        left = right;
        right = next;
    }
    return (left << half_bits) | right;
}

// The body: row i's count and targets regenerated, amplitude * weight `aw` added onto g
// by the warp's lanes (lane l takes k = l, l + 32, ...). Every lane computes the row's
// key, count and round keys itself (a few hashes; no shuffles).
template <typename T>
__device__ __forceinline__ void procedural_row(T* g, const unsigned* params, T aw, long long i,
                                               int lane) {
    const unsigned key = procedural_mix(procedural_mix((unsigned)i ^ params[PROCEDURAL_KEY0]) ^
                                        params[PROCEDURAL_KEY1]);
    long long count = params[PROCEDURAL_COUNT_LO];
    const unsigned table_size = params[PROCEDURAL_TABLE_SIZE];
    if (table_size) {  // binary search: the number of table entries <= u
        const unsigned* table = params + PROCEDURAL_TABLE;
        const unsigned u = procedural_mix(key ^ PROCEDURAL_COUNT_STREAM);
        unsigned lo = 0, hi = table_size;
        while (lo < hi) {
            const unsigned mid = (lo + hi) >> 1;
            if (table[mid] <= u) lo = mid + 1;
            else hi = mid;
        }
        count += lo;
    }
    unsigned round_keys[4];
#pragma unroll
    for (unsigned r = 0; r < 4; ++r) round_keys[r] = procedural_mix(key + r * PROCEDURAL_GOLDEN);
    const unsigned n_avail = params[PROCEDURAL_N_AVAIL];
    const unsigned half_bits = params[PROCEDURAL_HALF_BITS];
    const bool skip_self = params[PROCEDURAL_SKIP_SELF] != 0;
    for (long long k = lane; k < count; k += 32) {
        unsigned x = procedural_feistel((unsigned)k, round_keys, half_bits);
        while (x >= n_avail) x = procedural_feistel(x, round_keys, half_bits);  // cycle walk
        long long t = x;
        if (skip_self && t >= i) ++t;
        atomicAdd(&g[t], aw);
    }
}

// `deliver`: each warp reads 32 events at once and serves the rows with one (a warp per
// row). Launch about one thread per pre neuron; no scratch, no compaction. The one-call
// `step` decays g first (kernel `scale`).
template <typename T, typename E>
__global__ void procedural_deliver(T* g, const E* events, long long n_pre,
                                   const unsigned* params, const T* w) {
    const T weight = w[0];
    for_each_event<T>(events, n_pre, [&](long long i, int lane) {
        procedural_row(g, params, amplitude<T>(events, i) * weight, i, lane);
    });
}

// The network step (network_spike_list): the rows of the step's spikes, added into the
// projection's buffer (decayed and folded in by network_currents).
struct Procedural {
    template <typename T>
    static __device__ __forceinline__ void row(const Proj& p, long long i, int lane) {
        procedural_row(tp<T>(p.buf), tp<const unsigned>(p.params), (T)1 * tp<const T>(p.w)[0], i,
                       lane);
    }
};
