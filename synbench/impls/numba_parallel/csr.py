"""csr on Numba, threaded: the Numba kernels' row loop (``prange``) on every thread; each
post neuron sums its own row, in the serial order."""

from ..numba import csr, post_is_state
from . import register, threaded

register("csr", prepare=csr.prepare, deliver=threaded(csr.deliver),
         conductance=post_is_state, step=threaded(csr.step))
