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
lives on post neurons the conductance *is* the state (no copy, ``out`` unused); otherwise
it is summed into ``out``, a new array unless one is given (the runner gives one, so its
step loop allocates nothing). Each kernel checks its arguments first
(:func:`checked_kernels`): the types when Numba compiles the call, the lengths when it
runs.

One module per strategy registers its functions with :func:`register`. ``step`` is
``state *= decay`` then ``deliver``, unless the strategy has a fused loop that decays
and adds in one pass (dense, pre_ids, post_slice, csr): the same numbers, one pass
over memory instead of two.

A loop whose iterations write elements of their own (csr's rows, post_slice's
synapses, dense's rows) is written ``numba.prange``: it runs as ``range`` here, and the
numba_parallel backend compiles the very same kernel with it on every thread.

Event-driven kernels walk ``for i in spiking(events)``, the tutorial's ``for i in
range(n_pre): if spikes[i]:`` reading 8 neurons per test (usable in your code too).

The runner (:class:`Simulation`, in ``runner``) runs each chunk of steps in one compiled
call, with the strategy's kernels compiled in. Nothing is compiled with ``fastmath``:
the loops do the NumPy runner's arithmetic in its order, so COBA's state is
bit-identical with it in float64; HH's differs in the last bit where NumPy's SIMD
``exp`` and ``**`` round differently from libm's (the rasters agree). Kernels are cached
on disk (``cache=True``), and so are the checked kernels and the runner's chunk
function, each with its kernels compiled in (:func:`cached_with_globals`): a second
process compiles nothing. A composed ``step`` (:func:`decay_then`), a closure, is
compiled only into those. The cache is in ``numba/``
of synbench's cache directory (``$SYNBENCH_CACHE_DIR``, else
``$XDG_CACHE_HOME/synbench``, else ``~/.cache/synbench``; ``$NUMBA_CACHE_DIR`` when
set), never in the installed package (:class:`PackageCacheLocator`); the user's own
``cache=True`` functions cache where Numba puts them.
"""

from __future__ import annotations

import functools
import hashlib
import linecache
from pathlib import Path
from types import FunctionType

import numba
import numpy as np
from numba import typed, types
from numba.core import caching
from numba.extending import overload

from ...core import registry, strategies
from ...core.cache import cache_dir
from ...core.connect import available_memory
from ...core.errors import SynbenchError
from ...core.registry import ShapeError, as_weight
from ...core.strategies import state_shape
from .. import import_strategies

free_memory = available_memory

_PACKAGE = Path(__file__).resolve().parents[2]  # synbench/


class PackageCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """Numba's cache of functions defined in synbench's own files, in ``numba/`` of
    synbench's cache directory.

    Numba's default is the ``__pycache__`` beside the source: inside an installed
    package, where pip neither records nor removes the files (a later ``pip install -e``
    then leaves a stray ``site-packages/synbench`` that shadows the checkout). One
    subfolder per source directory (Numba's own naming, a hash of the path) keeps
    installs apart; Numba's stamp of the source file still invalidates on edits.
    """

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        subpath = self.get_suitable_cache_subpath(py_file)
        self._cache_path = str(cache_dir() / "numba" / subpath)

    def get_cache_path(self):
        return self._cache_path

    @classmethod
    def from_function(cls, py_func, py_file):
        # $NUMBA_CACHE_DIR, the user's choice, wins (Numba's next locator takes it);
        # files outside synbench (the user's own functions) are left to Numba.
        if numba.config.CACHE_DIR or not Path(py_file).resolve().is_relative_to(_PACKAGE):
            return None
        return super().from_function(py_func, py_file)


# Tried first, before Numba's own locators (``_CacheImpl`` in older Numba).
_LOCATORS = getattr(caching, "CacheImpl", None) or caching._CacheImpl
if not any(c.__name__ == PackageCacheLocator.__name__ for c in _LOCATORS._locator_classes):
    _LOCATORS._locator_classes.insert(0, PackageCacheLocator)

jit = numba.njit(cache=True)


def with_globals(template, **names):
    """A copy of the function ``template`` that reads ``names`` as its globals.

    Its name carries a hash of what it reaches (:func:`_digest`): Numba names the
    compiled code after the function's qualified name and a per-process counter, and
    code loaded from the disk cache keeps the names of the process that compiled it.
    Two copies of one template under one name could then meet in the same process
    under the same symbol, and a chunk compiled now would call the copy loaded from
    the cache: the other bindings' code (Delta's jumps read from an empty array).
    """
    copy = FunctionType(template.__code__, dict(template.__globals__, **names),
                        template.__name__, template.__defaults__)
    copy.__qualname__ = f"{template.__qualname__}[{_digest([copy])}]"
    return copy


def cached_with_globals(template, label: str, depends_on=(), **names):
    """``with_globals(template, **names)`` compiled and cached on disk across processes.

    Numba cannot cache a function that gets compiled functions as arguments (it would
    hold their addresses, new in every process): bound as globals, they are compiled
    in. Numba keys its cache on a function's name and file, not on what it calls, so
    the name carries ``label`` (what was bound) and a hash of the source of every
    compiled function it reaches through ``names`` and ``depends_on``, in synbench or
    in the user's own files, and of the constants they read: an edited kernel compiles
    anew, never loads stale code.
    """
    fn = with_globals(template, **names)
    fn.__qualname__ = f"{template.__name__}[{label},{_digest([fn, *depends_on])}]"
    return numba.njit(cache=True)(fn)


def _digest(functions) -> str:
    digest = hashlib.sha256()
    for source in _sources(functions):
        digest.update(source)
    return digest.hexdigest()[:16]


def _sources(functions) -> list[bytes]:
    """The source files (generated code: its text) of ``functions`` and of every compiled
    function they reach through their globals and closures, each once, in a fixed order;
    and which functions and constants each reads from its globals (Numba compiles them
    in: a flag bound by ``with_globals`` changes the code as much as an edit does)."""
    files, constants, todo, seen = set(), set(), list(functions), set()
    while todo:
        fn = todo.pop()
        fn = getattr(fn, "py_func", fn)
        if id(fn) in seen or not isinstance(fn, FunctionType):
            continue
        seen.add(id(fn))
        files.add(fn.__code__.co_filename)
        reached = [fn.__globals__.get(name) for name in fn.__code__.co_names]
        reached += [cell.cell_contents for cell in fn.__closure__ or ()]
        todo += [f for f in reached if isinstance(f, (numba.core.dispatcher.Dispatcher,
                                                      FunctionType))]
        for name in fn.__code__.co_names:
            value = fn.__globals__.get(name)
            value = getattr(value, "py_func", value)
            if isinstance(value, FunctionType):  # which function, not only which file
                value = f"{value.__module__}.{value.__qualname__}"
            elif not isinstance(value, (bool, int, float, str)):
                continue
            constants.add(f"{fn.__code__.co_filename}:{fn.__qualname__}:{name}={value!r}")
    return [_source(name) for name in sorted(files)] + [c.encode() for c in sorted(constants)]


@functools.cache
def _source(filename: str) -> bytes:
    path = Path(filename)
    return path.read_bytes() if path.is_file() else "".join(linecache.getlines(filename)).encode()


def asarray(x):
    return np.asarray(x)


def synchronize(x):
    """Wait until ``x`` is computed: compiled calls return when done, so nothing to wait for."""
    return x


def to_numpy(x):
    return np.asarray(x)


def register(name, *, prepare, deliver, conductance, step=None, backend="numba", **extras):
    """Register strategy ``name`` on Numba, its kernels behind the checks of their
    arguments (:func:`checked_kernels`).

    ``init_state`` gives zeros of the strategy's state kind; ``step`` defaults to
    ``state *= decay`` then ``deliver`` (:func:`decay_then`). ``backend`` is the name
    registered: another backend of compiled Numba kernels (``numba_parallel``) shares
    these checks, under keys and cache names of its own.
    """
    kind = strategies.strategy(name).state
    step = step or decay_then(deliver)
    return registry.register(
        name, backend, prepare=prepare, init_state=zeros(kind),
        **checked_kernels(name, kind, deliver, step, conductance, backend), **extras)


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


# --- the kernels' arguments checked, in compiled code ---


def checked_kernels(name: str, kind: str, deliver, step, conductance,
                    backend: str = "numba") -> dict:
    """Compiled ``deliver``, ``step`` and ``conductance`` of strategy ``name`` on
    ``backend`` that check their arguments first.

    The rules are ``registry.checked_kernels``' (a kernel must never read or write past
    an array's end), checked where they cost nothing: the types (ndim, dtype) when Numba
    compiles a call, so that no kernel is compiled for types it cannot take, and the
    lengths, a few integer comparisons, when it runs. Both raise a SynbenchError. They
    stay dispatchers, so they run inside the user's ``@njit`` loop and in the runner, and
    they are cached on disk with the kernels compiled in (:func:`cached_with_globals`).
    """
    key = kernel_key(name, backend)
    _UNCHECKED.update({(key, "deliver"): deliver, (key, "step"): step,
                       (key, "conductance"): conductance})

    def checked(template):
        return cached_with_globals(template, key, depends_on=(deliver, step, conductance),
                                   strategy=key, state_kind=kind)

    # The runner builds its own data and states, so it calls the kernels unchecked.
    return {"deliver": checked(_checked_deliver), "step": checked(_checked_step),
            "conductance": checked(_checked_conductance), "unchecked": (step, deliver, conductance)}


def kernel_key(name: str, backend: str = "numba") -> str:
    """The name of strategy ``name``'s kernels on ``backend`` in :data:`_UNCHECKED` and in
    the checked kernels' cache names: the strategy's name on ``numba``, prefixed with the
    backend's on another (``numba_parallel.pre_slice``), so that no two backends' kernels
    of one strategy meet under one key or one cached function."""
    return name if backend == "numba" else f"{backend}.{name}"


#: Each strategy's unchecked kernels, by (:func:`kernel_key`, "deliver" | "step" |
#: "conductance"): the checks below call them by name, so that no compiled function is
#: passed as a value (which would keep Numba from caching the checked kernels).
_UNCHECKED = {}

# What the templates of the checked kernels call: bound per strategy by checked_kernels
# (``strategy`` is the kernels' :func:`kernel_key`).
strategy = state_kind = None


def _checked_deliver(data, state, events):
    return _deliver_checked(strategy, state_kind, data, state, events)


def _checked_step(data, state, spikes, decay):
    return _step_checked(strategy, state_kind, data, state, spikes, decay)


def _checked_conductance(data, state, out=None):
    return _conductance_checked(strategy, state_kind, data, state, out)


def _state_shape_check(kind: str, shape_of):
    """A compiled check that a state has the shape ``shape_of(data)`` of its ``kind``."""
    @numba.njit
    def check(data, state):
        if state.shape != shape_of(data):
            raise ShapeError("state", shape_of(data), state.shape, kind)

    return check


#: The shape of a state of each kind, compiled (``strategies.state_shape``), and its check.
_STATE_SHAPES = {
    "matrix": numba.njit(lambda data: (data.n_pre, data.n_post)),
    "synapse": numba.njit(lambda data: (data.n_syn,)),
    "post": numba.njit(lambda data: (data.n_post,)),
    "pre": numba.njit(lambda data: (data.n_pre,)),
}
_STATE_SHAPE_CHECKS = {kind: _state_shape_check(kind, shape_of)
                       for kind, shape_of in _STATE_SHAPES.items()}


def _float_type(data, state):
    """The float type of ``data`` (its ``dtype`` field) as Numba sees it, else the state's."""
    fields = getattr(data, "fields", ())
    if "dtype" in fields and isinstance(data.types[fields.index("dtype")], types.DType):
        return data.types[fields.index("dtype")].dtype
    return getattr(state, "dtype", None)


