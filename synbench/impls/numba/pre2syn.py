"""pre2syn on Numba: per-neuron synapse lists (``numba.typed.List``), walked per spike."""

from collections import namedtuple

from . import SIZES, _weight_at, jit, register, sizes, spiking, typed_list, weights, zeroed

ListData = namedtuple("ListData", SIZES + ("pre2syn", "post2syn", "weight"))


def prepare(conn, weight, dtype):
    pre2syn, post2syn = conn.require("pre2syn", "post2syn")
    return ListData(*sizes(conn, dtype), typed_list(pre2syn), typed_list(post2syn),
                    weights(conn, weight, dtype))


@jit
def conductance(data, g, out=None):
    """Each post neuron sums the synapses of its list."""
    out = zeroed(data, g, out)
    for j in range(data.n_post):
        for k in data.post2syn[j]:
            out[j] += g[k]
    return out


@jit
def deliver(data, g, events):
    """Walk the synapse lists of the pre neurons with an event, adding their weights.

    Needs ``pre2syn`` and ``post2syn`` (``numba.typed.List`` of arrays). Cost per step:
    O(fan-out) per spike; O(n_syn) for the conductance. Parallel over spiking neurons
    (their synapses are disjoint).
    """
    for i in spiking(events):
        a = g.dtype.type(events[i])
        for k in data.pre2syn[i]:
            g[k] += a * _weight_at(data.weight, k)
    return g


register("pre2syn", prepare=prepare, deliver=deliver, conductance=conductance)
