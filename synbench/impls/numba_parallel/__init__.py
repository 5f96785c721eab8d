"""Numba on every core: the Numba backend's strategies as multi-threaded loops
(``@numba.njit(parallel=True)``, ``numba.prange``).

The number of threads is ``numba.get_num_threads()``: all the cores by default, fewer
with ``NUMBA_NUM_THREADS`` (before Numba is imported; it is also the most a process may
use) or ``numba.set_num_threads(n)`` (any time, for the calls that follow, from Python
or inside the user's ``@njit`` loop). The data, the states and the kernel API are the
Numba backend's (``synbench.impls.numba``); each strategy module here imports that
strategy's ``prepare`` and rewrites only the loops that a thread count changes.

How the work is split (DESIGN section 8): no two threads ever write the same element,
and every element receives its additions in the order of the serial Numba kernel, so
the results are **bit-identical to the serial Numba kernels whatever the thread count**
(floating-point sums are not associative: a split that reordered them would change the
last bits; none of these does). Each kernel's docstring says how it splits:

- *scatter onto post neurons* (pre_slice, pre2post, event_dense_post, bitmask,
  procedural, all2all, one2one): the post neurons are cut into one contiguous block per
  thread (:func:`block`); each thread walks the spiking pre neurons in increasing order,
  as the serial kernel does, and adds only onto its own block. A pre neuron's targets
  are sorted (pre_slice, pre2post), so a thread finds its part of them by binary
  search; a bitmask or weight-matrix row by its columns; procedural's targets are not
  sorted, so its rows are generated once, in parallel, and each thread reads them all;
- *gathers* (csr, align_pre_csr, the conductance of post_slice and pre2syn): one post
  neuron per iteration, its own sum in the serial order;
- *a state per synapse or matrix element* (pre_ids, post_slice, pre2syn, dense,
  event_dense, align_pre_*): each element is written by one thread; the sums onto post
  neurons are split by post neuron (pre_ids' through the post-major order, each post
  neuron summing its synapses in increasing canonical index, the serial scatter's order),
  the matrix column sums by blocks of columns, rows in order;
- ``step`` (decay then deliver) decays in the same pass where the blocks allow it, else
  in a parallel pass of its own (:func:`decayed`).

Not split: all2all's sum of the events (O(n_pre), one thread: a split sum would round
otherwise), dense_post's mat-vec (the serial kernel's BLAS ``np.dot``: a plain loop
would round otherwise; BLAS has threads of its own) and the delay mechanisms (the
serial Numba ones, ``delays``). Every parallel loop costs a few microseconds to start,
at every thread count, ``set_num_threads(1)`` included: for small networks the serial
``numba`` backend is faster.

>>> import numpy as np
>>> from synbench import FixedProb, registry
>>> entry = registry.get("pre_slice", "numba_parallel")
>>> data = entry.prepare(FixedProb(0.1, seed=0).build(100, 50), 0.5, "float64")
>>> g = entry.step(data, entry.init_state(data), np.ones(100, bool), 0.98)
>>> serial = registry.get("pre_slice", "numba")
>>> bool((g == serial.step(data, serial.init_state(data), np.ones(100, bool), 0.98)).all())
True
"""

from __future__ import annotations

import contextlib

import numba
import numpy as np
from numba import prange

from ...core.errors import SynbenchError
from .. import import_strategies
from ..numba import (
    _weight_at,
    asarray,
    free_memory,
    spiking,
    synchronize,
    to_numpy,
    with_globals,
)
from ..numba import register as _register_numba

BACKEND = "numba_parallel"

# Start Numba's threads now. A cached function with no parallel loop of its own (the
# checked kernels, the runner's chunk, the user's ``@njit(cache=True)`` loop) that calls
# these kernels has their parallel code compiled in, but Numba starts the threads only
# when it loads a cached function *with* parallel loops: loaded first, such a caller
# would launch a parallel loop with no threads started and crash (Numba 0.68).
numba.get_num_threads()

#: The decorator of every kernel here: compiled with the parallel loops, cached on disk
#: (in synbench's cache directory, as the Numba backend's).
jit = numba.njit(cache=True, parallel=True)
#: The decorator of a function that only calls parallel kernels (``step`` as the decay
#: then ``deliver``): Numba warns of ``parallel=True`` on a function with no loop of its own.
calls = numba.njit(cache=True)


