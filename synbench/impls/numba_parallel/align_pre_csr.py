"""align_pre_csr on Numba, threaded: the Numba kernels' loops (``prange``) on every
thread; each pre neuron's state, and each post neuron's sum of its own CSC slice (in the
serial order), is written by one thread."""

from ..numba import align_pre_csr
from . import register, threaded

deliver = threaded(align_pre_csr.deliver)
step = threaded(align_pre_csr.step)
conductance = threaded(align_pre_csr.conductance)

register("align_pre_csr", prepare=align_pre_csr.prepare, deliver=deliver, step=step,
         conductance=conductance)
