"""The strategy registry: joins what is simulated (core/) with how (impls/).

A *strategy* is one way to propagate the spikes of one projection (DESIGN section 4),
declared once in :mod:`synbench.core.strategies`. Each backend package in
``synbench/impls`` registers its functions for it with :func:`register`; this module
imports those packages lazily, so ``import synbench`` loads no backend
library, and a backend whose library is missing is listed with the reason and the
command that installs it.

>>> from synbench.core import registry
>>> entry = registry.get("pre_slice", "numpy")
>>> entry.needs
('pre_slice', 'post_ids')
"""

from __future__ import annotations

import difflib
import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache, update_wrapper, wraps
from types import SimpleNamespace

import numpy as np

from . import strategies
from .errors import SynbenchError
from .strategies import Strategy

KERNEL_API_VERSION = 2
DTYPES = ("float64", "float32")
#: The share of the backend's free memory a strategy may take (``Entry.check_fits``).
MEMORY_FRACTION = 0.8


def as_weight(weight, n_syn: int, dtype) -> np.ndarray:
    """A validated weight: a 0-d array (one weight for all) or one per synapse.

    Per-synapse weights are in canonical (pre-major) order, as ``conn.pre_ids``.
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim == 1 and w.size == 1 and n_syn != 1:
        w = w.reshape(())
    if w.ndim > 1 or (w.ndim == 1 and w.shape[0] != n_syn):
        raise SynbenchError(
            f"weight must be a scalar or one value per synapse ({n_syn}), not shape {w.shape}"
        )
    if not np.all(np.isfinite(w)):
        raise SynbenchError("weight contains NaN or inf; every synaptic weight must be finite")
    return w.astype(dtype)


def one_weight(weight, n_syn: int, dtype) -> np.ndarray:
    """The 0-d weight of a strategy that holds one weight for every synapse (declared
    ``scalar_weight``; ``prepare`` has refused per-synapse weights already). Any value
    will do with no synapse."""
    w = as_weight(weight, n_syn, dtype)
    return (w.reshape(-1)[0] if w.size else np.zeros((), dtype)).astype(dtype).reshape(())


# --- what the kernel API accepts (DESIGN section 7), one place for every backend ---


def check_dtype(dtype) -> str:
    """The name of ``dtype`` ('float64' or 'float32'), given as a name, type or np.dtype."""
    try:
        name = None if dtype is None else np.dtype(dtype).name
    except (TypeError, ValueError):
        name = None
    if name not in DTYPES:
        raise SynbenchError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    return name


def check_connectivity(conn) -> None:
    from .connect import Connectivity

    if not isinstance(conn, Connectivity):
        raise SynbenchError(
            f"conn must be a synbench Connectivity, not {type(conn).__name__}; build one with "
            "a connector, e.g. FixedProb(0.02, seed=0).build(n_pre, n_post), or from your "
            "own synapse lists with IJConn(pre_ids, post_ids).build(n_pre, n_post)")


#: What one value of a state of each kind stands for, for the messages.
_ONE_PER = {"matrix": "one per (pre, post) pair", "synapse": "one per synapse",
            "post": "one per post neuron", "pre": "one per pre neuron"}


class ShapeError(SynbenchError):
    """An argument of a kernel has the wrong shape (the Numba kernels raise it from
    compiled code, with the shapes they compared)."""

    def __init__(self, name, expected, given, kind):
        super().__init__(f"{name} must have shape {tuple(expected)} ({_ONE_PER[kind]}), "
                         f"not {tuple(given)}")


def _check_array(name, x, shape, dtypes, kind, hint="") -> None:
    """Refuse ``x`` unless its shape is ``shape`` and its dtype one of ``dtypes``.

    Reads only ``.shape`` and ``.dtype``, so it costs O(1) and works on NumPy and CuPy
    arrays and on JAX tracers (whose shapes and dtypes are known when tracing). ``kind``
    names what one value stands for (a state kind).
    """
    given_shape, given_dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
    if given_shape is None or given_dtype is None:
        raise SynbenchError(f"{name} must be an array of shape {shape} ({_ONE_PER[kind]}), "
                            f"not {type(x).__name__}")
    if tuple(given_shape) != shape:
        raise ShapeError(name, shape, given_shape, kind)
    if np.dtype(given_dtype) not in dtypes:
        raise SynbenchError(f"{name} must have dtype {' or '.join(d.name for d in dtypes)}, "
                            f"not {np.dtype(given_dtype).name}{hint}")


def check_state(kind, data, state, shape=None) -> None:
    """``state`` must be of the data's dtype and shaped as a state of ``kind`` for ``data``
    (or as ``shape``, where a backend lays that state out otherwise)."""
    shape = strategies.state_shape(kind, data) if shape is None else tuple(shape)
    _check_array("state", state, shape, (np.dtype(data.dtype),), kind)
    if not getattr(getattr(state, "flags", None), "writeable", True):
        raise SynbenchError("state is read-only; the kernels update it in place")


def check_events(data, events, name="events") -> None:
    """``events`` must be one bool spike or one float amplitude of the data's dtype per pre
    neuron: an integer is refused, since 2 could mean a spike or twice the weight."""
    dtype = np.dtype(data.dtype)
    _check_array(name, events, (data.n_pre,), (np.dtype(bool), dtype), "pre",
                 f": pass bool spikes or {dtype.name} amplitudes (the data's dtype)")


def check_out(data, out) -> None:
    """``out`` must be one value per post neuron, of the data's dtype."""
    _check_array("out", out, (data.n_post,), (np.dtype(data.dtype),), "post")


