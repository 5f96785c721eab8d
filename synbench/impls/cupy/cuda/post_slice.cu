// post_slice: one state per synapse, post-major order; every synapse gathers its pre
// neuron's event every step (body: gather_synapse, common.cuh); each post neuron j sums
// its own contiguous slice [post_slice[2j], post_slice[2j + 1]): no atomics.
#include "common.cuh"

// `deliver` (decay 1) and `step`: one thread per synapse (`pre_by_post` is the pre id
// of each synapse, post-major; so are the weights).
template <typename T, typename E>
__global__ void post_slice_update(T* g, const int* pre_by_post, const T* w, int w_stride,
                                  const E* events, T decay, long long n_syn) {
    SYNBENCH_GRID_STRIDE(k, n_syn) {
        gather_synapse(g, pre_by_post, w, w_stride, events, decay, k);
    }
}

// The conductance: one thread per post neuron sums its slice.
template <typename T>
__global__ void post_slice_conductance(T* out, const T* g, const long long* post_slice,
                                       long long n_post) {
    SYNBENCH_GRID_STRIDE(j, n_post) {
        T acc = 0;
        for (long long k = post_slice[2 * j]; k < post_slice[2 * j + 1]; ++k) acc += g[k];
        out[j] = acc;
    }
}

// The network step (network_post_sums): one warp per post neuron updates the synapses
// of its slice and sums them; this is one lane's share (every 32nd synapse).
struct PostSlice {
    template <typename T>
    static __device__ __forceinline__ T post_lane_sum(const Proj& p, const bool* spiked,
                                                      long long jj, int lane) {
        const long long* slice = tp<const long long>(p.slices);
        T* g = tp<T>(p.state);
        const int* pre = tp<const int>(p.pre);
        const T* w = tp<const T>(p.w);
        const T decay = (T)p.decay;
        T sum = 0;
        for (long long k = slice[2 * jj] + lane; k < slice[2 * jj + 1]; k += 32)
            sum += gather_synapse(g, pre, w, (int)p.w_stride, spiked, decay, k);
        return sum;
    }
};
