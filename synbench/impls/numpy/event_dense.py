"""event_dense on NumPy: the rows of the spiking pre neurons only."""

import numpy as np

from . import register, scaled, weight_matrix
from .dense import column_sums


def deliver(data, g, events):
    """Add the weight rows of the pre neurons with an event ("mat 2").

    Needs ``conn_mat``. Cost per step: O(n_spikes * n_post) for the events; the decay
    and the column sums still cost O(n_pre * n_post). Vectorised.
    """
    spiking = np.flatnonzero(events)
    g[spiking] += scaled(data.weight_matrix[spiking], events, (spiking, None))
    return g


register("event_dense", prepare=weight_matrix, deliver=deliver, conductance=column_sums)
