// The CuPy runner's whole-network step: few launches per step, every projection at once.
//
// The runner compiles one module: common.cuh, the source of every strategy registered
// on CuPy (each holds its body and its functor, a struct the stages below call), this
// file, and the neuron kernel it generates from the neuron model. One step (DESIGN
// section 3) is: `neuron_update`; the stages the strategy registers (`launches`), each
// for all projections at once, instantiated with the strategy's functor, and any
// library call per projection (cuBLAS, cuSPARSE); then `network_currents`, which reads
// each projection's post conductance as its `mode` says, accumulates I_syn in
// projection order and closes the step. Every argument that changes from step to step
// lives on the GPU (`ctl`), so a chunk of steps can be captured as a CUDA graph.
//
// Templates over the float type T and the functor S; --fmad=false, as everywhere.
#include "common.cuh"

// ctl: the step's control block, on the GPU.
#define CTL_STEP 0   // absolute index of the step being computed
#define CTL_BASE 1   // first step of the current chunk (the monitor's row 0)
#define CTL_TOTAL 2  // spikes written to the monitor in this chunk so far
#define CTL_START 3  // monitor position of this step's first spike

// How `network_currents` obtains a projection's post conductance g (a strategy
// registers one as `reads`).
#define MODE_READ 0        // g = buf, which a stage or library call set this step
#define MODE_READ_CLEAR 1  // g = buf, then buf = 0 (a stage accumulated into it atomically)
#define MODE_DECAY_INC 2   // g = state * decay + buf, state = g, buf = 0 (post state; a
                           // stage added this step's events into buf)
#define MODE_STATE 3       // g = state (post state that a library call advanced, decay
                           // included)

// Stage: one thread per item (matrix element, synapse, list entry: `items` of the
// record) of projection blockIdx.y; grid (blocks for the largest, number of projections).
// S::item<T>(p, spiked, idx) does the item's work; `spiked` starts at the pre group.
template <typename T, typename S>
__global__ void network_items(const Proj* projs, const bool* spiked) {
    const Proj p = projs[blockIdx.y];  // a copy: its fields stay in registers
    SYNBENCH_GRID_STRIDE(idx, p.items) { S::template item<T>(p, spiked + p.pre_start, idx); }
}

// Stage: one warp per network neuron j and projection onto it; the lanes' shares
// S::post_lane_sum<T>(p, spiked, jj, lane) are summed by a warp reduction and lane 0
// writes the sum to buf[jj]. 32 threads per neuron.
template <typename T, typename S>
__global__ void network_post_sums(const Proj* projs, int n_proj, const bool* spiked,
                                  long long n) {
    const int lane = threadIdx.x & 31;
    const long long warps = ((long long)blockDim.x * gridDim.x) >> 5;
    for (long long j = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5; j < n;
         j += warps) {
        for (int q = 0; q < n_proj; ++q) {
            const Proj& p = projs[q];
            const long long jj = j - p.post_start;
            if (jj < 0 || jj >= p.n_post) continue;
            T sum = S::template post_lane_sum<T>(p, spiked + p.pre_start, jj, lane);
            for (int offset = 16; offset > 0; offset >>= 1)
                sum += __shfl_down_sync(0xffffffffu, sum, offset);
            if (lane == 0) tp<T>(p.buf)[jj] = sum;
        }
    }
}

// Stage: each warp reads 32 spike flags at once; for each spiking neuron among them
// and each projection whose pre group holds it, the lanes run S::row<T>(p, i, lane).
// About one thread per neuron (as many as are resident).
template <typename T, typename S>
__global__ void network_spike_flags(const Proj* projs, int n_proj, const bool* spiked,
                                    long long n) {
    for_each_event<T>(spiked, n, [&](long long id, int lane) {
        for (int q = 0; q < n_proj; ++q) {
            const Proj& p = projs[q];
            const long long i = id - p.pre_start;
            if (i < 0 || i >= p.n_pre) continue;
            S::template row<T>(p, i, lane);
        }
    });
}

// Stage: one warp per spike of this step (monitor positions [ctl[START], ctl[TOTAL]));
// for each projection whose pre group holds it, the lanes run S::row<T>(p, i, lane).
// 32 threads per neuron (as many as are resident).
template <typename T, typename S>
__global__ void network_spike_list(const Proj* projs, int n_proj, const int* spike_ids,
                                   const int* ctl, long long capacity) {
    const long long first = ctl[CTL_START];
    const long long stop = min((long long)ctl[CTL_TOTAL], capacity);
    for_each_listed(spike_ids, first, stop, [&](long long id, int lane) {
        for (int q = 0; q < n_proj; ++q) {
            const Proj& p = projs[q];
            const long long i = id - p.pre_start;
            if (i < 0 || i >= p.n_pre) continue;
            S::template row<T>(p, i, lane);
        }
    });
}

// The end of every step: one thread per neuron j sets
//   I_syn[j] = sum over projections p onto j, in order, of g_p[j] * (E_p - v[j]),
// obtaining g_p[j] as its mode says (and adding COBAHH's decaying initial g); then
// thread 0 records where this step's spikes end in the monitor and advances the step.
template <typename T>
__global__ void network_currents(T* i_syn, const T* v, const Proj* projs, int n_proj,
                                 const bool* spiked, long long n, int* ctl, int* ends) {
    SYNBENCH_GRID_STRIDE(j, n) {
        const T vj = v[j];
        T current = 0;
        for (int q = 0; q < n_proj; ++q) {
            const Proj& p = projs[q];
            const long long jj = j - p.post_start;
            if (jj < 0 || jj >= p.n_post) continue;
            const T decay = (T)p.decay;
            T* state = tp<T>(p.state);
            T* buf = tp<T>(p.buf);
            T g = 0;
            if (p.mode == MODE_READ_CLEAR) {
                g = buf[jj];
                buf[jj] = 0;
            } else if (p.mode == MODE_DECAY_INC) {
                g = state[jj] * decay + buf[jj];
                state[jj] = g;
                buf[jj] = 0;
            } else if (p.mode == MODE_STATE) {
                g = state[jj];
            } else {  // MODE_READ
                g = buf[jj];
            }
            if (p.g_init) {
                T* g_init = tp<T>(p.g_init);
                const T x = g_init[jj] * decay;
                g_init[jj] = x;
                g = g + x;
            }
            current = current + g * ((T)p.e_rev - vj);
        }
        i_syn[j] = current;
    }
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        const int total = ctl[CTL_TOTAL];
        ends[ctl[CTL_STEP] - ctl[CTL_BASE]] = total;
        ctl[CTL_START] = total;
        ctl[CTL_STEP] += 1;
    }
}

// The spike monitor's append, for the neuron kernel: neuron `id` spiked in this step.
// Warp-aggregated: one atomic per warp reserves places for all its spiking lanes.
__device__ __forceinline__ void record_spike(int* ctl, int* spike_ids, long long capacity,
                                            long long id) {
    const unsigned group = __activemask();  // the lanes recording a spike together
    const int lane = threadIdx.x & 31;
    const int leader = __ffs(group) - 1;
    int base = 0;
    if (lane == leader) base = atomicAdd(&ctl[CTL_TOTAL], __popc(group));
    base = __shfl_sync(group, base, leader);
    const long long pos = (long long)base + __popc(group & ((1u << lane) - 1u));
    if (pos < capacity) spike_ids[pos] = (int)id;
}
