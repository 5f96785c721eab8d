"""event_dense_post on Numba: the rows of W of the spiking pre neurons, added onto g."""

from . import jit, post_is_state, register, spiking
from .dense import prepare


@jit
def deliver(data, g, events):
    """Each pre neuron with an event adds its row of weights, times its event, onto
    the post neurons; the rows of the others are not read.

    Needs ``conn_mat`` (as a weight matrix). Cost per step: O(n_pre / 8) to find the
    events, then O(n_post) per spike over contiguous memory. Serial.
    """
    w = data.weight_matrix
    for i in spiking(events):
        a = g.dtype.type(events[i])
        for j in range(data.n_post):
            g[j] += a * w[i, j]
    return g


register("event_dense_post", prepare=prepare, deliver=deliver, conductance=post_is_state)
