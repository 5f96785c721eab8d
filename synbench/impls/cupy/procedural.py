"""procedural on CuPy: no synapse stored, each spiking row regenerated (GeNN's procedural
connectivity), state per post neuron (cuda/procedural.cu)."""

import cupy
import numpy as np

from . import events_array, kernel_data, launch, post_is_state, register


def prepare(conn, weight, dtype):
    """The generator as one small uint32 array ``params`` (keys, sizes, count table: the
    layout of PROCEDURAL_* in procedural.cu) and the one weight."""
    gen = conn.generator
    table = np.zeros(0, np.uint32) if gen.count_table is None else gen.count_table
    count_lo = gen.count_lo if gen.num is None else gen.num
    head = [gen.key0, gen.key1, int(gen.skip_self), gen.n_avail, gen.half_bits, count_lo,
            table.size]
    params = np.concatenate([np.array(head, np.uint64), table.astype(np.uint64)])
    return kernel_data(conn, weight, dtype, params=cupy.asarray(params.astype(np.uint32)))


def deliver(data, g, events):
    """For each pre neuron i with an event, each of its regenerated targets j:
    g[j] += event * w.

    Needs no structure: ``params`` (7 values and the count table, uint32) and the one
    weight ``w`` [1]; ``g`` is [n_post]. One launch, about a thread per pre neuron: each
    warp reads 32 events at once (a ballot) and its lanes regenerate and add the targets
    of each row with an event, atomically; no scratch, no host round trip. Cost per
    step: O(count * cycle walk) hashes per spike, no memory per synapse.
    """
    events = events_array(events, data)
    launch("procedural.cu", "procedural_deliver", data.n_pre, g, events, np.int64(data.n_pre),
           data.params, data.w, dtype=data.dtype, events=events.dtype)
    return g


# The network step gives each spike of the step (the monitor's list) one warp, adding
# into a buffer that network_currents adds to the decayed state.
register("procedural", prepare=prepare, deliver=deliver, conductance=post_is_state,
         reads="DECAY_INC", cuda="procedural.cu", functor="Procedural",
         launches=("network_spike_list",), record=lambda data: {"params": data.params})
