"""all2all on JAX: no index arrays, every pre neuron onto every post neuron."""

from ...core.registry import one_weight
from ...core.strategies import without_self_connections
from . import make_data, post_is_state, register


def prepare(conn, weight, dtype, max_spikes=None):
    # Whether pre i -> post i is left out is static, so the kernel compiles for it.
    return make_data(conn, weight, dtype, {"weight": one_weight(weight, conn.n_syn, dtype)},
                     max_spikes, self_excluded=without_self_connections(conn))


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
