"""pre2post on NumPy: per-neuron post lists, state per post neuron."""

import numpy as np

from . import kernel_data, post_is_state, register, scaled, scatter_add


def prepare(conn, weight, dtype):
    data = kernel_data(conn, weight, dtype, "pre2post", add=scatter_add(conn))
    if data.weight.ndim:  # per-synapse weights, split per pre like the post lists
        data.weight_lists = np.split(data.weight, np.cumsum([len(p) for p in data.pre2post])[:-1])
    return data


def deliver(data, g, events):
    """Loop over the pre neurons with an event, adding their weights to their targets.

    Needs ``pre2post``. Cost per step: one Python iteration per spike. A target listed
    twice (multapses) gets both weights: ``data.add`` is ``np.add.at`` then.
    """
    for pre in np.flatnonzero(events):
        w = data.weight if data.weight.ndim == 0 else data.weight_lists[pre]
        data.add(g, data.pre2post[pre], scaled(w, events, pre))
    return g


register("pre2post", prepare=prepare, deliver=deliver, conductance=post_is_state)
