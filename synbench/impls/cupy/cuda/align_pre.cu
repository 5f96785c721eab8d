// align_pre_csr and align_pre_dense (AlignPre): one state per PRE neuron, which decays and
// adds its own neuron's event every step; no weights here. The conductance onto the post
// neurons, g_post = W^T state, is a library mat-vec launched from Python (cuSPARSE SpMV
// for align_pre_csr, cuBLAS gemv for align_pre_dense).
#include "common.cuh"

// The body: pre neuron i's state decays and adds its event (a spike counts 1).
template <typename T, typename E>
__device__ __forceinline__ void align_pre_neuron(T* state, const E* events, T decay,
                                                 long long i) {
    state[i] = state[i] * decay + amplitude<T>(events, i);
}

// `deliver` (decay 1) and `step`: one thread per pre neuron.
template <typename T, typename E>
__global__ void align_pre_update(T* state, const E* events, T decay, long long n_pre) {
    SYNBENCH_GRID_STRIDE(i, n_pre) { align_pre_neuron(state, events, decay, i); }
}

// The network step (network_items): one thread per pre neuron of each projection; the
// runner's library call then sums the states onto the post neurons into `buf`.
struct AlignPre {
    template <typename T>
    static __device__ __forceinline__ void item(const Proj& p, const bool* spiked, long long idx) {
        align_pre_neuron(tp<T>(p.state), spiked, (T)p.decay, idx);
    }
};
