"""pre2syn on Numba, threaded: per-neuron synapse lists, the spiking neurons' lists walked
in parallel (their synapses are disjoint)."""

import numpy as np
from numba import prange

from ..numba import spiking, zeroed
from ..numba.pre2syn import prepare
from . import calls, decayed, jit, num_threads, pre_block, register, weight_at


@jit
def conductance(data, g, out=None):
    """Each post neuron sums the synapses of its list, in its order. Parallel over post
    neurons."""
    out = zeroed(data, g, out)
    for j in prange(data.n_post):
        for k in data.post2syn[np.int64(j)]:  # a prange index may be unsigned
            out[j] += g[k]
    return out


@jit
def deliver(data, g, events):
    """Walk the synapse lists of the pre neurons with an event, adding their weights.

    Needs ``pre2syn`` and ``post2syn`` (``numba.typed.List`` of arrays). Cost per step:
    O(fan-out) per spike; O(n_syn) for the conductance; both split over the threads.
    Parallel over blocks of pre neurons (one per thread, on whole words of ``events``):
    a synapse belongs to one pre neuron, so each is written by one thread.
    """
    n_blocks = num_threads()
    for b in prange(n_blocks):
        lo, hi = pre_block(data.n_pre, b, n_blocks)
        for i in spiking(events[lo:hi]):
            a = g.dtype.type(events[lo + i])
            for k in data.pre2syn[lo + i]:
                g[k] += a * weight_at(data.weight, k)
    return g


@calls
def step(data, g, spikes, decay):
    """``state *= decay`` (:func:`decayed`, parallel), then ``deliver``."""
    return deliver(data, decayed(g, decay), spikes)


register("pre2syn", prepare=prepare, deliver=deliver, conductance=conductance, step=step)
