"""bitmask on CuPy: one bit per (pre, post) pair (GeNN's bitmask), state per post neuron
(cuda/bitmask.cu)."""

import cupy
import numpy as np

from . import events_array, i64, index_array, kernel_data, launch, post_is_state, register


def prepare(conn, weight, dtype):
    bitmask, pre_slice = conn.require("bitmask", "pre_slice")
    # Of pre_slice only the row starts: the canonical index of each row's first synapse.
    return kernel_data(conn, weight, dtype, bits=cupy.asarray(np.ascontiguousarray(bitmask)),
                       row_start=index_array(pre_slice[:, 0], np.int64))


def deliver(data, g, events):
    """For each pre neuron i with an event and each set bit j of row i: g_j += event * w.

    Needs ``bitmask`` (``bits`` uint8 [n_pre, ceil(n_post / 8)], post j in bit j % 8 of
    byte j // 8) and the row starts of ``pre_slice`` (``row_start`` [n_pre] int64: the
    k-th set bit of row i is synapse row_start[i] + k); ``g`` is [n_post]; weight shared
    or [n_syn]. Each warp reads 32 events at once (a ballot); a row with an event gets
    the whole warp, whose lanes read 32 bytes at a time and add atomically. Cost per
    step: O(n_pre) flags, then n_post / 8 bytes read and O(fan-out) adds per spike.
    """
    events = events_array(events, data)
    if data.n_syn:
        launch("bitmask.cu", "bitmask_deliver", data.n_pre, g, data.bits,
               i64(data.bits.shape[1]), data.row_start, data.w, data.w_stride, events,
               i64(data.n_pre), dtype=data.dtype, events=events.dtype)
    return g


def record(data):
    """The fields of ``struct Proj`` the functor reads."""
    return {"bits": data.bits, "width": data.bits.shape[1], "row_start": data.row_start}


# The network step gives each spike of the step (the monitor's list) one warp, adding
# into a buffer that network_currents adds to the decayed state.
register("bitmask", prepare=prepare, deliver=deliver, conductance=post_is_state,
         reads="DECAY_INC", cuda="bitmask.cu", functor="Bitmask",
         launches=("network_spike_list",), record=record)