def _array_problem(name, typ, ndim, dtypes, hint="") -> str | None:
    """Why an argument of Numba type ``typ`` cannot be the ``ndim``-d array ``name``, or None."""
    if not isinstance(typ, types.Array) or typ.ndim != ndim:
        return f"{name} must be a {ndim}-d array, not {typ}"
    if typ.dtype not in dtypes:
        return f"{name} must have dtype {' or '.join(map(str, dtypes))}, not {typ.dtype}{hint}"
    return None


def _state_problem(kind, data, state) -> str | None:
    problem = _array_problem("state", state, 2 if kind == "matrix" else 1,
                             (_float_type(data, state),))
    if problem is None and not (state.mutable and state.layout == "C"):
        problem = f"state must be a writable C-contiguous array (updated in place), not {state}"
    return problem


def _out_problem(data, out) -> str | None:
    problem = _array_problem("out", out, 1, (_float_type(data, out),))
    if problem is None and not (out.mutable and out.layout == "C"):
        problem = f"out must be a writable C-contiguous array, not {out}"
    return problem


def _events_problem(data, state, events, name="events") -> str | None:
    dtype = _float_type(data, state)
    return _array_problem(name, events, 1, (types.bool_, dtype),
                          f": pass bool spikes or {dtype} amplitudes (the data's dtype)")


