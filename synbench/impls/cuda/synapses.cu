// The eight propagation strategies as CUDA kernels (synbench's CuPy backend).
//
// Every kernel is a template over the floating type T (float or double); the CuPy
// backend compiles this file once per dtype with NVRTC, asking for the instances by
// name (`dense_step<double>`, ...). Compiled with --fmad=false, so `a * b + c` rounds
// twice, as NumPy does.
//
// Conventions shared by every kernel:
// - `spikes` is a bool array over the pre group: true where the neuron spiked in this step;
// - `decay` is exp(-dt / tau), applied before this step's events are added;
// - weights are `w[k * w_stride]`: stride 0 for one weight shared by all synapses
//   (`w` then holds one value), stride 1 for one weight per synapse, in the order the
//   kernel documents (canonical pre-major unless said otherwise);
// - loops are grid-stride, so any grid size covers any problem size;
// - neuron ids are int, synapse offsets long long, synapse ids int (< 2**31 synapses).

#define SYNBENCH_GRID_STRIDE(i, n)                                              \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

template <typename T>
__device__ __forceinline__ T weight_at(const T* w, long long k, int w_stride) {
    return w[k * w_stride];
}

// x[i] *= factor: the decay of a state held per post neuron.
template <typename T>
__global__ void scale(T* x, T factor, long long n) {
    SYNBENCH_GRID_STRIDE(i, n) { x[i] = x[i] * factor; }
}

// --- dense matrices: g [n_pre, n_post], row-major ---

// dense ("mat 1"): every element decays and adds spikes[i] * W[i, j], every step.
template <typename T>
__global__ void dense_step(T* g, const T* weight_matrix, const bool* spikes, T decay,
                           long long n_pre, long long n_post) {
    SYNBENCH_GRID_STRIDE(idx, n_pre * n_post) {
        T s = (T)spikes[idx / n_post];
        g[idx] = g[idx] * decay + s * weight_matrix[idx];
    }
}

// event_dense ("mat 2"): every element decays; W is read on the rows of spiking pre only.
template <typename T>
__global__ void event_dense_step(T* g, const T* weight_matrix, const bool* spikes, T decay,
                                 long long n_pre, long long n_post) {
    SYNBENCH_GRID_STRIDE(idx, n_pre * n_post) {
        T x = g[idx] * decay;
        if (spikes[idx / n_post]) x = x + weight_matrix[idx];
        g[idx] = x;
    }
}

// --- one state value per synapse ---

// pre_ids and post_slice: g[k] = g[k] * decay + spikes[pre[k]] * w[k] (one thread per
// synapse; `pre` is the pre id of each synapse in the state's order).
template <typename T>
__global__ void synapse_step(T* g, const int* pre, const T* w, int w_stride,
                             const bool* spikes, T decay, long long n_syn) {
    SYNBENCH_GRID_STRIDE(k, n_syn) {
        g[k] = g[k] * decay + (T)spikes[pre[k]] * weight_at(w, k, w_stride);
    }
}

// pre_ids conductance: out[post[k]] += g[k], one thread per synapse, atomically
// (`out` zeroed first). Summation order is the scheduler's: float64 results agree with
// a serial sum to a few ulp.
template <typename T>
__global__ void scatter_add(T* out, const T* g, const int* post, long long n_syn) {
    SYNBENCH_GRID_STRIDE(k, n_syn) { atomicAdd(&out[post[k]], g[k]); }
}

// pre2syn: padded synapse lists [n_pre, width] (pad = n_syn). Each synapse sits in
// exactly one pre list, so one pass over the lists decays every synapse and adds the
// weight where the list's pre neuron spiked: decay and events fused, no atomics.
template <typename T>
__global__ void pre2syn_step(T* g, const int* pre2syn, long long width, const T* w,
                             int w_stride, const bool* spikes, T decay, long long n_pre,
                             long long n_syn) {
    SYNBENCH_GRID_STRIDE(idx, n_pre * width) {
        int k = pre2syn[idx];
        if (k < n_syn) {
            T x = g[k] * decay;
            if (spikes[idx / width]) x = x + weight_at(w, k, w_stride);
            g[k] = x;
        }
    }
}

