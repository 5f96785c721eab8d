// dense ("mat 1"): one state per element of the (n_pre, n_post) matrix, row-major; every
// element decays and adds its row's event every step, whatever the firing rate. The
// conductance (column sums) is a cuBLAS mat-vec, launched from Python.
#include "common.cuh"

// The body: element idx decays and adds its pre neuron's event times its weight.
template <typename T, typename E>
__device__ __forceinline__ void dense_element(T* g, const T* weight_matrix, const E* events,
                                              long long n_post, T decay, long long idx) {
    g[idx] = g[idx] * decay + amplitude<T>(events, idx / n_post) * weight_matrix[idx];
}

// `deliver` (decay 1) and `step`: one thread per element.
template <typename T, typename E>
__global__ void dense_update(T* g, const T* weight_matrix, const E* events, T decay,
                             long long n_pre, long long n_post) {
    SYNBENCH_GRID_STRIDE(idx, n_pre * n_post) {
        dense_element(g, weight_matrix, events, n_post, decay, idx);
    }
}

// The network step (network_items): one thread per element of each projection.
struct Dense {
    template <typename T>
    static __device__ __forceinline__ void item(const Proj& p, const bool* spiked, long long idx) {
        dense_element(tp<T>(p.state), tp<const T>(p.matrix), spiked, p.n_post, (T)p.decay, idx);
    }
};