def check_decay(decay) -> None:
    """``decay`` must be a finite real scalar (a 0-d array will do)."""
    dtype = getattr(decay, "dtype", None)
    dtype = np.asarray(decay).dtype if dtype is None else np.dtype(dtype)
    if np.ndim(decay) != 0 or dtype.kind not in "iuf":
        raise SynbenchError(f"decay must be a real scalar such as 0.98, not {decay!r}")
    try:
        finite = math.isfinite(float(decay))
    except TypeError:  # a JAX tracer: its value is known only when the step runs
        return
    if not finite:
        raise SynbenchError(f"decay must be finite, not {decay!r}")


def checked_kernels(kind: str, deliver, step, conductance, state_shape=None) -> dict:
    """``deliver``, ``step`` and ``conductance`` behind the checks of their arguments.

    The kernel API is public (``entry.step(data, state, spikes, decay)`` from the user's
    code), and a kernel reading ``events`` or ``state`` past its end would crash or give
    wrong numbers. The checks read only shapes and dtypes: O(1), and at trace time under
    ``jax.jit``. The NumPy, JAX and CuPy backends register these wrappers; Numba has its
    compiled twin (``synbench.impls.numba.checked_kernels``) with the same checks.
    ``state_shape(data)`` is the state's shape where a backend lays it out otherwise
    than ``strategies.state_shape`` (JAX post_slice pads it per post neuron).
    """
    def check(data, state):
        check_state(kind, data, state, None if state_shape is None else state_shape(data))

    @wraps(deliver)
    def checked_deliver(data, state, events):
        check(data, state)
        check_events(data, events)
        return deliver(data, state, events)

    @wraps(step)
    def checked_step(data, state, spikes, decay):
        check(data, state)
        check_events(data, spikes, "spikes")
        check_decay(decay)
        return step(data, state, spikes, decay)

    @wraps(conductance)
    def checked_conductance(data, state, *out):
        check(data, state)
        if out and out[0] is not None:
            check_out(data, out[0])
        return conductance(data, state, *out)

    # A runner builds its own data and states, so it calls the kernels as they are:
    # the checks would cost it a Python call per kernel and step (twice the run time
    # of NumPy pre_slice at n = 4000).
    return {"deliver": checked_deliver, "step": checked_step, "conductance": checked_conductance,
            "unchecked": (step, deliver, conductance)}


