"""csr on JAX: the library sparse mat-vec (``jax.experimental.sparse.BCSR``) on W^T."""

import jax.numpy as jnp
import numpy as np
from jax.experimental import sparse as jsparse

from ...core.registry import as_weight
from . import KernelData, make_data, post_is_state, precision, register


def prepare(conn, weight, dtype, max_spikes=None):
    (indptr, pre_by_post), post_order = conn.require("csc", "post_order")
    w = as_weight(weight, conn.n_syn, dtype)
    values = np.broadcast_to(w, (conn.n_syn,))[post_order]
    # The CSC of W is the CSR of W^T (rows = post neurons, pre ids ascending in each):
    # the per-step product is a plain CSR mat-vec.
    with precision(dtype):
        matrix_t = jsparse.BCSR(
            (jnp.asarray(values), jnp.asarray(pre_by_post, jnp.int32),
             jnp.asarray(indptr, jnp.int32)),
            shape=(conn.n_post, conn.n_pre), indices_sorted=True,
            unique_indices=not conn.has_multapses)  # a pair's synapses share a column
    data = make_data(conn, weight, dtype, {}, max_spikes)
    return KernelData(data._arrays | {"matrix_t": matrix_t}, data._static)


def deliver(data, g, events):
    """g += W^T events.

    Needs ``csc`` and ``post_order`` (as the BCSR ``matrix_t`` [n_post, n_pre]).
    Cost per step: O(n_post + n_syn) whatever the firing rate; XLA lowers the mat-vec
    to a gather and a sorted segment sum over rows.
    """
    return g + data.matrix_t @ events.astype(g.dtype)


register("csr", prepare=prepare, deliver=deliver, conductance=post_is_state)
