"""dense_post on JAX: the dense weight matrix, state per post neuron, one ``jnp.dot``."""

import jax.numpy as jnp
from jax import lax

from . import post_is_state, register, weight_matrix


def deliver(data, g, events):
    """g + W^T events: one dense mat-vec over the whole weight matrix, at full precision
    (no TF32 on GPUs).

    Needs ``conn_mat`` (as ``weight_matrix`` [n_pre, n_post], zero where no synapse);
    g [n_post]. Cost per step: O(n_pre * n_post), whatever the firing rate.
    """
    return g + jnp.dot(events.astype(g.dtype), data.weight_matrix,
                       precision=lax.Precision.HIGHEST)


register("dense_post", prepare=weight_matrix, deliver=deliver, conductance=post_is_state)
