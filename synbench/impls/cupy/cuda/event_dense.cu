// event_dense ("mat 2"): one state per element of the (n_pre, n_post) matrix, row-major;
// every element decays, but W is read on the rows of pre neurons with an event only.
// The conductance (column sums) is a cuBLAS mat-vec, launched from Python.
#include "common.cuh"

// The body: element idx decays, and adds its weight times its row's event if any.
template <typename T, typename E>
__device__ __forceinline__ void event_dense_element(T* g, const T* weight_matrix,
                                                    const E* events, long long n_post,
                                                    T decay, long long idx) {
    T x = g[idx] * decay;
    const T a = amplitude<T>(events, idx / n_post);
    if (a != (T)0) x = x + a * weight_matrix[idx];
    g[idx] = x;
}

// `deliver` (decay 1) and `step`: one thread per element, branching on its row's event.
template <typename T, typename E>
__global__ void event_dense_update(T* g, const T* weight_matrix, const E* events, T decay,
                                   long long n_pre, long long n_post) {
    SYNBENCH_GRID_STRIDE(idx, n_pre * n_post) {
        event_dense_element(g, weight_matrix, events, n_post, decay, idx);
    }
}

// The network step (network_items): one thread per element of each projection.
struct EventDense {
    template <typename T>
    static __device__ __forceinline__ void item(const Proj& p, const bool* spiked, long long idx) {
        event_dense_element(tp<T>(p.state), tp<const T>(p.matrix), spiked, p.n_post,
                            (T)p.decay, idx);
    }
};