@dataclass(frozen=True)
class Backend:
    """One backend library: where its kernels live and how to get it."""

    name: str
    module: str
    install: str
    #: Runs on several CPU threads of its own (``run(threads=...)``; its package has
    #: ``thread_count(threads)`` and ``using_threads(count)``).
    threaded: bool = False
    #: Runs one network over several devices (``run(devices=...)``; its package has a
    #: ``ShardedSimulation``).
    sharded: bool = False

    def unavailable_reason(self) -> str | None:
        """None when the backend can run here, else why not and what to install."""
        return _backend_reason(self.name)

    def load(self):
        """Import the backend module (which registers its kernels)."""
        reason = self.unavailable_reason()
        if reason is not None:
            raise SynbenchError(f"backend '{self.name}' is unavailable: {reason}")
        return importlib.import_module(self.module)


BACKENDS = {
    b.name: b
    for b in (
        Backend("numpy", "synbench.impls.numpy", "pip install synbench"),
        Backend("numba", "synbench.impls.numba", "pip install synbench"),
        Backend("numba_parallel", "synbench.impls.numba_parallel", "pip install synbench",
                threaded=True),
        Backend("jax", "synbench.impls.jax", "pip install 'synbench[jax]'", sharded=True),
        Backend("cupy", "synbench.impls.cupy", "pip install 'synbench[gpu]'"),
    )
}


@cache
def _backend_reason(name: str) -> str | None:
    backend = BACKENDS[name]
    try:
        module = importlib.import_module(backend.module)
    except ImportError as err:
        missing = err.name or str(err)
        return f"{missing} is not installed ({backend.install})"
    # A module may import fine and still be unable to run (CuPy without a GPU).
    check = getattr(module, "unavailable_reason", None)
    return check() if check is not None else None


