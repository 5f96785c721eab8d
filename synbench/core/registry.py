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
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from . import strategies
from .errors import SynbenchError
from .strategies import Strategy

KERNEL_API_VERSION = 2


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


@dataclass(frozen=True)
class Backend:
    """One backend library: where its kernels live and how to get it."""

    name: str
    module: str
    install: str

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
        Backend("jax", "synbench.impls.jax", "pip install 'synbench[jax]'"),
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
    def id(self) -> str:
        return f"{self.name}-{self.backend}"

    @property
    def is_available(self) -> bool:
        return self.unavailable is None and _backend_reason(self.backend) is None

    def state_nbytes(self, conn, dtype) -> int:
        """Bytes of the state and of the weights (a matrix for matrix strategies)."""
        itemsize = np.dtype(dtype).itemsize
        per_state = math.prod(strategies.state_shape(self.state, conn))
        weights = conn.n_pre * conn.n_post if self.state == "matrix" else conn.n_syn
        return (per_state + weights) * itemsize

    def nbytes(self, conn, dtype="float64") -> int:
        """Estimated bytes this strategy holds for ``conn``, without building anything."""
        return sum(conn.structure_nbytes(s) for s in self.needs) + self.state_nbytes(conn, dtype)

    def __repr__(self) -> str:
        return f"<Entry {self.id} needs={self.needs} state={self.state}>"


_ENTRIES: dict[tuple[str, str], Entry] = {}


def register(name: str, backend: str, *, prepare: Callable, init_state: Callable,
             deliver: Callable, conductance: Callable, step: Callable,
             needs: tuple[str, ...] | None = None, **extras) -> Entry:
    """Register a backend's functions for the declared strategy ``name``.

    ``needs`` overrides the declared structures where this backend reads another form
    (JAX and CuPy ``pre2post`` read ``ell``); ``extras`` are kept for the backend's
    runner (``entry.extras``). Backends wrap this to fill ``backend`` and to compose
    ``step`` from ``deliver`` when the strategy has no fused form of its own.
    """
    declared = _declared(name, backend, needs)
    entry = Entry(declared, backend, tuple(needs or declared.needs), prepare, init_state,
                  deliver, conductance, step, dict(extras))
    _ENTRIES[name, backend] = entry
    return entry


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


def reference() -> Entry:
    """The oracle every other entry is checked against: NumPy ``dense``."""
    return get("dense", "numpy")
