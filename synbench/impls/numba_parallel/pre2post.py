"""pre2post on Numba, threaded: per-neuron post lists, each thread adding onto its own
block of post neurons."""

import numpy as np
from numba import prange

from ..numba import post_is_state, spiking
from ..numba.pre2post import prepare
from . import block, calls, jit, num_threads, register, weight_at


@jit
def _onto_blocks(data, g, events, decay, with_decay):
    """Each thread decays (``with_decay``) its block [lo, hi) of post neurons, then walks
    the pre neurons with an event in increasing order and adds onto its block only: the
    part of each post list that falls in it, found by binary search (the lists are
    sorted)."""
    n_blocks = num_threads()
    for b in prange(n_blocks):
        lo, hi = block(data.n_post, b, n_blocks)
        if with_decay:
            for j in range(lo, hi):
                g[j] *= decay
        for i in spiking(events):
            a = g.dtype.type(events[i])
            targets, w = data.pre2post[i], data.weights[i]
            for m in range(np.searchsorted(targets, lo), np.searchsorted(targets, hi)):
                g[targets[m]] += a * weight_at(w, m)
    return g


@calls
def deliver(data, g, events):
    """Each pre neuron with an event adds its weights to its targets.

    Needs ``pre2post`` (``numba.typed.List`` of arrays, with per-pre weight lists).
    Cost per step: O(fan-out) adds per spike, split over the threads, plus per thread
    O(n_pre / 8) to find the spikes and two binary searches per spike. Parallel over
    blocks of post neurons (one per thread), each walking the spikes in increasing
    order: the serial kernel's additions, in its order.
    """
    return _onto_blocks(data, g, events, 1.0, False)


@calls
def step(data, g, spikes, decay):
    """``deliver`` fused with the decay: each thread decays its own block, then adds onto it."""
    return _onto_blocks(data, g, spikes, decay, True)


register("pre2post", prepare=prepare, deliver=deliver, conductance=post_is_state, step=step)
