"""pre_slice on Numba, threaded: each thread adds onto its own block of post neurons."""

import numpy as np
from numba import prange

from ..numba import post_is_state, spiking
from ..numba.pre_slice import prepare
from . import block, calls, jit, num_threads, register, weight_at


@jit
def _onto_blocks(data, g, events, decay, with_decay):
    """Each thread decays (``with_decay``) its block [lo, hi) of post neurons, then walks
    the pre neurons with an event in increasing order and adds onto its block only: the
    part of pre i's slice that targets it, found by binary search (post ids are sorted
    within a slice)."""
    n_blocks = num_threads()
    for b in prange(n_blocks):
        lo, hi = block(data.n_post, b, n_blocks)
        if with_decay:
            for j in range(lo, hi):
                g[j] *= decay
        for i in spiking(events):
            a = g.dtype.type(events[i])
            start, end = data.pre_slice[i, 0], data.pre_slice[i, 1]
            targets = data.post_ids[start:end]
            for k in range(start + np.searchsorted(targets, lo),
                           start + np.searchsorted(targets, hi)):
                g[data.post_ids[k]] += a * weight_at(data.weight, k)
    return g


@calls
def deliver(data, g, events):
    """Each pre neuron with an event adds its weights over its slice of targets.

    Needs ``pre_slice`` and ``post_ids``. Cost per step: O(fan-out) adds per spike, split
    over the threads, plus per thread O(n_pre / 8) to find the spikes and two binary
    searches per spike. Parallel over blocks of post neurons (one per thread), each
    walking the spikes in increasing order: the serial kernel's additions, in its order.
    """
    return _onto_blocks(data, g, events, 1.0, False)


@calls
def step(data, g, spikes, decay):
    """``deliver`` fused with the decay: each thread decays its own block, then adds onto it."""
    return _onto_blocks(data, g, spikes, decay, True)


register("pre_slice", prepare=prepare, deliver=deliver, conductance=post_is_state, step=step)
