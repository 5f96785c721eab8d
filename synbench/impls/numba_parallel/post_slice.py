"""post_slice on Numba, threaded: synapses in post-major order, split over the threads."""

from numba import prange

from ..numba import zeroed
from ..numba.post_slice import prepare
from . import jit, register, weight_at


@jit
def conductance(data, g, out=None):
    """Each post neuron sums its own contiguous slice: no scatter. Parallel over post
    neurons, each summing in the serial order."""
    out = zeroed(data, g, out)
    for j in prange(data.n_post):
        for k in range(data.post_slice[j, 0], data.post_slice[j, 1]):
            out[j] += g[k]
    return out


@jit
def deliver(data, g, events):
    """Every synapse (post-major order) gathers its pre neuron's event.

    Needs ``post_slice`` and ``pre_ids`` in post-major order (via ``post_order``). Cost
    per step: O(n_syn), whatever the firing rate, split over the threads; the
    conductance sums slices with no scatter. Parallel over synapses (each written by one
    thread), and over post neurons for the conductance.
    """
    for k in prange(data.n_syn):
        g[k] += events[data.pre_by_post[k]] * weight_at(data.weight, k)
    return g


@jit
def step(data, g, spikes, decay):
    """``deliver`` fused with the decay: one parallel pass over the synapses."""
    for k in prange(data.n_syn):
        g[k] = g[k] * decay + spikes[data.pre_by_post[k]] * weight_at(data.weight, k)
    return g


register("post_slice", prepare=prepare, deliver=deliver, conductance=conductance, step=step)
