"""one2one on Numba, threaded: pre neuron i onto post neuron i, element by element."""

from numba import prange

from ..numba import post_is_state
from ..numba.one2one import prepare
from . import jit, register, weight_at


@jit
def deliver(data, g, events):
    """g[i] += events[i] * w_i, element by element (synapse i is i -> i).

    Needs no structure (one-to-one connectivity). Cost per step: O(n), whatever the
    firing rate, split over the threads. Parallel over elements: each is written once.
    """
    for i in prange(data.n_post):
        g[i] += g.dtype.type(events[i]) * weight_at(data.weight, i)
    return g


@jit
def step(data, g, spikes, decay):
    """``deliver`` fused with the decay: each element decayed, then its event added."""
    for i in prange(data.n_post):
        g[i] *= decay
        g[i] += g.dtype.type(spikes[i]) * weight_at(data.weight, i)
    return g


register("one2one", prepare=prepare, deliver=deliver, conductance=post_is_state, step=step)
