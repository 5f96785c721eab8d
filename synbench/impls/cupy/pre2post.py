"""pre2post on CuPy: padded post lists (``ell``), state per post neuron (cuda/pre2post.cu)."""

import numpy as np

from . import events_array, i64, index_array, kernel_data, launch, post_is_state, register


def prepare(conn, weight, dtype):
    ell = np.asarray(conn.require("ell"))
    counts = (ell != conn.n_post).sum(axis=1)
    row_start = np.cumsum(counts) - counts  # canonical index of each row's first synapse
    return kernel_data(conn, weight, dtype, ell=index_array(ell),
                       row_start=index_array(row_start, np.int64))


def deliver(data, g, events):
    """For each pre neuron i with an event and each j in ell[i]: g_j += event * w.

    Needs ``ell`` [n_pre, max fan-out] int32, post ids padded with n_post, and
    ``row_start`` [n_pre]; ``g`` is [n_post]; weight shared or [n_syn]. Each warp reads
    32 events at once (a ballot); the lanes of a row with an event add its weights
    atomically (two rows may share a target). Cost O(n_pre) flags + O(fan-out) per
    spike; the one-call ``step`` adds O(n_post) for the decay.
    """
    events = events_array(events, data)
    width = data.ell.shape[1]
    if data.n_syn:
        launch("pre2post.cu", "pre2post_deliver", data.n_pre, g, data.ell, i64(width),
               data.row_start, data.w, data.w_stride, events, i64(data.n_pre),
               i64(data.n_post), dtype=data.dtype, events=events.dtype)
    return g


def record(data):
    return {"rows": data.ell, "width": data.ell.shape[1], "row_start": data.row_start}


# The network step runs each spiking neuron's row into a buffer that network_currents
# adds to the decayed state.
register("pre2post", needs=("ell",), prepare=prepare, deliver=deliver,
         conductance=post_is_state, reads="DECAY_INC", cuda="pre2post.cu", functor="Pre2Post",
         launches=("network_spike_flags",), record=record)