@dataclass(frozen=True)
class Entry:
    """One (strategy, backend): the strategy's declaration and the backend's functions.

    The kernel API (``KERNEL_API_VERSION`` 2; the README documents it):

    - ``prepare(conn, weight, dtype) -> data``: structures and weights on the backend;
    - ``init_state(data) -> state``: one zero array shaped as the strategy keeps its
      state (per matrix element, synapse, post or pre neuron);
    - ``deliver(data, state, events) -> state``: add this step's events, the weight of
      every synapse of each spiking pre neuron (``events``: bool spikes, or one float
      amplitude per pre neuron that multiplies its weights), into ``state``;
    - ``conductance(data, state) -> g_post``: the (n_post,) conductance of ``state``;
    - ``step(data, state, spikes, decay) -> state``: the one-call form for exponential
      synapses: ``state * decay``, then ``deliver``.

    Every backend registers them behind checks of what they are given (DESIGN section
    7): ``prepare`` behind :func:`checked_prepare`, the kernels behind
    :func:`checked_kernels` (Numba: its compiled twin).

    ``extras`` holds what a backend's runner needs from the strategy beyond these (a
    JAX block adder, a CUDA device function and its launch shape), so that no runner
    looks a strategy up by name.
    """

    strategy: Strategy
    backend: str
    needs: tuple[str, ...]
    prepare: Callable | None = None
    init_state: Callable | None = None
    deliver: Callable | None = None
    conductance: Callable | None = None
    step: Callable | None = None
    extras: dict = field(default_factory=dict, compare=False)
    unavailable: str | None = None

    @property
    def name(self) -> str:
        return self.strategy.name

    @property
    def state(self) -> str:
        return self.strategy.state

    @property
    def event_driven(self) -> bool:
        return self.strategy.event_driven

    @property
    def doc(self) -> str:
        return self.strategy.doc

    @property
    def dense(self) -> bool:
        """Whether it holds an n_pre x n_post matrix (it reads the dense conn_mat)."""
        return "conn_mat" in self.needs

    @property
    def id(self) -> str:
        return f"{self.name}-{self.backend}"

    @property
    def is_available(self) -> bool:
        return self.unavailable is None and _backend_reason(self.backend) is None

    def weights_as_state(self, conn, weight, dtype, **options):
        """The weights laid out as this strategy's state: each synapse's weight where the
        strategy keeps that synapse's state (a runner weighs NMDA's output with them).

        One spike from every pre neuron delivered into a zero state puts them there, so
        no layout is looked up by name. For a state per matrix element or synapse.
        """
        data = self.prepare(conn, weight, dtype, **options)
        every_pre = BACKENDS[self.backend].load().asarray(np.ones(conn.n_pre, bool))
        return self.deliver(data, self.init_state(data), every_pre)

    def synapse_slots(self, conn) -> np.ndarray:
        """Where each synapse's state lives in this strategy's state, flattened, in
        canonical order (what a delay mechanism adds each delayed event into).

        A post state: the synapse's post neuron; a matrix: its (pre, post) element; a
        state per synapse: found by delivering one spike from every pre neuron with
        weight k + 1 on synapse k, so no layout is looked up by name.
        """
        index = np.int64 if conn.n_pre * conn.n_post > np.iinfo(np.int32).max else np.int32
        if self.state == "post":
            return np.asarray(conn.post_ids, dtype=index)
        if self.state == "matrix":
            return (conn.pre_ids.astype(np.int64) * conn.n_post + conn.post_ids).astype(index)
        if self.state != "synapse":
            raise SynbenchError(f"{self.name} keeps no state per synapse or post neuron")
        numbered = self.weights_as_state(conn.canonical()[0],  # numbered in canonical order
                                         np.arange(1, conn.n_syn + 1, dtype=np.float64),
                                         "float64")
        flat = BACKENDS[self.backend].load().to_numpy(numbered).reshape(-1)
        where = np.flatnonzero(flat)
        slots = np.empty(conn.n_syn, dtype=index)
        slots[flat[where].astype(np.int64) - 1] = where
        return slots

    def state_nbytes(self, conn, dtype) -> int:
        """Bytes of the state and of the weights (a matrix where the strategy reads the
        dense conn_mat, one value where it holds one weight only)."""
        itemsize = np.dtype(dtype).itemsize
        per_state = math.prod(strategies.state_shape(self.state, conn))
        weights = (1 if self.strategy.scalar_weight
                   else conn.n_pre * conn.n_post if self.dense else conn.n_syn)
        return (per_state + weights) * itemsize

    def nbytes(self, conn, dtype="float64", model=None) -> int:
        """Estimated bytes this strategy holds for ``conn``, without building anything;
        with synapse ``model``, one state per variable (and NMDA's weights laid out as
        the state, where they act at the output)."""
        from .synapses import weights_at_output

        total = sum(conn.structure_nbytes(s) for s in self.needs) + self.state_nbytes(conn, dtype)
        if model is not None:
            per_state = math.prod(strategies.state_shape(self.state, conn))
            extra = len(model.variables) - 1 + weights_at_output(self.state, model)
            total += extra * per_state * np.dtype(dtype).itemsize
        return total

    def check_fits(self, conns, dtype) -> None:
        """Refuse, before anything is allocated, projections that would not fit.

        ``conns``: the Connectivity of every projection held at once (``run`` passes the
        whole network's, ``prepare`` its own), or (Connectivity, synapse model) pairs.
        The limit is MEMORY_FRACTION of what the backend's ``free_memory()`` reports.
        """
        needed = sum(self.nbytes(c, dtype, model) for c, model in _with_models(conns))
        free = BACKENDS[self.backend].load().free_memory()
        if needed > MEMORY_FRACTION * free:
            advice = ("use a sparse strategy such as pre_slice or csr" if self.dense
                      else "use smaller groups or free memory")
            raise SynbenchError(f"{self.id} needs about {needed / 2**30:.3g} GiB for these "
                                f"projections but {free / 2**30:.3g} GiB is free; {advice}")

    def __repr__(self) -> str:
        return f"<Entry {self.id} needs={self.needs} state={self.state}>"