// pre2syn conductance: padded post2syn [n_post, width] (pad = n_syn); one thread per
// post neuron sums its synapses, in list order. No atomics.
template <typename T>
__global__ void rows_sum(T* out, const T* g, const int* post2syn, long long width,
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

// post_slice conductance: synapses in post-major order, post j owns [slice[2j],
// slice[2j + 1]); one thread per post neuron sums its own slice. No atomics.
template <typename T>
__global__ void slice_sum(T* out, const T* g, const long long* post_slice, long long n_post) {
    SYNBENCH_GRID_STRIDE(j, n_post) {
        T acc = 0;
        for (long long k = post_slice[2 * j]; k < post_slice[2 * j + 1]; ++k) acc += g[k];
        out[j] = acc;
    }
}

// --- one state value per post neuron ---

// pre2post: padded post lists `ell` [n_pre, width] (pad = n_post). Each warp reads 32
// spike flags at once (one per lane) and, for each spiking row among them, its lanes
// add the row's weights onto g, atomically (two spiking rows may share a target).
// `row_start[i]` is the canonical index of row i's first synapse (for per-synapse
// weights). Launch one thread per pre neuron (fewer is fine: the loop strides).
template <typename T>
__global__ void pre2post_events(T* g, const int* ell, long long width,
                                const long long* row_start, const T* w, int w_stride,
                                const bool* spikes, long long n_pre, long long n_post) {
    const int lane = threadIdx.x & 31;
    const long long stride = (long long)blockDim.x * gridDim.x;  // a multiple of 32
    for (long long base = ((long long)blockIdx.x * blockDim.x + threadIdx.x) - lane;
         base < n_pre; base += stride) {
        unsigned spiking = __ballot_sync(0xffffffffu, base + lane < n_pre && spikes[base + lane]);
        while (spiking) {
            const long long i = base + __ffs(spiking) - 1;
            spiking &= spiking - 1;
            for (long long m = lane; m < width; m += 32) {
                const int post = ell[i * width + m];
                if (post < n_post) atomicAdd(&g[post], weight_at(w, row_start[i] + m, w_stride));
            }
        }
    }
}

// pre_slice, first pass: decay g (n_post) and compact the spiking pre ids into `ids`
// (order unspecified), counting them in counter[0] (zero on entry).
template <typename T>
__global__ void decay_and_compact(T* g, long long n_post, T decay, const bool* spikes,
                                  long long n_pre, int* ids, int* counter) {
    SYNBENCH_GRID_STRIDE(t, n_post > n_pre ? n_post : n_pre) {
        if (t < n_post) g[t] = g[t] * decay;
        if (t < n_pre && spikes[t]) ids[atomicAdd(&counter[0], 1)] = (int)t;
    }
}

// pre_slice, second pass: one warp per spiking pre neuron walks its contiguous slice
// [pre_slice[2i], pre_slice[2i + 1]) of post_ids, adding atomically. The last block to
// finish sets counter[0] and counter[1] back to zero for the next step.
template <typename T>
__global__ void pre_slice_events(T* g, const int* ids, int* counter,
                                 const long long* pre_slice, const int* post_ids,
                                 const T* w, int w_stride) {
    const int n_spikes = counter[0];
    const int lane = threadIdx.x & 31;
    const long long warps = ((long long)blockDim.x * gridDim.x) >> 5;
    for (long long s = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5; s < n_spikes;
         s += warps) {
        const int i = ids[s];
        for (long long k = pre_slice[2 * i] + lane; k < pre_slice[2 * i + 1]; k += 32)
            atomicAdd(&g[post_ids[k]], weight_at(w, k, w_stride));
    }
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
