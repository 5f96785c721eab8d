"""Numba backend: the strategies as compiled loops, and a runner compiled whole.

Every kernel is an ``@numba.njit`` function that reads like the seed tutorial's loops,
one idea each: the loop over synapses, over spiking neurons, over per-neuron lists.
``data`` is a namedtuple of arrays (and, for pre2syn / pre2post, ``numba.typed.List``
of per-neuron arrays, since the lists are the lesson), so the kernels can be called
from Python or from the user's own ``@njit`` loop:

>>> import numba, numpy as np
>>> from synbench import FixedProb, registry
>>> entry = registry.get("pre_slice", "numba")
>>> step, deliver, conductance = entry.step, entry.deliver, entry.conductance
>>> data = entry.prepare(FixedProb(0.1, seed=0).build(100, 50), 0.5, "float64")
>>> @numba.njit
... def trace(data, g, spike_train, decay):
...     out = np.empty((spike_train.shape[0], data.n_post))
...     for t in range(spike_train.shape[0]):
...         g = step(data, g, spike_train[t], decay)
...         out[t] = conductance(data, g)
...     return out
>>> trace(data, entry.init_state(data), np.zeros((10, 100), bool), 0.98).shape
(10, 50)
>>> @numba.njit
... def add_scaled(data, g, spike_train, amplitude):
...     for t in range(spike_train.shape[0]):
...         g = deliver(data, g, spike_train[t] * amplitude)  # float events, no decay
...     return g
>>> add_scaled(data, entry.init_state(data), np.ones((2, 100), bool), 0.5).shape
(50,)

Kernel API (``synbench.core.registry.Entry``): ``prepare(conn, weight, dtype) -> data``,
``init_state(data) -> state``, ``deliver(data, state, events) -> state`` (in place),
``conductance(data, state, out=None) -> g_post`` and the one-call form for exponential
synapses ``step(data, state, spikes, decay) -> state`` (in place). ``events`` is a bool
spike array of the pre group (a spike is amplitude 1) or one float amplitude per pre
neuron, of the state's dtype (float64 or float32); ``decay`` is a scalar. Where the state
lives on post neurons the conductance *is* the state (no copy); otherwise it is summed
into ``out``, a new array unless one is given (the runner gives one, so its step loop
allocates nothing).

One module per strategy registers its functions with :func:`register`. ``step`` is
``state *= decay`` then ``deliver``, unless the strategy has a fused loop that decays
and adds in one pass (dense, pre_ids, post_slice, csr): the same numbers, one pass
over memory instead of two.

Event-driven kernels walk ``for i in spiking(events)``, the tutorial's ``for i in
range(n_pre): if spikes[i]:`` reading 8 neurons per test (usable in your code too).

The runner (:class:`Simulation`, in ``runner``) runs each chunk of steps in one compiled
call, with the strategy's kernels passed in as compiled functions. Nothing is compiled
with ``fastmath``: the loops do the NumPy runner's arithmetic in its order, so COBA's
state is bit-identical with it in float64; HH's differs in the last bit where NumPy's
SIMD ``exp`` and ``**`` round differently from libm's (the rasters agree). Kernels are
cached on disk (``cache=True``); a composed ``step`` (:func:`decay_then`) and the
runner's chunk function cannot be, so they compile once per process.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import typed

from ...core import registry, strategies
from ...core.connect import available_memory
from ...core.registry import as_weight
from ...core.strategies import state_shape
from .. import import_strategies

free_memory = available_memory
jit = numba.njit(cache=True)


def asarray(x):
    return np.asarray(x)


def synchronize(x):
    """Wait until ``x`` is computed: compiled calls return when done, so nothing to wait for."""
    return x


def to_numpy(x):
    return np.asarray(x)


def register(name, *, prepare, deliver, conductance, init_state=None, step=None, **extras):
    """Register strategy ``name`` on Numba; ``init_state`` defaults to zeros of its kind,
    ``step`` to ``state *= decay`` then ``deliver`` (:func:`decay_then`)."""
    return registry.register(
        name, "numba", prepare=prepare, deliver=deliver, conductance=conductance,
        init_state=init_state or zeros(strategies.strategy(name).state),
        step=step or decay_then(deliver), **extras)


def decay_then(deliver):
    """The compiled ``step(data, state, spikes, decay)`` of a strategy with no fused loop."""

    # Not cached: numba keys a closure's cache on a pickle of what it closes over, and
    # a compiled ``deliver`` pickles differently in every process (a cache file per run,
    # never hit). The loops are in ``deliver`` and ``decayed``, which are cached.
    @numba.njit
    def step(data, state, spikes, decay):
        return deliver(data, decayed(state, decay), spikes)

    return step


@jit
def decayed(state, decay):
    """``state *= decay``, element by element, whatever the state's shape (contiguous)."""
    flat = state.reshape(state.size)
    for k in range(flat.size):
        flat[k] *= decay
    return state


