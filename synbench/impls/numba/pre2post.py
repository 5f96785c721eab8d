"""pre2post on Numba: per-neuron post lists (``numba.typed.List``), state per post neuron."""

from collections import namedtuple

import numpy as np

from . import SIZES, _weight_at, jit, post_is_state, register, sizes, spiking, typed_list, weights

Pre2PostData = namedtuple("Pre2PostData", SIZES + ("pre2post", "weights"))


def prepare(conn, weight, dtype):
    pre2post = conn.require("pre2post")
    w = weights(conn, weight, dtype)
    if w.size > 1:  # per synapse: split per pre like the post lists
        per_pre = np.split(w, np.cumsum([len(p) for p in pre2post])[:-1])
    else:  # one shared weight: every pre neuron's list is that one value
        per_pre = [w] * conn.n_pre
    return Pre2PostData(*sizes(conn, dtype), typed_list(pre2post), typed_list(per_pre))


@jit
def deliver(data, g, events):
    """Each pre neuron with an event adds its weights to its targets.

    Needs ``pre2post`` (``numba.typed.List`` of arrays, with per-pre weight lists).
    Cost per step: O(fan-out) per spike. Serial (two spikers may share a target).
    """
    for i in spiking(events):
        a = g.dtype.type(events[i])
        targets, w = data.pre2post[i], data.weights[i]
        for m in range(targets.size):
            g[targets[m]] += a * _weight_at(w, m)
    return g


register("pre2post", prepare=prepare, deliver=deliver, conductance=post_is_state)
