"""How it is computed: one package per backend (numpy, numba, jax, cupy).

Each package holds its protocol in ``__init__`` (``asarray``, ``to_numpy``,
``synchronize``, ``free_memory``, ``Simulation``), one module per strategy (its
``prepare``, ``deliver``, ``conductance`` and registration) and its ``runner``.
Importing a package registers every strategy module in it: a new strategy is one new
module per backend, found by :func:`import_strategies`.
"""

from __future__ import annotations

import importlib
import pkgutil


def import_strategies(package: str, path) -> None:
    """Import every strategy module of a backend package (all but ``runner`` and ``_*``)."""
    for info in pkgutil.iter_modules(path):
        if not info.name.startswith("_") and info.name != "runner" and not info.ispkg:
            importlib.import_module(f"{package}.{info.name}")
