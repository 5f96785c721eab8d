"""dense_post on NumPy: the dense weight matrix, state per post neuron, one BLAS gemv."""

from . import post_is_state, register, weight_matrix


def deliver(data, g, events):
    """g += W^T events: one dense mat-vec (BLAS gemv) over the whole weight matrix.

    Needs ``conn_mat`` (as a weight matrix). Cost per step: O(n_pre * n_post), whatever
    the firing rate. Vectorised.
    """
    g += events.astype(data.dtype, copy=False) @ data.weight_matrix
    return g


register("dense_post", prepare=weight_matrix, deliver=deliver, conductance=post_is_state)
