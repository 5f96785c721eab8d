// all2all: one state per post neuron and no index arrays. Every pre neuron is connected
// to every post neuron (all but i -> i where self-connections are left out, with
// n_pre == n_post) with one weight w, so post neuron j receives
// w * (the sum of the events - pre neuron j's own event, if left out).
#include "common.cuh"

// First pass, ONE block: total[0] = the sum of the events (a spike counts 1). Each
// thread sums its share; thread 0 then adds the shares in order (deterministic).
template <typename T, typename E>
__global__ void all2all_total(const E* events, long long n_pre, T* total) {
    __shared__ T share[1024];  // one per thread of the block (at most 1024)
    T sum = 0;
    for (long long i = threadIdx.x; i < n_pre; i += blockDim.x) sum = sum + amplitude<T>(events, i);
    share[threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.x == 0) {
        T sum_all = 0;
        for (unsigned t = 0; t < blockDim.x; ++t) sum_all = sum_all + share[t];
        total[0] = sum_all;
    }
}

// Second pass (`deliver` with decay 1, and `step`): one thread per post neuron.
template <typename T, typename E>
__global__ void all2all_update(T* g, const E* events, const T* total, T weight, T decay,
                               long long n_post, int self_excluded) {
    SYNBENCH_GRID_STRIDE(j, n_post) {
        const T from_others = self_excluded ? total[0] - amplitude<T>(events, j) : total[0];
        g[j] = g[j] * decay + weight * from_others;
    }
}
