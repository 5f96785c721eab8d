"""dense on Numba, threaded: every matrix element, every step, rows split over the threads."""

from numba import prange

from ..numba import zeroed
from ..numba.dense import prepare
from . import block, jit, num_threads, register


@jit
def column_sums(data, g, out=None):
    """g_post[j] = sum over pre i of g[i, j], row after row (NumPy's order for axis 0).

    Parallel over blocks of columns (post neurons), one per thread, each adding the rows
    in order: every column's sum in the serial order.
    """
    out = zeroed(data, g, out)
    n_blocks = num_threads()
    for b in prange(n_blocks):
        lo, hi = block(data.n_post, b, n_blocks)
        for i in range(data.n_pre):
            for j in range(lo, hi):
                out[j] += g[i, j]
    return out


@jit
def deliver(data, g, events):
    """Add each pre neuron's row of weights, times its event, to every element ("mat 1").

    Needs ``conn_mat`` (as a weight matrix). Cost per step: O(n_pre * n_post),
    whatever the firing rate, split over the threads. Parallel over rows: each element
    is written by one thread.
    """
    w = data.weight_matrix
    for i in prange(data.n_pre):
        a = g.dtype.type(events[i])
        for j in range(data.n_post):
            g[i, j] += a * w[i, j]
    return g


@jit
def step(data, g, spikes, decay):
    """``deliver`` fused with the decay: one pass over the matrix, rows split over the
    threads."""
    w = data.weight_matrix
    for i in prange(data.n_pre):
        for j in range(data.n_post):
            g[i, j] = g[i, j] * decay + spikes[i] * w[i, j]
    return g


register("dense", prepare=prepare, deliver=deliver, conductance=column_sums, step=step)
