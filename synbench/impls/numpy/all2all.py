"""all2all on NumPy: no index arrays, every pre neuron onto every post neuron."""

from types import SimpleNamespace

import numpy as np

from ...core.registry import one_weight
from ...core.strategies import without_self_connections
from . import post_is_state, register


def prepare(conn, weight, dtype):
    """The sizes, the one weight and whether pre i -> post i is left out."""
    return SimpleNamespace(
        n_pre=conn.n_pre, n_post=conn.n_post, n_syn=conn.n_syn, dtype=np.dtype(dtype),
        weight=one_weight(weight, conn.n_syn, dtype),
        self_excluded=without_self_connections(conn),
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
