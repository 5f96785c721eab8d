"""one2one on NumPy: no index arrays, pre neuron i onto post neuron i alone."""

from types import SimpleNamespace

import numpy as np

from ...core.registry import as_weight
from . import post_is_state, register


def prepare(conn, weight, dtype):
    """The sizes and the weight: one for all, or one per synapse (synapse i is i -> i)."""
    return SimpleNamespace(
        n_pre=conn.n_pre, n_post=conn.n_post, n_syn=conn.n_syn, dtype=np.dtype(dtype),
        weight=as_weight(weight, conn.n_syn, dtype),
    )


def deliver(data, g, events):
    """g[i] += events[i] * w_i, elementwise (a spike adds exactly its weight).

    Needs no structure (one-to-one connectivity). Cost per step: O(n), whatever the
    firing rate. Vectorised.
    """
    g += events * data.weight
    return g


register("one2one", prepare=prepare, deliver=deliver, conductance=post_is_state)
