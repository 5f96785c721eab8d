"""event_dense_post on NumPy: the rows of W of the spiking pre neurons, summed onto g."""

import numpy as np

from . import post_is_state, register, weight_matrix


def deliver(data, g, events):
    """Add the weight rows of the pre neurons with an event (times their amplitude).

    Needs ``conn_mat`` (as a weight matrix). Cost per step: O(n_pre) to find the events,
    then O(n_spikes * n_post) for their rows. Vectorised.
    """
    spiking = np.flatnonzero(events)
    rows = data.weight_matrix[spiking]
    g += rows.sum(axis=0) if events.dtype == np.bool_ else events[spiking] @ rows
    return g


register("event_dense_post", prepare=weight_matrix, deliver=deliver, conductance=post_is_state)
