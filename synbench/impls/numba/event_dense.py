"""event_dense on Numba: the rows of the spiking pre neurons only."""

from . import jit, register, spiking
from .dense import column_sums, prepare


@jit
def deliver(data, g, events):
    """Add the weight rows of the pre neurons with an event ("mat 2").

    Needs ``conn_mat``. Cost per step: O(n_spikes * n_post) for the events; the decay
    and the column sums still cost O(n_pre * n_post). Rows are independent.
    """
    w = data.weight_matrix
    for i in spiking(events):
        a = g.dtype.type(events[i])
        for j in range(data.n_post):
            g[i, j] += a * w[i, j]
    return g


register("event_dense", prepare=prepare, deliver=deliver, conductance=column_sums)
