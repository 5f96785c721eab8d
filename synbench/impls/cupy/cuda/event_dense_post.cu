// event_dense_post: one state per post neuron; the weights as the dense (n_pre, n_post)
// matrix W, row-major. Post neuron j adds W[i, j] times pre neuron i's event for every
// i with a nonzero event, and reads nothing of the other rows.
#include "common.cuh"

// `deliver` (decay 1) and `step`: one thread per post neuron j. Every thread walks the
// events in the same order, so a warp tests each event once for all its lanes (the
// same branch in every lane) and reads W[i, j .. j + 31] in one coalesced access. The
// events are added one by one in pre order, as the CPU loops add them.
template <typename T, typename E>
__global__ void event_dense_post_update(T* g, const T* weight_matrix, const E* events, T decay,
                                        long long n_pre, long long n_post) {
    SYNBENCH_GRID_STRIDE(j, n_post) {
        T x = g[j] * decay;
        for (long long i = 0; i < n_pre; ++i) {
            const T a = amplitude<T>(events, i);
            if (a != (T)0) x = x + a * weight_matrix[i * n_post + j];
        }
        g[j] = x;
    }
}
