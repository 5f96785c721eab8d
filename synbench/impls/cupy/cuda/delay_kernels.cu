// Transmission delays (DESIGN section 4c) on the GPU: the three delay mechanisms of
// synbench.core.delays for per-synapse delays, and the runner's delayed spike vectors
// for one delay per projection.
//
// Per synapse k (canonical order): steps[k], its delay in steps (0 <= steps[k] < depth);
// slots[k], where its state lives in the target (the strategy's flattened state, or the
// runner's conductance buffer); its weight w[k * w_stride]. D = depth = longest delay + 1.
//
// The step: every kernel computes at `step + *step_at`. A call from Python passes the
// step by value and step_at pointing at a zero; the runner's fused step passes 0 and
// its control block (ctl + CTL_STEP), which network_currents advances on the GPU, so
// that a CUDA graph (which holds its arguments by value) replays each step right.
//
// Templates over the float type T only (the spikes are bool; the spike queue's
// kernels, which read no float, keep T so that every source compiles one way).
#include "common.cuh"

__device__ __forceinline__ long long delay_step(const int* step_at, long long step) {
    return step + (long long)step_at[0];
}

// --- spike_ring: the last D spike vectors of the pre group, read by every synapse ---

// One pass, one thread per pre neuron and per synapse: thread x records pre neuron x's
// spike of now in ring[now]; synapse x reads its pre neuron's spike of step now - d
// (a delay of 0 reads `spikes` itself: ring[now] is being written) and, if it spiked,
// adds its weight into target[slots[x]] (atomic: slots may repeat, e.g. a post state).
// Launch max(n_pre, n_syn) threads. ring: [depth, n_pre] bool.
template <typename T>
__global__ void spike_ring_deliver(T* target, bool* ring, const bool* spikes,
                                   const int* pre_ids, const int* steps,
                                   const long long* slots, const T* w, int w_stride,
                                   long long n_pre, long long n_syn, long long depth,
                                   const int* step_at, long long step) {
    const long long now = delay_step(step_at, step) % depth;
    SYNBENCH_GRID_STRIDE(x, n_pre > n_syn ? n_pre : n_syn) {
        if (x < n_pre) ring[now * n_pre + x] = spikes[x];
        if (x < n_syn) {
            const long long d = steps[x];
            const long long i = pre_ids[x];
            // d < depth, so (now - d) mod depth is (now + depth - d) mod depth, and a
            // slot other than now when d > 0: no thread writes it in this pass.
            const bool spiked = d == 0 ? spikes[i] : ring[((now + depth - d) % depth) * n_pre + i];
            if (spiked) atomicAdd(&target[slots[x]], weight_at(w, x, w_stride));
        }
    }
}

// --- input_ring: arriving input per post neuron, D steps deep ---

// Each warp reads 32 spike flags at once (a ballot); each spiking pre neuron i gets the
// warp, whose lanes add the weights of its synapses (its pre_slice) into the ring slot
// of their arrival step, atomically. Launch one thread per pre neuron (fewer is fine).
// ring: [depth, width] T, width the target's size (n_post).
template <typename T>
__global__ void input_ring_push(T* ring, const bool* spikes, const long long* pre_slice,
                                const int* steps, const long long* slots, const T* w,
                                int w_stride, long long n_pre, long long width,
                                long long depth, const int* step_at, long long step) {
    const long long now = delay_step(step_at, step) % depth;
    for_each_event<T>(spikes, n_pre, [&](long long i, int lane) {
        for (long long k = pre_slice[2 * i] + lane; k < pre_slice[2 * i + 1]; k += 32) {
            const long long slot = (now + steps[k]) % depth;
            atomicAdd(&ring[slot * width + slots[k]], weight_at(w, k, w_stride));
        }
    });
}

// Then the slot of now goes into the target and is cleared: one thread per element
// (after input_ring_push: an event of delay 0 arrives now).
template <typename T>
__global__ void input_ring_collect(T* target, T* ring, long long width, long long depth,
                                   const int* step_at, long long step) {
    T* now = ring + (delay_step(step_at, step) % depth) * width;
    SYNBENCH_GRID_STRIDE(j, width) {
        target[j] = target[j] + now[j];
        now[j] = (T)0;
    }
}

// --- spike_queue: Brian 1's SpikeQueue, D bins of synapse indices ---

// Each spiking pre neuron's warp appends its synapses to the bins of their arrival
// steps: an atomic counter per bin reserves each place. A place past the capacity is
// not written, but still counted: the host, reading a count above the capacity, grows
// the queue, restores the counts and pushes again (nothing is dropped).
// queue: [depth, capacity] int; counts: [depth] int.
template <typename T>
__global__ void spike_queue_push(int* queue, int* counts, const bool* spikes,
                                 const long long* pre_slice, const int* steps, long long n_pre,
                                 long long depth, long long capacity, const int* step_at,
                                 long long step) {
    const long long now = delay_step(step_at, step) % depth;
    for_each_event<T>(spikes, n_pre, [&](long long i, int lane) {
        for (long long k = pre_slice[2 * i] + lane; k < pre_slice[2 * i + 1]; k += 32) {
            const long long bin = (now + steps[k]) % depth;
            const int place = atomicAdd(&counts[bin], 1);
            if (place < capacity) queue[bin * capacity + place] = (int)k;
        }
    });
}

// The bin of now: each queued synapse adds its weight into target[slots[k]] (atomic).
// Launch one thread per place of a bin (capacity); the host empties the bin after.
template <typename T>
__global__ void spike_queue_deliver(T* target, const int* queue, const int* counts,
                                    const long long* slots, const T* w, int w_stride,
                                    long long depth, long long capacity, const int* step_at,
                                    long long step) {
    const long long bin = delay_step(step_at, step) % depth;
    const long long count = counts[bin] < capacity ? counts[bin] : capacity;
    SYNBENCH_GRID_STRIDE(q, count) {
        const long long k = queue[bin * capacity + q];
        atomicAdd(&target[slots[k]], weight_at(w, k, w_stride));
    }
}

// --- the runner: one delay per projection, the strategy's own stages ---

// For each projection (blockIdx.y; `table` row: ring pointer, depth, pre_start, n_pre,
// offset), one thread per pre neuron i: record the network's spike of now in the
// projection's ring [depth, n_pre], and write the spike of step now - (depth - 1), its
// delay, at delayed[offset + i] (and as 0 / 1 in delayed_float when with_float), where
// the strategy's stages read the projection's spikes. A depth of 1 passes now's on.
template <typename T>
__global__ void delay_spike_vectors(const long long* table, const bool* spiked, bool* delayed,
                                    T* delayed_float, int with_float, const int* step_at) {
    const long long* row = table + 5 * (long long)blockIdx.y;
    bool* ring = reinterpret_cast<bool*>(row[0]);
    const long long depth = row[1], pre_start = row[2], n_pre = row[3], offset = row[4];
    const long long t = delay_step(step_at, 0);
    const long long now = t % depth, then = (t + 1) % depth;
    SYNBENCH_GRID_STRIDE(i, n_pre) {
        ring[now * n_pre + i] = spiked[pre_start + i];
        const bool spike = ring[then * n_pre + i];
        delayed[offset + i] = spike;
        if (with_float) delayed_float[offset + i] = spike ? (T)1 : (T)0;
    }
}
