"""all2all on Numba, threaded: no index arrays, every pre neuron onto every post neuron."""

from numba import prange

from ..numba import post_is_state
from ..numba.all2all import prepare
from . import calls, jit, register


@jit
def _onto_all(data, g, events, decay, with_decay):
    """The sum of the events, in pre order (one thread: a sum split over threads would
    round otherwise), then every post neuron decayed (``with_decay``) and given its
    share, in parallel."""
    total = g.dtype.type(0)
    for i in range(data.n_pre):
        total += g.dtype.type(events[i])
    for j in prange(data.n_post):
        if with_decay:
            g[j] *= decay
        own = g.dtype.type(events[j]) if data.self_excluded else g.dtype.type(0)
        g[j] += data.weight * (total - own)
    return g


@calls
def deliver(data, g, events):
    """Every post neuron j receives the weight times the sum of the events (a spike
    counts 1), less pre neuron j's own event where self-connections are left out.

    Needs no structure (all-to-all connectivity, one weight). Cost per step: O(n_pre)
    for the sum, on one thread (the serial sum's order), then O(n_post) split over the
    threads, each post neuron written by one.
    """
    return _onto_all(data, g, events, 1.0, False)


@calls
def step(data, g, spikes, decay):
    """``deliver`` fused with the decay: each post neuron decayed, then given its share."""
    return _onto_all(data, g, spikes, decay, True)


register("all2all", prepare=prepare, deliver=deliver, conductance=post_is_state, step=step)
