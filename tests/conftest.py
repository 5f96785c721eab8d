"""Markers from the backend a test exercises, not written by hand (STYLE point 7).

A test is ``slow`` when it runs a compiling backend (numba, jax, cupy): its backends are
read from its parametrization (a registry entry, or an id part or a parameter that is
exactly a backend name, as in ``pre_slice-numba``) and from its own and its module's name
(``test_numba.py``, ``test_jax_winner_...``). It is ``gpu`` when it runs CuPy: a CuPy
parameter or the ``cupy`` fixture (test_cupy.py's nvcc checks need no GPU and are not).
Both markers are declared in pyproject.toml; the default run selects every test.
"""

import os
import re

import pytest

from synbench.core.cache import cache_dir as user_cache_dir
from synbench.core.registry import Entry, available

# Compiled Numba kernels are kept across tests, runs and the tests' subprocesses, in the
# user's cache, although each test gets a fresh `fastest` cache (the fixture below): set
# before Numba is first imported, which reads it then.
os.environ.setdefault("NUMBA_CACHE_DIR", str(user_cache_dir() / "numba"))

SLOW_BACKENDS = ("numba", "numba_parallel", "jax", "cupy")  # they compile before they run
GPU_BACKENDS = ("cupy",)


def parameter_backends(item) -> set[str]:
    """The backend names in a collected test's parametrization."""
    words = set()
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        words.update(callspec.id.split("-"))
        for value in callspec.params.values():
            if isinstance(value, Entry):
                words.add(value.backend)
            elif isinstance(value, str):
                words.add(value)
    return words & set(SLOW_BACKENDS)


def backends_of(item) -> set[str]:
    """The backend names a collected test involves: parameters and names."""
    words = set(re.split(r"[_\W]+", f"{item.module.__name__} {item.originalname}"))
    return parameter_backends(item) | (words & set(SLOW_BACKENDS))


def pytest_collection_modifyitems(config, items):
    for item in items:
        if backends_of(item):
            item.add_marker(pytest.mark.slow)
        if parameter_backends(item) & set(GPU_BACKENDS) or any(
                name in getattr(item, "fixturenames", ()) for name in GPU_BACKENDS):
            item.add_marker(pytest.mark.gpu)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    """A fresh ``fastest`` cache per test: no test reads or fills the user's own."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("SYNBENCH_CACHE_DIR", str(directory))
    return directory


@pytest.fixture(scope="module")
def cupy():
    """CuPy with a usable GPU, else the test is skipped with the registry's reason."""
    cupy = pytest.importorskip("cupy", reason="cupy is not installed (pip install 'synbench[gpu]')")
    reason = available()["cupy"]
    if reason is not None:
        pytest.skip(f"cupy backend unavailable: {reason}")
    return cupy
