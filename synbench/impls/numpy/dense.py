"""dense on NumPy: every matrix element, every step (the reference)."""


from . import register, weight_matrix


def column_sums(data, g):
    """g_post[j] = sum over pre i of g[i, j]."""
    return g.sum(axis=0)


def deliver(data, g, events):
    """Add each pre neuron's row of weights, times its event, to every element.

    Needs ``conn_mat`` (as a weight matrix). Cost per step: O(n_pre * n_post),
    whatever the firing rate. Vectorised.
    """
    g += events[:, None] * data.weight_matrix
    return g


register("dense", prepare=weight_matrix, deliver=deliver, conductance=column_sums)
