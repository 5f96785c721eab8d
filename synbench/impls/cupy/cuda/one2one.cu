// one2one: one state per post neuron and no index arrays: pre neuron i drives post
// neuron i alone, through synapse i (weights w[i * w_stride]).
#include "common.cuh"

// `deliver` (decay 1) and `step`: one thread per neuron, elementwise.
template <typename T, typename E>
__global__ void one2one_update(T* g, const E* events, const T* w, int w_stride, T decay,
                               long long n) {
    SYNBENCH_GRID_STRIDE(i, n) {
        g[i] = g[i] * decay + amplitude<T>(events, i) * weight_at(w, i, w_stride);
    }
}
