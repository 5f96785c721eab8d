"""pre_slice on CuPy: pre-major slices, state per post neuron (cuda/pre_slice.cu)."""

import cupy
import numpy as np

from . import events_array, index_array, kernel_data, launch, post_is_state, register


def prepare(conn, weight, dtype):
    pre_slice, post_ids = conn.require("pre_slice", "post_ids")
    return kernel_data(conn, weight, dtype, pre_slice=index_array(pre_slice, np.int64),
                       post_ids=index_array(post_ids),
                       spike_ids=cupy.zeros(max(conn.n_pre, 1), np.int32),
                       counter=cupy.zeros(2, np.int32))


def update(data, g, events, decay, n_decay):
    """Compact the pre neurons with an event, then one warp each walks its slice.

    Needs ``pre_slice`` [n_pre, 2] int64 and ``post_ids`` [n_syn] int32; ``g`` is
    [n_post]; weight shared or [n_syn]; ``spike_ids`` [n_pre] and ``counter`` [2] are
    scratch for the compaction. The first kernel decays the first ``n_decay`` elements
    of g and compacts the ids on the GPU (an atomic counter); the second gives each
    listed row one warp, whose lanes add its weights times its event over the row's
    contiguous slice, atomically. No host round trip; the grid is sized for every pre
    neuron having an event, and idle warps exit at once.
    """
    events = events_array(events, data)
    launch("pre_slice.cu", "pre_slice_compact", max(n_decay, data.n_pre), g, np.int64(n_decay),
           data.dtype.type(decay), events, np.int64(data.n_pre), data.spike_ids, data.counter,
           dtype=data.dtype, events=events.dtype)
    launch("pre_slice.cu", "pre_slice_deliver", 32 * data.n_pre, g, events, data.spike_ids,
           data.counter, data.pre_slice, data.post_ids, data.w, data.w_stride,
           dtype=data.dtype, events=events.dtype)
    return g


def deliver(data, g, events):
    """For each pre neuron i with an event, each k in its slice: g[post_ids[k]] += event * w_k."""
    return update(data, g, events, 1, n_decay=0)


def step(data, g, spikes, decay):
    """The one-call form: the compaction kernel decays g too (two launches, not three)."""
    return update(data, g, spikes, decay, n_decay=data.n_post)


# The network step gives each spike of the step (the monitor's list) one warp, adding
# into a buffer that network_currents adds to the decayed state.
register("pre_slice", prepare=prepare, deliver=deliver, step=step, conductance=post_is_state,
         reads="DECAY_INC", cuda="pre_slice.cu", functor="PreSlice",
         launches=("network_spike_list",),
         record=lambda data: {"slices": data.pre_slice, "post": data.post_ids})
