// pre_ids: one state per synapse, canonical order; every synapse gathers its pre
// neuron's event every step (body: gather_synapse, common.cuh); the conductance is a
// scatter-add onto the post neurons.
#include "common.cuh"

// `deliver` (decay 1) and `step`: one thread per synapse.
template <typename T, typename E>
__global__ void pre_ids_update(T* g, const int* pre_ids, const T* w, int w_stride,
                               const E* events, T decay, long long n_syn) {
    SYNBENCH_GRID_STRIDE(k, n_syn) { gather_synapse(g, pre_ids, w, w_stride, events, decay, k); }
}

// The conductance: out[post[k]] += g[k], one thread per synapse, atomically (`out`
// zeroed first). Summation order is the scheduler's: float64 results agree with a
// serial sum to a few ulp.
template <typename T>
__global__ void pre_ids_conductance(T* out, const T* g, const int* post_ids, long long n_syn) {
    SYNBENCH_GRID_STRIDE(k, n_syn) { atomicAdd(&out[post_ids[k]], g[k]); }
}

// The network step (network_items): one thread per synapse of each projection updates
// it and adds it onto its post neuron's conductance (atomic): update and scatter fused.
struct PreIds {
    template <typename T>
    static __device__ __forceinline__ void item(const Proj& p, const bool* spiked, long long k) {
        const T x = gather_synapse(tp<T>(p.state), tp<const int>(p.pre), tp<const T>(p.w),
                                   (int)p.w_stride, spiked, (T)p.decay, k);
        atomicAdd(&tp<T>(p.buf)[tp<const int>(p.post)[k]], x);
    }
};
