"""all2all on NumPy: no index arrays, every pre neuron onto every post neuron."""

from types import SimpleNamespace

import numpy as np

from ...core.registry import as_weight
from . import post_is_state, register


def prepare(conn, weight, dtype):
    """The sizes, the one weight and whether pre i -> post i is left out."""
    weight = as_weight(weight, conn.n_syn, dtype)
    return SimpleNamespace(
        n_pre=conn.n_pre, n_post=conn.n_post, n_syn=conn.n_syn, dtype=np.dtype(dtype),
        # One weight for every synapse (any value will do when there is no synapse).
        weight=weight.reshape(-1)[0] if weight.size else np.zeros((), dtype),
        # All pairs but i -> i (then n_pre == n_post).
        self_excluded=conn.n_syn != conn.n_pre * conn.n_post,
    )


def deliver(data, g, events):
    """Every post neuron j receives the weight times the sum of the events (a spike
    counts 1), less pre neuron j's own event where self-connections are left out.

    Needs no structure (all-to-all connectivity, one weight). Cost per step:
    O(n_pre + n_post), whatever the number of synapses. Vectorised.
    """
    events = events.astype(data.dtype, copy=False)
    total = events.sum()
    if data.self_excluded:
        g += data.weight * (total - events)
    else:
        g += data.weight * total
    return g


register("all2all", prepare=prepare, deliver=deliver, conductance=post_is_state)
