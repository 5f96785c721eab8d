"""bitmask on NumPy: one bit per (pre, post) pair (GeNN's bitmask), state per post neuron."""

import numpy as np

from . import kernel_data, post_is_state, register, scaled


def prepare(conn, weight, dtype):
    # Of pre_slice only the row starts: the canonical index of each row's first synapse.
    row_start = np.ascontiguousarray(conn.require("pre_slice")[:, 0])
    return kernel_data(conn, weight, dtype, "bitmask", row_start=row_start)


def deliver(data, g, events):
    """For each pre neuron with an event, unpack its row of bits and add onto the set ones.

    Needs ``bitmask`` (uint8 [n_pre, ceil(n_post / 8)], post j in bit j % 8 of byte
    j // 8, least significant bit first) and the row starts of ``pre_slice``: row i's
    synapses, in increasing post id, are the canonical synapses row_start[i], +1, ...
    Cost per step: one Python iteration per spike, unpacking n_post / 8 bytes.
    """
    for pre in np.flatnonzero(events):
        mask = np.unpackbits(data.bitmask[pre], count=data.n_post, bitorder="little").view(bool)
        if data.weight.ndim == 0:
            w = data.weight
        else:  # the row's weights, in the order of its set bits
            start = data.row_start[pre]
            w = data.weight[start:start + np.count_nonzero(mask)]
        g[mask] += scaled(w, events, pre)
    return g


register("bitmask", prepare=prepare, deliver=deliver, conductance=post_is_state)