def register(name, **kernels):
    """Register strategy ``name`` on ``numba_parallel``: the Numba backend's
    :func:`synbench.impls.numba.register` (its checked kernels, its ``init_state``)."""
    return _register_numba(name, backend=BACKEND, **kernels)


try:  # the thread count as Numba's own parallel loops read it: code that can be cached
    from numba.np.ufunc.parallel import _iget_num_threads as _num_threads
except ImportError:  # pragma: no cover - a Numba without it: the public call, never cached
    _num_threads = numba.get_num_threads


@numba.njit(inline="always")
def num_threads():
    """``numba.get_num_threads()`` in compiled code: the threads of the next parallel loop,
    one block of work each. (Numba's public call reaches the threading library through a
    pointer of this process, so that no function calling it could be cached on disk.)"""
    return _num_threads()


#: Weight of synapse ``k`` (the Numba backend's, for any integer ``k``).
weight_at = _weight_at


def threaded(kernel):
    """A serial Numba kernel whose loops are already ``numba.prange`` (each iteration
    writes its own elements; ``prange`` runs as ``range`` there) compiled with those
    loops on every thread: one kernel, two backends. Named apart from the serial one,
    so that Numba's disk cache never hands one for the other."""
    copy = with_globals(kernel.py_func)
    copy.__qualname__ += ",parallel"
    return jit(copy)


@numba.njit(inline="always")
def block(n, b, n_blocks):
    """[lo, hi) of block ``b`` of ``range(n)`` cut into ``n_blocks`` contiguous blocks
    (sizes differ by one at most; empty where n < n_blocks). ``b`` may be a ``prange``
    index, which Numba may type unsigned: it is taken as an int64."""
    b = np.int64(b)
    return b * n // n_blocks, (b + 1) * n // n_blocks


@numba.njit(inline="always")
def pre_block(n, b, n_blocks):
    """:func:`block` of ``range(n)`` on whole 64-bit words (multiples of 8), so that
    ``spiking(events[lo:hi])`` reads them as words."""
    n_words = (n + 7) // 8
    lo, hi = block(n_words, b, n_blocks)
    return 8 * lo, min(8 * hi, n)


@jit
def decayed(state, decay):
    """``state *= decay`` element by element, split over the threads (contiguous)."""
    flat = state.reshape(state.size)
    for k in prange(flat.size):
        flat[k] *= decay
    return state


@calls
def spike_list(events):
    """The indices of the neurons with an event, in increasing order (an int64 array)."""
    n = 0
    for _ in spiking(events):
        n += 1
    found = np.empty(n, np.int64)
    n = 0
    for i in spiking(events):
        found[n] = i
        n += 1
    return found


def thread_count(threads=None) -> int:
    """The threads a run will use: ``threads`` checked, None giving Numba's default (all
    the cores, or ``NUMBA_NUM_THREADS``), which is also the most a process may use."""
    most = numba.config.NUMBA_NUM_THREADS
    if threads is None:
        return numba.get_num_threads()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise SynbenchError(f"threads must be a positive whole number, not {threads!r}")
    if threads > most:
        raise SynbenchError(
            f"{threads} threads asked for, but this process may use at most {most} "
            f"(NUMBA_NUM_THREADS, {most} here): start Python with "
            f"NUMBA_NUM_THREADS={threads} for more (threads beyond the cores share them)")
    return int(threads)


@contextlib.contextmanager
def using_threads(count: int):
    """The parallel loops called inside run on ``count`` threads; the count before after."""
    before = numba.get_num_threads()
    numba.set_num_threads(count)
    try:
        yield count
    finally:
        numba.set_num_threads(before)


from ..numba.runner import Simulation as _Serial  # noqa: E402


class Simulation(_Serial):
    """The Numba runner (``synbench.impls.numba.runner``) on every thread: the neuron
    update, the decays and this backend's kernels run in parallel loops, each element
    written by one thread (the monitor and the delay mechanisms stay serial)."""

    parallel = True


import_strategies(__name__, __path__)

__all__ = ["Simulation", "asarray", "block", "calls", "decayed", "free_memory", "jit",
           "num_threads", "pre_block", "register", "spike_list", "synchronize",
           "thread_count", "threaded", "to_numpy", "using_threads", "weight_at"]
