"""csr on Numba: a row-wise sparse mat-vec with the transpose W^T stored once."""

from collections import namedtuple

import numpy as np
from numba import prange

from . import SIZES, jit, post_is_state, register, sizes, weights

CsrData = namedtuple("CsrData", SIZES + ("indptr", "indices", "values"))


def prepare(conn, weight, dtype):
    # The CSC of W is the CSR of W^T (post rows, pre ascending within each): the step
    # is a row-wise mat-vec. Its weights are the per-synapse weights in post-major order.
    indptr, pre_by_post = conn.require("csc")
    w = np.broadcast_to(weights(conn, weight, dtype), (conn.n_syn,))
    values = np.ascontiguousarray(w[conn.require("post_order")])
    return CsrData(*sizes(conn, dtype), indptr, pre_by_post, values)


@jit
def deliver(data, g, events):
    """Sparse mat-vec g += W^T events, with W^T stored as CSR (post rows).

    Needs ``csc`` (and ``post_order`` for the weights). Cost per step: O(n_post + n_syn),
    whatever the firing rate: every row is walked. Parallel over post neurons.
    """
    for j in prange(data.n_post):
        acc = g.dtype.type(0)
        for k in range(data.indptr[j], data.indptr[j + 1]):
            acc += data.values[k] * events[data.indices[k]]
        g[j] += acc
    return g


@jit
def step(data, g, spikes, decay):
    """``deliver`` fused with the decay: g = decay g + W^T s, one pass over the rows."""
    for j in prange(data.n_post):
        acc = g.dtype.type(0)
        for k in range(data.indptr[j], data.indptr[j + 1]):
            acc += data.values[k] * spikes[data.indices[k]]
        g[j] = g[j] * decay + acc
    return g


register("csr", prepare=prepare, deliver=deliver, conductance=post_is_state, step=step)