def _with_models(conns):
    return [c if isinstance(c, tuple) else (c, None) for c in conns]


_ENTRIES: dict[tuple[str, str], Entry] = {}


def register(name: str, backend: str, *, prepare: Callable, init_state: Callable,
             deliver: Callable, conductance: Callable, step: Callable,
             needs: tuple[str, ...] | None = None, **extras) -> Entry:
    """Register a backend's functions for the declared strategy ``name``.

    ``needs`` overrides the declared structures where this backend reads another form
    (JAX and CuPy ``pre2post`` read ``ell``); ``extras`` are kept for the backend's
    runner (``entry.extras``). Backends wrap this to fill ``backend``, to compose
    ``step`` from ``deliver`` when the strategy has no fused form of its own and to check
    the kernels' arguments (:func:`checked_kernels`). ``prepare`` is wrapped here, for
    every backend: :func:`checked_prepare`.
    """
    declared = _declared(name, backend, needs)
    entry = Entry(declared, backend, tuple(needs or declared.needs), prepare, init_state,
                  deliver, conductance, step, dict(extras))
    entry = replace(entry, prepare=checked_prepare(entry, prepare))
    _ENTRIES[name, backend] = entry
    return entry


def checked_prepare(entry: Entry, prepare: Callable) -> Callable:
    """``prepare`` that first checks its connectivity, the order of per-synapse weights,
    the dtype, and that the structures fit in memory.

    ``dtype`` reaches ``prepare`` as its name ('float64' or 'float32').
    """
    def checked(conn, weight, dtype, **options):
        check_connectivity(conn)
        weight = conn.check_weight_order(weight)
        why = strategies.unsuited_reason(entry.name, conn, weight)
        if why is not None:
            raise SynbenchError(why)
        dtype = check_dtype(dtype)
        entry.check_fits((conn,), dtype)
        return prepare(conn, weight, dtype, **options)

    return update_wrapper(checked, prepare, updated=())


# --- delay mechanisms (DESIGN section 4c; declared in core.delays) ---


@dataclass(frozen=True)
class DelayEntry:
    """One (delay mechanism, backend): the functions that deliver per-synapse delays.

    - ``prepare(conn, weight, steps, slots, dtype) -> data``: the mechanism's structures,
      ``steps`` one int delay per synapse and ``slots`` where each synapse's state lives
      in the strategy's flattened state (``Entry.synapse_slots``), canonical order;
    - ``init_buffer(data) -> buffer``: an empty ring or queue;
    - ``deliver(data, state, buffer, spikes, step) -> (state, buffer)``: record the bool
      ``spikes`` of step ``step``, then add every event that arrives at ``step`` into
      ``state`` (the strategy's state; both updated in place where the backend's arrays
      are mutable, new ones on JAX). Checked like the kernels (:func:`check_delayed`);
      ``kernel`` is the same function unchecked, for runners and compiled loops.
    """

    mechanism: str
    backend: str
    prepare: Callable | None = None
    init_buffer: Callable | None = None
    deliver: Callable | None = None
    kernel: Callable | None = None
    unavailable: str | None = None

    @property
    def id(self) -> str:
        return f"{self.mechanism}-{self.backend}"


