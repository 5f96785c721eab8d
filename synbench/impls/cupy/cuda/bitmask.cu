// bitmask (GeNN's): one state per post neuron; one bit per (pre, post) pair, uint8
// `bits` [n_pre, n_bytes] (n_bytes = ceil(n_post / 8)), post j in bit j % 8 (least
// significant first) of byte j / 8. Row i's synapses, in increasing post id, are the
// canonical synapses row_start[i], row_start[i] + 1, ... (per-synapse weights). Each pre
// neuron with an event gets one warp, whose lanes walk its row 32 bytes at a time.
#include "common.cuh"

// The body: row i, its weights times amplitude a, added onto g by the warp's lanes (all
// 32 lanes call it together). Lane l reads byte base + l; a warp prefix sum of the set
// bits per byte gives each lane the canonical index of its byte's first synapse; then
// each lane adds onto the posts of its set bits, atomically (two rows may share a target).
template <typename T>
__device__ __forceinline__ void bitmask_row(T* g, const unsigned char* bits, long long n_bytes,
                                            const long long* row_start, const T* w,
                                            int w_stride, T a, long long i, int lane) {
    const unsigned char* row = bits + i * n_bytes;
    long long first = row_start[i];  // the synapse of the first set bit from `base` on
    for (long long base = 0; base < n_bytes; base += 32) {
        const long long byte = base + lane;
        unsigned b = byte < n_bytes ? (unsigned)row[byte] : 0u;
        const int count = __popc(b);
        int upto = count;  // set bits in the bytes of lanes 0 .. lane (inclusive scan)
        for (int d = 1; d < 32; d <<= 1) {
            const int x = __shfl_up_sync(0xffffffffu, upto, d);
            if (lane >= d) upto += x;
        }
        long long k = first + (upto - count);
        while (b) {
            const int bit = __ffs(b) - 1;
            b &= b - 1;
            atomicAdd(&g[8 * byte + bit], a * weight_at(w, k, w_stride));
            ++k;
        }
        first += __shfl_sync(0xffffffffu, upto, 31);
    }
}

// `deliver`: each warp reads 32 events at once and serves the rows with one. Launch
// one thread per pre neuron (fewer is fine: the loop strides). The one-call `step`
// decays g first (kernel `scale`).
template <typename T, typename E>
__global__ void bitmask_deliver(T* g, const unsigned char* bits, long long n_bytes,
                                const long long* row_start, const T* w, int w_stride,
                                const E* events, long long n_pre) {
    for_each_event<T>(events, n_pre, [&](long long i, int lane) {
        bitmask_row(g, bits, n_bytes, row_start, w, w_stride, amplitude<T>(events, i), i, lane);
    });
}

// The network step (network_spike_list): the rows of the step's spikes, added into the
// projection's buffer (decayed and folded in by network_currents); the row width, in
// bytes, travels in `width`.
struct Bitmask {
    template <typename T>
    static __device__ __forceinline__ void row(const Proj& p, long long i, int lane) {
        bitmask_row(tp<T>(p.buf), tp<const unsigned char>(p.bits), p.width,
                    tp<const long long>(p.row_start), tp<const T>(p.w), (int)p.w_stride, (T)1,
                    i, lane);
    }
};
