"""one2one on Numba: no index arrays, pre neuron i onto post neuron i alone."""

from collections import namedtuple

from . import SIZES, _weight_at, jit, post_is_state, register, sizes, weights

One2OneData = namedtuple("One2OneData", SIZES + ("weight",))


def prepare(conn, weight, dtype):
    return One2OneData(*sizes(conn, dtype), weights(conn, weight, dtype))


@jit
def deliver(data, g, events):
    """g[i] += events[i] * w_i, element by element (synapse i is i -> i).

    Needs no structure (one-to-one connectivity). Cost per step: O(n), whatever the
    firing rate. Elements are independent (parallel).
    """
    for i in range(data.n_post):
        g[i] += g.dtype.type(events[i]) * _weight_at(data.weight, i)
    return g


register("one2one", prepare=prepare, deliver=deliver, conductance=post_is_state)
