// pre_slice: one state per post neuron; synapses in pre-major order, pre neuron i owns
// [pre_slice[2i], pre_slice[2i + 1]) of post_ids. Each pre neuron with an event gets
// one warp, whose lanes walk its contiguous slice adding atomically.
#include "common.cuh"

// The body: row i, its weights times amplitude a, added onto g by the warp's lanes.
template <typename T>
__device__ __forceinline__ void pre_slice_row(T* g, const long long* pre_slice,
                                              const int* post_ids, const T* w, int w_stride,
                                              T a, long long i, int lane) {
    for (long long k = pre_slice[2 * i] + lane; k < pre_slice[2 * i + 1]; k += 32)
        atomicAdd(&g[post_ids[k]], a * weight_at(w, k, w_stride));
}

// First pass: compact the ids of the pre neurons with an event into `ids` (order
// unspecified), counting them in counter[0] (zero on entry). The one-call `step` also
// decays g here (n_decay = n_post; `deliver`: 0), saving a launch.
template <typename T, typename E>
__global__ void pre_slice_compact(T* g, long long n_decay, T decay, const E* events,
                                  long long n_pre, int* ids, int* counter) {
    SYNBENCH_GRID_STRIDE(t, n_decay > n_pre ? n_decay : n_pre) {
        if (t < n_decay) g[t] = g[t] * decay;
        if (t < n_pre && amplitude<T>(events, t) != (T)0) ids[atomicAdd(&counter[0], 1)] = (int)t;
    }
}

// Second pass (`deliver`): one warp per compacted id. Launch 32 threads per pre neuron;
// idle warps exit at once. The last block to finish sets counter[0] and counter[1]
// back to zero for the next call.
template <typename T, typename E>
__global__ void pre_slice_deliver(T* g, const E* events, const int* ids, int* counter,
                                  const long long* pre_slice, const int* post_ids, const T* w,
                                  int w_stride) {
    for_each_listed(ids, 0, counter[0], [&](long long i, int lane) {
        pre_slice_row(g, pre_slice, post_ids, w, w_stride, amplitude<T>(events, i), i, lane);
    });
    __shared__ bool last;
    __syncthreads();
    if (threadIdx.x == 0) {
        __threadfence();
        last = atomicAdd(&counter[1], 1) == (int)gridDim.x - 1;
    }
    __syncthreads();
    if (last && threadIdx.x == 0) {
        counter[0] = 0;
        counter[1] = 0;
    }
}

// The network step (network_spike_list): the rows of the step's spikes, added into the
// projection's buffer (decayed and folded in by network_currents).
struct PreSlice {
    template <typename T>
    static __device__ __forceinline__ void row(const Proj& p, long long i, int lane) {
        pre_slice_row(tp<T>(p.buf), tp<const long long>(p.slices), tp<const int>(p.post),
                      tp<const T>(p.w), (int)p.w_stride, (T)1, i, lane);
    }
};
