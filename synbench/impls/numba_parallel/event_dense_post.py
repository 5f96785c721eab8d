"""event_dense_post on Numba, threaded: the rows of W of the spiking pre neurons, each
thread adding its own columns."""

from numba import prange

from ..numba import post_is_state, spiking
from ..numba.dense import prepare
from . import block, calls, jit, num_threads, register


@jit
def _onto_blocks(data, g, events, decay, with_decay):
    """Each thread decays (``with_decay``) its block [lo, hi) of post neurons, then adds
    the columns lo..hi of the rows of the pre neurons with an event, in increasing order."""
    w = data.weight_matrix
    n_blocks = num_threads()
    for b in prange(n_blocks):
        lo, hi = block(data.n_post, b, n_blocks)
        if with_decay:
            for j in range(lo, hi):
                g[j] *= decay
        for i in spiking(events):
            a = g.dtype.type(events[i])
            for j in range(lo, hi):
                g[j] += a * w[i, j]
    return g


@calls
def deliver(data, g, events):
    """Each pre neuron with an event adds its row of weights, times its event, onto
    the post neurons; the rows of the others are not read.

    Needs ``conn_mat`` (as a weight matrix). Cost per step: O(n_pre / 8) per thread to
    find the events, then O(n_post) per spike over contiguous memory, split over the
    threads. Parallel over blocks of columns (post neurons), one per thread, each
    walking the spiking rows in increasing order: the serial kernel's additions, in its
    order.
    """
    return _onto_blocks(data, g, events, 1.0, False)


@calls
def step(data, g, spikes, decay):
    """``deliver`` fused with the decay: each thread decays its own columns, then adds onto
    them."""
    return _onto_blocks(data, g, spikes, decay, True)


register("event_dense_post", prepare=prepare, deliver=deliver, conductance=post_is_state,
         step=step)
