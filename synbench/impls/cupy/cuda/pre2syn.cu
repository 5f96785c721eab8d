// pre2syn: one state per synapse; padded synapse lists per pre neuron [n_pre, width] and
// per post neuron [n_post, col_width] (padding: n_syn, last in each row). Each synapse
// sits in exactly one pre list, so one pass over the pre lists decays every synapse and
// adds the weight where the list's pre neuron has an event: no atomics.
#include "common.cuh"

// The body: entry idx of the pre lists (row idx / width) updates its synapse, if any.
template <typename T, typename E>
__device__ __forceinline__ void pre2syn_entry(T* g, const int* pre2syn, long long width,
                                              const T* w, int w_stride, const E* events,
                                              T decay, long long n_syn, long long idx) {
    const int k = pre2syn[idx];
    if (k < n_syn) {
        T x = g[k] * decay;
        const T a = amplitude<T>(events, idx / width);
        if (a != (T)0) x = x + a * weight_at(w, k, w_stride);
        g[k] = x;
    }
}

// `deliver` (decay 1) and `step`: one thread per list entry.
template <typename T, typename E>
__global__ void pre2syn_update(T* g, const int* pre2syn, long long width, const T* w,
                               int w_stride, const E* events, T decay, long long n_pre,
                               long long n_syn) {
    SYNBENCH_GRID_STRIDE(idx, n_pre * width) {
        pre2syn_entry(g, pre2syn, width, w, w_stride, events, decay, n_syn, idx);
    }
}

// The conductance: one thread per post neuron sums its list, in list order.
template <typename T>
__global__ void pre2syn_conductance(T* out, const T* g, const int* post2syn, long long width,
                                    long long n_post, long long n_syn) {
    SYNBENCH_GRID_STRIDE(j, n_post) {
        T acc = 0;
        for (long long m = 0; m < width; ++m) {
            int k = post2syn[j * width + m];
            if (k >= n_syn) break;  // padding comes last
            acc += g[k];
        }
        out[j] = acc;
    }
}

// The network step: network_items (one thread per list entry of each projection),
// then network_post_sums (one warp per post neuron sums its list; this is one lane's
// share, every 32nd entry).
struct Pre2Syn {
    template <typename T>
    static __device__ __forceinline__ void item(const Proj& p, const bool* spiked, long long idx) {
        pre2syn_entry(tp<T>(p.state), tp<const int>(p.rows), p.width, tp<const T>(p.w),
                      (int)p.w_stride, spiked, (T)p.decay, p.n_syn, idx);
    }

    template <typename T>
    static __device__ __forceinline__ T post_lane_sum(const Proj& p, const bool* spiked,
                                                      long long jj, int lane) {
        const T* g = tp<const T>(p.state);
        const int* cols = tp<const int>(p.cols);
        T sum = 0;
        for (long long m = lane; m < p.col_width; m += 32) {
            const int k = cols[jj * p.col_width + m];
            if (k < p.n_syn) sum += g[k];
        }
        return sum;
    }
};
