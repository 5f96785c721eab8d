"""pre2syn on NumPy: per-neuron synapse lists, walked in Python."""

import numpy as np

from . import kernel_data, register, scaled


def prepare(conn, weight, dtype):
    return kernel_data(conn, weight, dtype, "pre2syn", "post2syn")


def conductance(data, g):
    """Each post neuron sums the synapses of its list."""
    out = np.zeros(data.n_post, dtype=data.dtype)
    for post, syns in enumerate(data.post2syn):
        out[post] = g[syns].sum()
    return out


def deliver(data, g, events):
    """Loop over the pre neurons with an event, adding to the synapses of their list.

    Needs ``pre2syn`` and ``post2syn``. Cost per step: one Python iteration per spike,
    and one per post neuron for the conductance: the loop over lists is the lesson.
    """
    for pre in np.flatnonzero(events):
        syns = data.pre2syn[pre]
        g[syns] += scaled(data.weight if data.weight.ndim == 0 else data.weight[syns],
                          events, pre)
    return g


register("pre2syn", prepare=prepare, deliver=deliver, conductance=conductance)
