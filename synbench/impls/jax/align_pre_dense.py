"""align_pre_dense on JAX: state per pre neuron, a dense mat-vec (``jnp.dot``) onto posts."""

import jax.numpy as jnp
from jax import lax

from . import register, weight_matrix
from .align_pre_csr import deliver


def conductance(data, state):
    """g_post = W^T state: one dense mat-vec over the whole weight matrix, at full
    precision (no TF32 on GPUs).

    Needs ``conn_mat`` (as ``weight_matrix`` [n_pre, n_post], zero where no synapse);
    state [n_pre]. Cost per step: O(n_pre * n_post), whatever the firing rate.
    """
    return jnp.dot(state, data.weight_matrix, precision=lax.Precision.HIGHEST)


register("align_pre_dense", prepare=weight_matrix, deliver=deliver, conductance=conductance)
