"""event_dense on JAX: the rows of the spiking pre neurons, selected by a mask."""

import jax.numpy as jnp

from . import register, weight_matrix
from .dense import column_sums


def deliver(data, g, events):
    """Add the weight rows of the pre neurons with an event ("mat 2").

    Needs ``conn_mat``; g [n_pre, n_post]. With fixed shapes the mask selects rows but
    cannot skip them, so this costs what ``dense`` costs, O(n_pre * n_post) per step:
    the lesson of the seed's JAX section.
    """
    rows = events[:, None]
    if events.dtype == bool:  # a spike adds its row of weights exactly
        return jnp.where(rows, g + data.weight_matrix, g)
    return jnp.where(rows != 0, g + rows * data.weight_matrix, g)


register("event_dense", prepare=weight_matrix, deliver=deliver, conductance=column_sums)