def check_delayed(data, state, buffer, spikes, step, buffer_shapes=None) -> None:
    """The arguments of a delay mechanism's ``deliver``: bool spikes, one per pre neuron;
    a state of the data's dtype with room for every synapse's slot; the buffer this data's
    ``init_buffer`` makes (its arrays' shapes, ``buffer_shapes(data)``, None for any
    size); a step >= 0. O(1): shapes and dtypes only."""
    _check_array("spikes", spikes, (data.n_pre,), (np.dtype(bool),), "pre",
                 ": a delay mechanism records bool spikes")
    dtype = getattr(state, "dtype", None)
    if dtype is None or np.dtype(dtype) != np.dtype(data.dtype):
        raise SynbenchError(f"state must be an array of dtype {np.dtype(data.dtype).name}, "
                            f"not {getattr(dtype, 'name', type(state).__name__)}")
    if state.size < data.n_slots:
        raise SynbenchError(f"state holds {state.size} values but these synapses' slots reach "
                            f"{data.n_slots}: pass the strategy's state for this connectivity")
    if not getattr(getattr(state, "flags", None), "writeable", True):
        raise SynbenchError("state is read-only; delivery updates it in place")
    given = [tuple(getattr(a, "shape", ())) for a in _buffer_arrays(buffer)]
    wanted = buffer_shapes(data) if buffer_shapes is not None else None
    if wanted is not None and (len(given) != len(wanted) or any(
            len(g) != len(w) or any(x is not None and x != y for x, y in zip(w, g, strict=True))
            for g, w in zip(given, wanted, strict=True))):
        raise SynbenchError(f"buffer does not belong to this data (arrays of shapes {given}, "
                            f"not {wanted}): make it with init_buffer(data)")
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        if not hasattr(step, "aval"):  # a JAX tracer: known when the step runs
            raise SynbenchError(f"step must be an integer >= 0, not {step!r}")


def _buffer_arrays(buffer):
    """The arrays of a ring (one array) or queue (bins and counts, however held)."""
    if hasattr(buffer, "shape"):
        return [buffer]
    parts = vars(buffer).values() if isinstance(buffer, SimpleNamespace) else buffer
    return [array for part in parts for array in _buffer_arrays(part)]


_DELAYS: dict[tuple[str, str], DelayEntry] = {}


def register_delays(mechanism: str, backend: str, *, prepare=None, init_buffer=None,
                    deliver=None, unavailable: str | None = None,
                    buffer_shapes=None) -> DelayEntry:
    """Register a backend's functions for delay ``mechanism`` (``core.delays.MECHANISMS``),
    or, with ``unavailable``, why the backend cannot express it. ``prepare``'s data must
    carry n_pre, depth, dtype and n_slots (the largest slot + 1); ``buffer_shapes(data)``
    (``core.delays.BUFFER_SHAPES``) lets ``deliver`` refuse a buffer of other data."""
    from . import delays

    delays.mechanism(mechanism)
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: add it to registry.BACKENDS first")
    checked = None
    if deliver is not None:
        @wraps(deliver)
        def checked(data, state, buffer, spikes, step):
            check_delayed(data, state, buffer, spikes, step, buffer_shapes)
            return deliver(data, state, buffer, spikes, step)

    entry = DelayEntry(mechanism, backend, prepare, init_buffer, checked, deliver, unavailable)
    _DELAYS[mechanism, backend] = entry
    return entry


def delay_entry(strategy: str, backend: str, mechanism: str | None = None) -> DelayEntry:
    """The functions that give strategy ``strategy`` per-synapse delays on ``backend``
    with ``mechanism``, or a SynbenchError saying why not. None: the strategy's default
    (``delays.default_mechanism``), or where the backend cannot express that one (a
    queue that grows, on JAX), the first mechanism it has for the strategy's state."""
    from . import delays

    declared = strategies.strategy(strategy)
    why = delays.unsuited_reason(declared, mechanism)
    if why is not None:
        raise SynbenchError(why)
    BACKENDS[backend].load()
    default = delays.default_mechanism(declared)
    usable = [m for m in delays.MECHANISMS if declared.state in delays.MECHANISMS[m].state_kinds
              and getattr(_DELAYS.get((m, backend)), "deliver", None) is not None]
    if mechanism is None and default not in usable and usable:
        return _DELAYS[usable[0], backend]
    mechanism = mechanism or default
    found = _DELAYS.get((mechanism, backend))
    if found is None or found.unavailable:
        why = found.unavailable if found is not None else "not implemented"
        alt = (f"; use delay_mechanism={' or '.join(map(repr, usable))} (--delay-mechanism)"
               if usable else "")
        raise SynbenchError(f"delay mechanism {mechanism} is unavailable on {backend}: {why}"
                            f"{alt}")
    return found