def _deliver_checked(name, kind, data, state, events):
    """Strategy ``name``'s ``deliver(data, state, events)``, checked (compiled only)."""


def _step_checked(name, kind, data, state, spikes, decay):
    """Strategy ``name``'s ``step(data, state, spikes, decay)``, checked (compiled only)."""


def _conductance_checked(name, kind, data, state, out):
    """Strategy ``name``'s ``conductance(data, state[, out])``, checked (compiled only)."""


# Each of these typing functions returns, for argument types a kernel cannot take, an
# implementation that only raises (the kernel is never compiled for them); else one that
# compares the lengths, raising ``registry.ShapeError`` with them, then calls the kernel.


@overload(_deliver_checked, prefer_literal=True)
def _deliver_checked_typed(name, kind, data, state, events):
    if not isinstance(name, types.StringLiteral):  # Numba's second try, without literals
        return None
    deliver = _UNCHECKED[name.literal_value, "deliver"]
    kind_name = kind.literal_value
    check_state = _STATE_SHAPE_CHECKS[kind_name]
    problem = _state_problem(kind_name, data, state) or _events_problem(data, state, events)

    def refuse(name, kind, data, state, events):
        raise SynbenchError(problem)

    def impl(name, kind, data, state, events):
        check_state(data, state)
        if events.size != data.n_pre:
            raise ShapeError("events", (data.n_pre,), events.shape, "pre")
        return deliver(data, state, events)

    return refuse if problem else impl


