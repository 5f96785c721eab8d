"""bitmask on Numba, threaded: one bit per (pre, post) pair, each thread adding onto its own
block of post neurons (whole bytes of the rows)."""

import numba
import numpy as np
from numba import prange

from ..numba import post_is_state
from ..numba.bitmask import prepare
from . import block, calls, jit, num_threads, register, spike_list, weight_at


@numba.njit(inline="always")
def _bits_set(byte):
    """How many of the 8 bits of ``byte`` (an int64 0..255) are set."""
    byte = byte - ((byte >> 1) & 0x55)
    byte = (byte & 0x33) + ((byte >> 2) & 0x33)
    return (byte + (byte >> 4)) & 0x0F


@jit
def _onto_blocks(data, g, events, decay, with_decay):
    """Each thread takes a block of the bytes of the rows (post neurons 8 lo .. 8 hi),
    decays them (``with_decay``), then walks the rows of the spiking pre neurons in
    increasing order and adds onto its block only.

    With one weight per synapse a thread must know the canonical index of its first set
    bit in each row: a first parallel pass counts the set bits of each (spike, block),
    and a thread starts from the row start plus the counts of the blocks before its own.
    """
    spikes = spike_list(events)
    n_bytes = data.bitmask.shape[1]
    n_blocks = num_threads()
    before = np.zeros((spikes.size, n_blocks + 1), np.int64)  # set bits before block b
    if data.weight.size > 1:
        for b in prange(n_blocks):
            lo, hi = block(n_bytes, b, n_blocks)
            for s in range(spikes.size):
                for byte in range(lo, hi):
                    before[s, b + 1] += _bits_set(np.int64(data.bitmask[spikes[s], byte]))
        for s in range(spikes.size):
            for b in range(n_blocks):
                before[s, b + 1] += before[s, b]
    for b in prange(n_blocks):
        lo, hi = block(n_bytes, b, n_blocks)
        if with_decay:
            for j in range(8 * lo, min(8 * hi, data.n_post)):
                g[j] *= decay
        for s in range(spikes.size):
            i = spikes[s]
            a = g.dtype.type(events[i])
            k = data.row_start[i] + before[s, b]  # the canonical index of the next set bit
            for byte in range(lo, hi):
                bits = np.int64(data.bitmask[i, byte])
                if bits == 0:
                    continue
                for bit in range(8):
                    if (bits >> bit) & 1:
                        g[8 * byte + bit] += a * weight_at(data.weight, k)
                        k += 1
    return g


@calls
def deliver(data, g, events):
    """Each pre neuron with an event walks the bytes of its row and the bits of each.

    Needs ``bitmask`` (uint8 [n_pre, ceil(n_post / 8)], post j in bit j % 8 of byte
    j // 8) and the row starts of ``pre_slice``: the k-th set bit of row i is synapse
    row_start[i] + k. Cost per step: n_post / 8 bytes read per spike (zero bytes
    skipped) plus O(fan-out) adds, both split over the threads (read twice with one
    weight per synapse: once to count the bits before each block); O(n_pre / 8) on one
    thread to list the spikes. Parallel over blocks of post neurons (whole bytes), one
    per thread, each walking the spikes in increasing order: the serial kernel's
    additions, in its order.
    """
    return _onto_blocks(data, g, events, 1.0, False)


@calls
def step(data, g, spikes, decay):
    """``deliver`` fused with the decay: each thread decays its own block, then adds onto it."""
    return _onto_blocks(data, g, spikes, decay, True)


register("bitmask", prepare=prepare, deliver=deliver, conductance=post_is_state, step=step)
