"""How it is computed: one package per backend (numpy, numba, numba_parallel, jax, cupy).

Each package holds its protocol in ``__init__`` (``asarray``, ``to_numpy``,
``synchronize``, ``free_memory``, ``Simulation``), one module per strategy (its
``prepare``, ``deliver``, ``conductance`` and registration) and its ``runner``.
Importing a package registers every strategy module in it: a new strategy is one new
module per backend, found by :func:`import_strategies`.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Protocol

import numpy as np


class Simulation(Protocol):
    """The runner protocol: what ``synbench.run`` needs of each backend's ``Simulation``.

    Every backend package exports a class of this shape (``synbench.impls.numpy.Simulation``
    and so on); ``run`` builds it, compiles it, then advances it chunk by chunk. A new
    backend is a package with this class, the array protocol and its strategy modules.
    """

    def __init__(self, spec, entry, conns: dict, dt: float, dtype: str, chunk_steps: int):
        """Prepare neurons and projections on the backend (``entry`` None: neurons alone,
        the baseline every strategy's cost is measured against)."""

    def compile(self) -> None:
        """All just-in-time compilation, timed apart from the run."""

    def advance(self, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Simulate the next ``n_steps`` steps; that chunk's spikes as NumPy arrays
        (absolute step, neuron index), sorted by step."""

    def finite(self) -> bool:
        """Whether every neuron state variable is finite (``run`` checks it after each
        chunk: a diverged network stops with an error instead of reporting rates)."""

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the state as NumPy arrays: the neuron variables ('v', and 'm', 'h',
        'n' for HH), 'i_syn', 'last_spike' and 'g:<projection>' per projection."""


def import_strategies(package: str, path) -> None:
    """Import every strategy module of a backend package (all but ``runner`` and ``_*``)."""
    for info in pkgutil.iter_modules(path):
        if not info.name.startswith("_") and info.name != "runner" and not info.ispkg:
            importlib.import_module(f"{package}.{info.name}")
