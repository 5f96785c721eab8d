"""csr on Numba, threaded: a row-wise sparse mat-vec with W^T stored once, rows split
over the threads."""

from numba import prange

from ..numba import post_is_state
from ..numba.csr import prepare
from . import jit, register


@jit
def deliver(data, g, events):
    """Sparse mat-vec g += W^T events, with W^T stored as CSR (post rows).

    Needs ``csc`` (and ``post_order`` for the weights). Cost per step: O(n_post + n_syn),
    whatever the firing rate, split over the threads. Parallel over post neurons: each
    sums its own row, in the serial order.
    """
    for j in prange(data.n_post):
        acc = g.dtype.type(0)
        for k in range(data.indptr[j], data.indptr[j + 1]):
            acc += data.values[k] * events[data.indices[k]]
        g[j] += acc
    return g


@jit
def step(data, g, spikes, decay):
    """``deliver`` fused with the decay: g = decay g + W^T s, rows split over the threads."""
    for j in prange(data.n_post):
        acc = g.dtype.type(0)
        for k in range(data.indptr[j], data.indptr[j + 1]):
            acc += data.values[k] * spikes[data.indices[k]]
        g[j] = g[j] * decay + acc
    return g


register("csr", prepare=prepare, deliver=deliver, conductance=post_is_state, step=step)
