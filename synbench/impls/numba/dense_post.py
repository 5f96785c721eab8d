"""dense_post on Numba: the dense weight matrix, state per post neuron, every row every step."""

from . import jit, post_is_state, register
from .dense import prepare


@jit
def deliver(data, g, events):
    """g += W^T events: each pre neuron's row of weights, times its event, added onto
    the post neurons, row after row (W read in order).

    Needs ``conn_mat`` (as a weight matrix). Cost per step: O(n_pre * n_post), whatever
    the firing rate. Serial (every row adds onto every post neuron).
    """
    w = data.weight_matrix
    for i in range(data.n_pre):
        a = g.dtype.type(events[i])
        for j in range(data.n_post):
            g[j] += a * w[i, j]
    return g


register("dense_post", prepare=prepare, deliver=deliver, conductance=post_is_state)