def register_unavailable(name: str, backend: str, *, reason: str) -> None:
    """Record that ``backend`` cannot express strategy ``name`` faithfully, and why."""
    declared = _declared(name, backend, None)
    _ENTRIES[name, backend] = Entry(declared, backend, declared.needs, unavailable=reason)


def unregister(name: str) -> None:
    """Drop every backend's registration of strategy ``name``."""
    for key in [k for k in _ENTRIES if k[0] == name]:
        del _ENTRIES[key]


def _declared(name, backend, needs) -> Strategy:
    from .connect import STRUCTURES

    if name not in strategies.names():
        raise ValueError(f"unknown strategy {name!r}: declare it first "
                         "(synbench.core.strategies.declare)")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: add it to registry.BACKENDS first")
    unknown = [s for s in needs or () if s not in STRUCTURES]
    if unknown:
        raise ValueError(f"unknown structures {unknown}; known: {STRUCTURES}")
    return strategies.strategy(name)


def _load_all() -> None:
    for backend in BACKENDS.values():
        if backend.unavailable_reason() is None:
            backend.load()


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def check_names(strategy: str | None = None, backend: str | None = None) -> None:
    """Raise a SynbenchError for an unknown strategy or backend name, suggesting close ones."""
    known = strategies.names()
    if strategy is not None and strategy not in known:
        raise SynbenchError(
            f"unknown strategy {strategy!r}{_suggest(strategy, known)} "
            f"(choose from {', '.join(known)})"
        )
    if backend is not None and backend not in BACKENDS:
        raise SynbenchError(
            f"unknown backend {backend!r}{_suggest(backend, BACKENDS)} "
            f"(choose from {', '.join(BACKENDS)})"
        )


def get(name: str, backend: str = "numpy") -> Entry:
    """The runnable entry for (strategy, backend), or a SynbenchError saying why not."""
    check_names(name, backend)
    BACKENDS[backend].load()
    entry = _ENTRIES.get((name, backend))
    if entry is None:
        raise SynbenchError(f"strategy '{name}' is not implemented for backend '{backend}'")
    if entry.unavailable:
        raise SynbenchError(f"strategy '{name}' is unavailable on '{backend}': {entry.unavailable}")
    return entry


def entries(available_only: bool = True) -> list[Entry]:
    """Every registered entry, backend by backend, strategies in declaration order.

    With ``available_only`` (default) only those that can run here; otherwise also the
    entries a backend marked unavailable (missing backends have no entries: see
    :func:`available`).
    """
    _load_all()
    known = strategies.names()
    order = {(s, b): i for i, (s, b) in enumerate((s, b) for b in BACKENDS for s in known)}
    found = sorted(_ENTRIES.values(), key=lambda e: order[e.name, e.backend])
    return [e for e in found if e.is_available or not available_only]


def available() -> dict[str, str | None]:
    """Each backend name mapped to None (it runs here) or the reason it does not."""
    return {name: b.unavailable_reason() for name, b in BACKENDS.items()}


def inexact_reason(name: str, models) -> str | None:
    """None when strategy ``name`` computes every synapse model in ``models`` exactly,
    else one line saying why not and which strategies do (DESIGN section 4)."""
    from .synapses import exactness

    kind = strategies.strategy(name).state
    for model in models:
        why = exactness(kind, model)
        if why is not None:
            fits = ", ".join(exact_strategies(models))
            return (f"{name} keeps {_ONE_PER[kind].replace('one', 'one state')}, and {why}; "
                    f"exact for {model.name}: {fits}")
    return None


def exact_strategies(models) -> tuple[str, ...]:
    """The declared strategies whose state kind holds every model in ``models`` exactly."""
    from .synapses import exactness

    return tuple(s for s in strategies.names()
                 if all(exactness(strategies.strategy(s).state, m) is None for m in models))


def reference() -> Entry:
    """The oracle every other entry is checked against: NumPy ``dense``."""
    return get("dense", "numpy")
