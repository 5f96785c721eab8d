"""align_pre_dense on Numba, threaded: state per pre neuron, a dense mat-vec onto post
neurons with the columns split over the threads."""

from numba import prange

from ..numba import zeroed
from ..numba.dense import prepare
from . import block, jit, num_threads, register
from .align_pre_csr import deliver, step


@jit
def conductance(data, state, out=None):
    """g_post[j] = sum over pre i of w[i, j] * state[i], row after row (W read in order).

    Needs ``conn_mat`` (as a weight matrix). Cost per step: O(n_pre * n_post), whatever
    the firing rate, split over the threads. Parallel over blocks of columns (post
    neurons), one per thread, each adding the rows in order: every sum in the serial
    order.
    """
    out = zeroed(data, state, out)
    w = data.weight_matrix
    n_blocks = num_threads()
    for b in prange(n_blocks):
        lo, hi = block(data.n_post, b, n_blocks)
        for i in range(data.n_pre):
            for j in range(lo, hi):
                out[j] += w[i, j] * state[i]
    return out


register("align_pre_dense", prepare=prepare, deliver=deliver, conductance=conductance, step=step)
