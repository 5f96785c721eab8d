"""all2all on Numba: no index arrays, every pre neuron onto every post neuron."""

from collections import namedtuple

from ...core.registry import one_weight
from ...core.strategies import without_self_connections
from . import SIZES, jit, post_is_state, register, sizes

All2AllData = namedtuple("All2AllData", SIZES + ("weight", "self_excluded"))


def prepare(conn, weight, dtype):
    return All2AllData(*sizes(conn, dtype), one_weight(weight, conn.n_syn, dtype)[()],
                       without_self_connections(conn))


@jit
def deliver(data, g, events):
    """Every post neuron j receives the weight times the sum of the events (a spike
    counts 1), less pre neuron j's own event where self-connections are left out.

    Needs no structure (all-to-all connectivity, one weight). Cost per step:
    O(n_pre + n_post), whatever the number of synapses.
    """
    total = g.dtype.type(0)
    for i in range(data.n_pre):
        total += g.dtype.type(events[i])
    for j in range(data.n_post):
        own = g.dtype.type(events[j]) if data.self_excluded else g.dtype.type(0)
        g[j] += data.weight * (total - own)
    return g


register("all2all", prepare=prepare, deliver=deliver, conductance=post_is_state)