# --- data: a namedtuple per strategy, the sizes first, weights as a 1-d array ---

SIZES = ("n_pre", "n_post", "n_syn", "dtype")


def sizes(conn, dtype):
    """The values of :data:`SIZES` for ``conn``."""
    return conn.n_pre, conn.n_post, conn.n_syn, np.dtype(dtype)


def weights(conn, weight, dtype):
    """The weight as a 1-d array: size 1 for one weight shared by all, else one per synapse."""
    return np.atleast_1d(as_weight(weight, conn.n_syn, dtype))


@numba.njit(inline="always")
def _weight_at(weight, k):
    """Weight of synapse ``k``: ``weight[k]`` per synapse, ``weight[0]`` when shared."""
    return weight[k if weight.size > 1 else 0]


@numba.njit  # not cached: a generator loaded from the cache cannot be compiled into new callers
def spiking(events):
    """The indices of the neurons with an event (nonzero in ``events``), in increasing order.

    The loop ``for i in range(n_pre): if spikes[i]:`` of the tutorial. Contiguous bool
    spikes are read 8 neurons at a time as 64-bit words and silent words are skipped,
    so a step with few spikes costs about n_pre / 8 tests instead of n_pre. Float
    amplitudes (and strided arrays) are tested one by one.
    """
    n_words = 0
    if events.itemsize == 1 and events.strides[0] == 1:  # contiguous bool: by words
        n_words = events.size // 8
        words = events[:8 * n_words].view(np.uint64)
        for w in range(n_words):
            if words[w]:
                for i in range(8 * w, 8 * w + 8):
                    if events[i]:
                        yield i
    for i in range(8 * n_words, events.size):
        if events[i]:
            yield i


def typed_list(arrays):
    """A ``numba.typed.List`` of (copies of) ``arrays``, filled in compiled code."""
    arrays = list(arrays)
    flat = np.ascontiguousarray(np.concatenate(arrays) if arrays else np.zeros(0, np.int32))
    indptr = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum([len(a) for a in arrays], out=indptr[1:])
    out = typed.List.empty_list(numba.typeof(flat))
    _fill_list(out, flat, indptr)
    return out


@jit
def _fill_list(out, flat, indptr):
    for i in range(indptr.size - 1):
        out.append(flat[indptr[i]:indptr[i + 1]].copy())


# --- states and conductances ---


def zeros(state_kind: str):
    """``init_state`` for a state held per matrix element, synapse, post or pre neuron."""
    def init_state(data):
        return np.zeros(state_shape(state_kind, data), dtype=data.dtype)

    return init_state


@jit
def post_is_state(data, g, out=None):
    """The conductance of a post-state strategy: the state itself."""
    return g


@jit
def zeroed(data, g, out):
    """``out`` set to zero, or a new zero (n_post,) array of the state's dtype."""
    if out is None:
        return np.zeros(data.n_post, data.dtype)
    out[:] = 0
    return out


from .runner import Simulation  # noqa: E402

import_strategies(__name__, __path__)

__all__ = ["Simulation", "asarray", "free_memory", "register", "spiking", "synchronize",
           "to_numpy"]
