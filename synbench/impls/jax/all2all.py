"""all2all on JAX: no index arrays, every pre neuron onto every post neuron."""

import numpy as np

from ...core.registry import as_weight
from . import make_data, post_is_state, register


def prepare(conn, weight, dtype, max_spikes=None):
    w = as_weight(weight, conn.n_syn, dtype)
    # One weight for every synapse (any value will do when there is no synapse).
    one_weight = w.reshape(-1)[0] if w.size else np.zeros((), dtype)
    # All pairs but i -> i (then n_pre == n_post): static, so the kernel compiles for it.
    return make_data(conn, weight, dtype, {"weight": np.asarray(one_weight, dtype)},
                     max_spikes, self_excluded=conn.n_syn != conn.n_pre * conn.n_post)


def deliver(data, g, events):
    """Every post neuron j receives the weight times the sum of the events (a spike
    counts 1), less pre neuron j's own event where self-connections are left out.

    Needs no structure (all-to-all connectivity, one weight); g [n_post]. Cost per
    step: O(n_pre + n_post), whatever the number of synapses; no compaction.
    """
    events = events.astype(g.dtype)
    total = events.sum()
    if data.self_excluded:
        return g + data.weight * (total - events)
    return g + data.weight * total


register("all2all", prepare=prepare, deliver=deliver, conductance=post_is_state)
