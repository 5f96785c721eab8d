"""bitmask on Numba: one bit per (pre, post) pair (GeNN's bitmask), state per post neuron."""

from collections import namedtuple

import numpy as np

from . import SIZES, _weight_at, jit, post_is_state, register, sizes, spiking, weights

BitmaskData = namedtuple("BitmaskData", SIZES + ("bitmask", "row_start", "weight"))


def prepare(conn, weight, dtype):
    # Of pre_slice only the row starts: the canonical index of each row's first synapse.
    row_start = np.ascontiguousarray(conn.require("pre_slice")[:, 0], dtype=np.int64)
    return BitmaskData(*sizes(conn, dtype), conn.require("bitmask"), row_start,
                       weights(conn, weight, dtype))


@jit
def deliver(data, g, events):
    """Each pre neuron with an event walks the bytes of its row and the bits of each.

    Needs ``bitmask`` (uint8 [n_pre, ceil(n_post / 8)], post j in bit j % 8 of byte
    j // 8) and the row starts of ``pre_slice``: the k-th set bit of row i is synapse
    row_start[i] + k. Cost per step: n_post / 8 bytes read per spike (zero bytes
    skipped) plus O(fan-out) adds. Serial (two spikers may share a target).
    """
    for i in spiking(events):
        a = g.dtype.type(events[i])
        k = data.row_start[i]  # the canonical index of the next set bit's synapse
        for byte in range(data.bitmask.shape[1]):
            bits = np.int64(data.bitmask[i, byte])
            if bits == 0:
                continue
            for bit in range(8):
                if (bits >> bit) & 1:
                    g[8 * byte + bit] += a * _weight_at(data.weight, k)
                    k += 1
    return g


register("bitmask", prepare=prepare, deliver=deliver, conductance=post_is_state)
