// pre2post: one state per post neuron; padded post lists `ell` [n_pre, width] (padding:
// n_post). Each pre neuron with an event adds its weights onto its targets, the 32
// lanes of one warp sharing its row, atomically (two rows may share a target).
// `row_start[i]` is the canonical index of row i's first synapse (per-synapse weights).
#include "common.cuh"

// The body: row i, its weights times amplitude a, added onto g by the warp's lanes.
template <typename T>
__device__ __forceinline__ void pre2post_row(T* g, const int* ell, long long width,
                                             const long long* row_start, const T* w,
                                             int w_stride, T a, long long i, long long n_post,
                                             int lane) {
    const long long first = row_start[i];
    for (long long m = lane; m < width; m += 32) {
        const int post = ell[i * width + m];
        if (post < n_post) atomicAdd(&g[post], a * weight_at(w, first + m, w_stride));
    }
}

// `deliver`: each warp reads 32 events at once and serves the rows with one. Launch
// one thread per pre neuron (fewer is fine: the loop strides). The one-call `step`
// decays g first (kernel `scale`).
template <typename T, typename E>
__global__ void pre2post_deliver(T* g, const int* ell, long long width,
                                 const long long* row_start, const T* w, int w_stride,
                                 const E* events, long long n_pre, long long n_post) {
    for_each_event<T>(events, n_pre, [&](long long i, int lane) {
        pre2post_row(g, ell, width, row_start, w, w_stride, amplitude<T>(events, i), i, n_post,
                     lane);
    });
}

// The network step (network_spike_flags): the rows of the spiking neurons, added into
// the projection's buffer (decayed and folded in by network_currents).
struct Pre2Post {
    template <typename T>
    static __device__ __forceinline__ void row(const Proj& p, long long i, int lane) {
        pre2post_row(tp<T>(p.buf), tp<const int>(p.rows), p.width,
                     tp<const long long>(p.row_start), tp<const T>(p.w), (int)p.w_stride, (T)1,
                     i, p.n_post, lane);
    }
};
