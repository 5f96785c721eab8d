"""The strategy registry: joins what is simulated (core/) with how (impls/).

A *strategy* is one way to propagate the spikes of one projection (DESIGN section 4).
Each backend module in ``synbench/impls`` registers its kernels with :func:`register`;
this module imports those modules lazily, so ``import synbench`` loads no backend
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
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from .errors import SynbenchError

STRATEGIES = (
    "dense",
    "event_dense",
    "pre_ids",
    "pre2syn",
    "pre2post",
    "post_slice",
    "pre_slice",
    "csr",
)
STATE_KINDS = ("matrix", "synapse", "post")
KERNEL_API_VERSION = 1


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
        Backend("numpy", "synbench.impls.numpy_backend", "pip install synbench"),
        Backend("numba", "synbench.impls.numba_backend", "pip install synbench"),
        Backend("jax", "synbench.impls.jax_backend", "pip install 'synbench[jax]'"),
        Backend("cupy", "synbench.impls.cupy_backend", "pip install 'synbench[gpu]'"),
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
    """One (strategy, backend) kernel set and what it needs.

    The four functions are the kernel API (``KERNEL_API_VERSION``):

    - ``prepare(conn, weight, dtype) -> data``: structures and weights moved to the backend;
    - ``init_state(data) -> state``: zeros, held per matrix element, synapse or post neuron;
    - ``step(data, state, spikes, decay) -> state``: decay, then add this step's events;
    - ``conductance(data, state) -> g_post``: the (n_post,) conductance.
    """

    name: str
    backend: str
    needs: tuple[str, ...]
    state: str
    event_driven: bool
    prepare: Callable | None = None
    init_state: Callable | None = None
    step: Callable | None = None
    conductance: Callable | None = None
    unavailable: str | None = None
    doc: str = field(default="", compare=False)

    @property
    def id(self) -> str:
        return f"{self.name}-{self.backend}"

    @property
    def is_available(self) -> bool:
        return self.unavailable is None and _backend_reason(self.backend) is None

    def state_nbytes(self, conn, dtype) -> int:
        """Bytes of the state (and of the weight matrix for matrix strategies)."""
        itemsize = np.dtype(dtype).itemsize
        if self.state == "matrix":  # g matrix plus the weight matrix
            return 2 * conn.n_pre * conn.n_post * itemsize
        if self.state == "synapse":  # g per synapse plus per-synapse weights
            return 2 * conn.n_syn * itemsize
        return conn.n_post * itemsize + conn.n_syn * itemsize

    def nbytes(self, conn, dtype="float64") -> int:
        """Estimated bytes this strategy holds for ``conn``, without building anything."""
        return sum(conn.structure_nbytes(s) for s in self.needs) + self.state_nbytes(conn, dtype)

    def __repr__(self) -> str:
        return f"<Entry {self.id} needs={self.needs} state={self.state}>"


_ENTRIES: dict[tuple[str, str], Entry] = {}


def register(
    name: str,
    backend: str,
    *,
    needs: tuple[str, ...],
    state: str,
    event_driven: bool,
    prepare: Callable,
    init_state: Callable,
    conductance: Callable,
):
    """Decorator registering ``step`` as the kernel of strategy ``name`` on ``backend``.

    >>> @register("pre_slice", "mybackend", needs=("pre_slice", "post_ids"), state="post",
    ...           event_driven=True, prepare=..., init_state=..., conductance=...)
    ... def pre_slice_step(data, state, spikes, decay): ...
    """
    _check_new(name, backend, needs, state)

    def decorate(step: Callable) -> Callable:
        _ENTRIES[name, backend] = Entry(
            name=name,
            backend=backend,
            needs=tuple(needs),
            state=state,
            event_driven=event_driven,
            prepare=prepare,
            init_state=init_state,
            step=step,
            conductance=conductance,
            doc=(step.__doc__ or "").strip(),
        )
        return step

    return decorate


def register_unavailable(name: str, backend: str, *, needs, state, event_driven, reason: str):
    """Record that ``backend`` cannot express strategy ``name`` faithfully, and why."""
    _check_new(name, backend, needs, state)
    _ENTRIES[name, backend] = Entry(
        name, backend, tuple(needs), state, event_driven, unavailable=reason
    )


def _check_new(name, backend, needs, state):
    from .connect import STRUCTURES

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}: add it to registry.STRATEGIES first")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: add it to registry.BACKENDS first")
    if state not in STATE_KINDS:
        raise ValueError(f"state must be one of {STATE_KINDS}, not {state!r}")
    unknown = [s for s in needs if s not in STRUCTURES]
    if unknown:
        raise ValueError(f"unknown structures {unknown}; known: {STRUCTURES}")


def _load_all() -> None:
    for backend in BACKENDS.values():
        if backend.unavailable_reason() is None:
            backend.load()


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def check_names(strategy: str | None = None, backend: str | None = None) -> None:
    """Raise a SynbenchError for an unknown strategy or backend name, suggesting close ones."""
    if strategy is not None and strategy not in STRATEGIES:
        raise SynbenchError(
            f"unknown strategy {strategy!r}{_suggest(strategy, STRATEGIES)} "
            f"(choose from {', '.join(STRATEGIES)})"
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
    """Every registered entry, in STRATEGIES x BACKENDS order.

    With ``available_only`` (default) only those that can run here; otherwise also the
    entries a backend marked unavailable (missing backends have no entries: see
    :func:`available`).
    """
    _load_all()
    order = {(s, b): i for i, (s, b) in enumerate((s, b) for b in BACKENDS for s in STRATEGIES)}
    found = sorted(_ENTRIES.values(), key=lambda e: order[e.name, e.backend])
    return [e for e in found if e.is_available or not available_only]


def available() -> dict[str, str | None]:
    """Each backend name mapped to None (it runs here) or the reason it does not."""
    return {name: b.unavailable_reason() for name, b in BACKENDS.items()}


def reference() -> Entry:
    """The oracle every other entry is checked against: NumPy ``dense``."""
    return get("dense", "numpy")