@overload(_step_checked, prefer_literal=True)
def _step_checked_typed(name, kind, data, state, spikes, decay):
    if not isinstance(name, types.StringLiteral):  # Numba's second try, without literals
        return None
    step = _UNCHECKED[name.literal_value, "step"]
    kind_name = kind.literal_value
    check_state = _STATE_SHAPE_CHECKS[kind_name]
    problem = (_state_problem(kind_name, data, state)
               or _events_problem(data, state, spikes, "spikes")
               or (None if isinstance(decay, (types.Integer, types.Float))
                   else f"decay must be a real scalar such as 0.98, not {decay}"))

    def refuse(name, kind, data, state, spikes, decay):
        raise SynbenchError(problem)

    def impl(name, kind, data, state, spikes, decay):
        check_state(data, state)
        if spikes.size != data.n_pre:
            raise ShapeError("spikes", (data.n_pre,), spikes.shape, "pre")
        if not np.isfinite(decay):
            raise SynbenchError("decay must be finite")
        return step(data, state, spikes, decay)

    return refuse if problem else impl


@overload(_conductance_checked, prefer_literal=True)
def _conductance_checked_typed(name, kind, data, state, out):
    if not isinstance(name, types.StringLiteral):  # Numba's second try, without literals
        return None
    conductance = _UNCHECKED[name.literal_value, "conductance"]
    kind_name = kind.literal_value
    check_state = _STATE_SHAPE_CHECKS[kind_name]
    # A post-state conductance is the state itself: ``out`` is not written (the runner
    # passes an empty one), so it is checked only where the sum is written into it.
    check_out = kind_name != "post" and not isinstance(out, (types.NoneType, types.Omitted))
    problem = _state_problem(kind_name, data, state) or (check_out and _out_problem(data, out))

    def refuse(name, kind, data, state, out):
        raise SynbenchError(problem)

    def impl(name, kind, data, state, out):
        check_state(data, state)
        return conductance(data, state, out)

    def impl_out(name, kind, data, state, out):
        check_state(data, state)
        if out.size != data.n_post:
            raise ShapeError("out", (data.n_post,), out.shape, "post")
        return conductance(data, state, out)

    return refuse if problem else (impl_out if check_out else impl)


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
    """Weight of synapse ``k``: ``weight[k]`` per synapse, ``weight[0]`` when shared. ``k``
    is taken as an int64: a ``numba.prange`` index may be unsigned, and unsigned-or-0
    would be typed as a float."""
    return weight[np.int64(k) if weight.size > 1 else 0]


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
