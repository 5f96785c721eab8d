"""post_slice on Numba, threaded: the Numba kernels' loops (``prange``) on every thread;
each synapse is written by one thread, and each post neuron sums its own slice in the
serial order."""

from ..numba import post_slice
from . import register, threaded

register("post_slice", prepare=post_slice.prepare, deliver=threaded(post_slice.deliver),
         conductance=threaded(post_slice.conductance), step=threaded(post_slice.step))
