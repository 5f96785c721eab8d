// What every CUDA source of synbench's CuPy backend shares (cuda/<strategy>.cu, network.cu).
//
// Each strategy's source holds ONE __device__ body: the work of one thread (a matrix
// element, a synapse) or one warp (a spiking pre neuron's row). Its standalone kernels
// (what `deliver` and `step` launch, and what a user can launch from their own code)
// and its network functor (what network.cu's whole-network stages call) both run that
// body, so the kernel benchmark and the network benchmark time the same code.
//
// Kernels are templates over the float type T (float or double) and, where they read
// this step's events, over their type E: `bool` spikes (a spike is amplitude 1, so
// adding `1 * w` is adding w exactly) or T amplitudes. The backend compiles a source
// once per dtype with NVRTC, asking for the instances by name (`pre_ids_update<double,
// bool>`, ...), with --fmad=false so that `a * b + c` rounds twice, as NumPy does.
//
// Conventions shared by every kernel:
// - `events` covers the pre group: amplitude<T>(events, i) is pre neuron i's event,
//   0 when it has none;
// - `decay` scales the state before the events are added: 1 for `deliver` (x * 1 is x
//   exactly), the synapse's decay for the one-call `step` and for the network step,
//   which so advance and deliver in one pass;
// - weights are `w[k * w_stride]`: stride 0 for one weight shared by all synapses
//   (`w` then holds one value), stride 1 for one weight per synapse, in the order the
//   kernel documents (canonical pre-major unless said otherwise);
// - loops are grid-stride, so any grid size covers any problem size;
// - neuron ids are int, synapse offsets long long, synapse ids int (< 2**31 synapses).

#ifndef SYNBENCH_COMMON_CUH
#define SYNBENCH_COMMON_CUH

#define SYNBENCH_GRID_STRIDE(i, n)                                              \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

template <typename T>
__device__ __forceinline__ T weight_at(const T* w, long long k, int w_stride) {
    return w[k * w_stride];
}

// Pre neuron i's event: 1 or 0 for a spike array, its amplitude for a float array.
template <typename T>
__device__ __forceinline__ T amplitude(const bool* events, long long i) {
    return (T)events[i];
}

template <typename T>
__device__ __forceinline__ T amplitude(const T* events, long long i) {
    return events[i];
}

// x[i] *= factor: the decay of a state on its own (the composed `step` of a strategy
// without a fused one, and csr's projections without synapses in the runner).
template <typename T>
__global__ void scale(T* x, T factor, long long n) {
    SYNBENCH_GRID_STRIDE(i, n) { x[i] = x[i] * factor; }
}

// The body of the strategies with one state per synapse that gather their pre neuron's
// event every step (pre_ids in canonical order, post_slice in post-major order):
// synapse k of pre neuron pre[k] decays and adds that neuron's event times its weight.
// Returns the new state.
template <typename T, typename E>
__device__ __forceinline__ T gather_synapse(T* g, const int* pre, const T* w, int w_stride,
                                            const E* events, T decay, long long k) {
    const T x = g[k] * decay + amplitude<T>(events, pre[k]) * weight_at(w, k, w_stride);
    g[k] = x;
    return x;
}

// Calls row(i, lane) in all 32 lanes of a warp for each i < n with a nonzero event:
// each warp reads 32 events at once (one per lane, a ballot), then serves the rows
// among them one after the other. Launch about one thread per pre neuron.
template <typename T, typename E, typename Row>
__device__ __forceinline__ void for_each_event(const E* events, long long n, Row row) {
    const int lane = threadIdx.x & 31;
    const long long stride = (long long)blockDim.x * gridDim.x;  // a multiple of 32
    for (long long base = ((long long)blockIdx.x * blockDim.x + threadIdx.x) - lane; base < n;
         base += stride) {
        unsigned with_event = __ballot_sync(
            0xffffffffu, base + lane < n && amplitude<T>(events, base + lane) != (T)0);
        while (with_event) {
            const long long i = base + __ffs(with_event) - 1;
            with_event &= with_event - 1;
            row(i, lane);
        }
    }
}

// Calls row(ids[s], lane) in all 32 lanes of one warp for each s in [first, stop): one
// warp per listed pre neuron. Launch 32 threads per neuron that may be listed.
template <typename Row>
__device__ __forceinline__ void for_each_listed(const int* ids, long long first, long long stop,
                                                Row row) {
    const int lane = threadIdx.x & 31;
    const long long warps = ((long long)blockDim.x * gridDim.x) >> 5;
    for (long long s = first + (((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5); s < stop;
         s += warps)
        row((long long)ids[s], lane);
}

// One projection of the network, as the runner lays it out: every field 8 bytes, so
// that the runner's NumPy record (read from this definition) and C agree on the layout.
// The runner fills the first block; each strategy's `record` fills the fields its
// functor reads.
struct Proj {
    long long mode;                // how network_currents reads the post conductance (MODE_*)
    long long pre_start, n_pre;    // pre group: network ids [pre_start, pre_start + n_pre)
    long long post_start, n_post;  // post group
    long long n_syn;
    long long items;               // threads of network_items for this projection
    long long w_stride;            // 0: one weight shared, 1: one per synapse
    double decay, e_rev;
    unsigned long long state;      // T*: the strategy's state
    unsigned long long buf;        // T*: the post conductance, as `mode` says
    unsigned long long g_init;     // T*: decaying initial conductance (COBAHH), or 0
    unsigned long long w;          // T*: weights
    // The strategies' structures:
    long long width;               // row width of `rows`
    long long col_width;           // row width of `cols`
    unsigned long long matrix;     // T*: weight matrix [n_pre, n_post] (dense, event_dense)
    unsigned long long slices;     // long long*: pre_slice or post_slice [n, 2]
    unsigned long long row_start;  // long long*: canonical index of each row's first synapse
    unsigned long long pre;        // int*: pre id per synapse (in the state's order)
    unsigned long long post;       // int*: post id per synapse (canonical)
    unsigned long long rows;       // int*: padded rows [n_pre, width] (ell, pre2syn)
    unsigned long long cols;       // int*: padded post2syn [n_post, col_width]
    unsigned long long bits;       // unsigned char*: bitmask rows [n_pre, width] (bytes)
    unsigned long long params;     // unsigned*: procedural's generator parameters
};

template <typename T>
__device__ __forceinline__ T* tp(unsigned long long p) { return reinterpret_cast<T*>(p); }

#endif  // SYNBENCH_COMMON_CUH
