"""dense on Numba, threaded: every matrix element, every step, rows split over the threads."""

from numba import prange

from ..numba import dense, zeroed
from . import block, jit, num_threads, register, threaded


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


# deliver and step: the Numba kernels' row loop (``prange``) on every thread.
register("dense", prepare=dense.prepare, deliver=threaded(dense.deliver),
         conductance=column_sums, step=threaded(dense.step))
