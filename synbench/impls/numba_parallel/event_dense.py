"""event_dense on Numba, threaded: the rows of the spiking pre neurons only, columns split
over the threads."""

from numba import prange

from ..numba import spiking
from ..numba.dense import prepare
from . import block, calls, decayed, jit, num_threads, register
from .dense import column_sums


@jit
def deliver(data, g, events):
    """Add the weight rows of the pre neurons with an event ("mat 2").

    Needs ``conn_mat``. Cost per step: O(n_spikes * n_post) for the events, split over
    the threads (plus O(n_pre / 8) per thread to find them); the decay and the column
    sums still cost O(n_pre * n_post), split likewise. Parallel over blocks of columns,
    one per thread: each element is written by one thread.
    """
    w = data.weight_matrix
    n_blocks = num_threads()
    for b in prange(n_blocks):
        lo, hi = block(data.n_post, b, n_blocks)
        for i in spiking(events):
            a = g.dtype.type(events[i])
            for j in range(lo, hi):
                g[i, j] += a * w[i, j]
    return g


@calls
def step(data, g, spikes, decay):
    """``state *= decay`` (:func:`decayed`, parallel), then ``deliver``."""
    return deliver(data, decayed(g, decay), spikes)


register("event_dense", prepare=prepare, deliver=deliver, conductance=column_sums, step=step)
