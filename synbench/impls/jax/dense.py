"""dense on JAX: every matrix element, every step, in one fused elementwise pass."""

from . import register, weight_matrix, weighted


def column_sums(data, g):
    """g_post[j] = sum over pre i of g[i, j]."""
    return g.sum(axis=0)


def deliver(data, g, events):
    """Add each pre neuron's row of weights, times its event, to every element ("mat 1").

    Needs ``conn_mat`` (as ``weight_matrix`` [n_pre, n_post], zero where no synapse);
    g [n_pre, n_post]. Cost per step: O(n_pre * n_post) whatever the firing rate, one
    elementwise pass, parallel over every element.
    """
    return g + weighted(events[:, None], data.weight_matrix)


register("dense", prepare=weight_matrix, deliver=deliver, conductance=column_sums)
