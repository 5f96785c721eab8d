"""Every registered (strategy, backend) against the reference, one step at a time.

Parametrized over ``registry.entries()``: a new entry is tested with no new test code.
The reference is NumPy ``dense`` in float64 (DESIGN section 5).
"""

import numpy as np
import pytest

from synbench.core import registry
from synbench.core.connect import All2All, FixedPostNum, FixedProb, IJConn, One2One
from synbench.core.errors import SynbenchError

ENTRIES = registry.entries()
REFERENCE = registry.reference()


def _case_empty_rows_and_columns():
    # Pre 0 and 5 have no synapses, posts 1 and 4 receive none, post 0 has three pres.
    pre = [1, 1, 2, 3, 3, 3, 4]
    post = [0, 2, 0, 0, 3, 5, 2]
    return IJConn(pre, post).build(6, 6)


CONNECTIVITIES = {
    "fixedprob": lambda: FixedProb(0.3, seed=3).build(23, 17),
    "empty_rows_cols": _case_empty_rows_and_columns,
    "all2all": lambda: All2All().build(5, 4),
    "one2one": lambda: One2One().build(7, 7),
    "fixedpostnum": lambda: FixedPostNum(3, seed=1).build(9, 11),
    "no_synapses": lambda: IJConn([], []).build(4, 3),
}


def _to_numpy(backend, x):
    return registry.BACKENDS[backend].load().to_numpy(x)


def _asarray(backend, x):
    return registry.BACKENDS[backend].load().asarray(x)


def _spike_train(n_pre, n_steps=12, seed=0):
    """Random spikes at 30 %, with pre neuron 0 silent throughout and a step with no spike."""
    rng = np.random.default_rng(seed)
    spikes = rng.random((n_steps, n_pre)) < 0.3
    spikes[:, 0] = False
    spikes[4] = False
    return spikes


def _weight(conn, kind):
    if kind == "scalar":
        return 0.75
    return np.random.default_rng(1).uniform(0.5, 1.5, conn.n_syn)


def _reference_trace(conn, weight, spikes, decay):
    data = REFERENCE.prepare(conn, weight, "float64")
    state = REFERENCE.init_state(data)
    out = []
    for s in spikes:
        state = REFERENCE.step(data, state, s, decay)
        out.append(np.array(REFERENCE.conductance(data, state)))
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("weight_kind", ["scalar", "per_synapse"])
@pytest.mark.parametrize("case", list(CONNECTIVITIES))
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_every_step_matches_reference(entry, case, weight_kind, dtype):
    conn = CONNECTIVITIES[case]()
    weight = _weight(conn, weight_kind)
    spikes = _spike_train(conn.n_pre)
    decay = np.exp(-0.1 / 5.0)
    expected = _reference_trace(conn, weight, spikes, decay)

    data = entry.prepare(conn, weight, dtype)
    state = entry.init_state(data)
    rtol = 1e-12 if dtype == "float64" else 1e-5
    for k, s in enumerate(spikes):
        state = entry.step(data, state, _asarray(entry.backend, s), np.dtype(dtype).type(decay))
        g = _to_numpy(entry.backend, entry.conductance(data, state))
        assert g.shape == (conn.n_post,)
        assert g.dtype == np.dtype(dtype), f"{entry.id} returned {g.dtype}"
        np.testing.assert_allclose(g, expected[k], rtol=rtol, atol=0,
                                   err_msg=f"{entry.id} differs at step {k}")


def _run_steps(entry, conn, weight, spike_rows, decay=0.5):
    data = entry.prepare(conn, weight, "float64")
    state = entry.init_state(data)
    for s in spike_rows:
        state = entry.step(data, state, _asarray(entry.backend, np.asarray(s, bool)), decay)
    return _to_numpy(entry.backend, entry.conductance(data, state))


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_one_to_one_by_hand(entry):
    # Neuron 1 spikes at step 0 and neuron 2 at step 1; decay 0.5 per step.
    # After step 0: g = [0, w, 0]; after step 1: [0, w/2, w].
    conn = One2One().build(3, 3)
    g = _run_steps(entry, conn, 2.0, [[0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(g, [0.0, 1.0, 2.0])


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_all_to_all_by_hand(entry):
    # Per-synapse weights w[i, j] = 10 i + j (canonical order is row-major here).
    # Pre 0 and 2 spike at step 0; pre 1 at step 1; decay 0.5:
    # g_j = 0.5 * (w[0, j] + w[2, j]) + w[1, j] = 0.5 * (2 j + 20) + 10 + j = 20 + 2 j.
    conn = All2All().build(3, 4)
    w = np.array([10.0 * i + j for i in range(3) for j in range(4)])
    g = _run_steps(entry, conn, w, [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(g, [20.0, 22.0, 24.0, 26.0])


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_silent_pre_neuron_adds_nothing(entry):
    # Pre 0 -> posts 0, 1; pre 1 -> post 1. Only pre 1 spikes: post 0 stays at 0.
    conn = IJConn([0, 0, 1], [0, 1, 1]).build(2, 2)
    g = _run_steps(entry, conn, np.array([5.0, 7.0, 3.0]), [[0, 1]])
    np.testing.assert_array_equal(g, [0.0, 3.0])


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_nan_weight_is_refused(entry):
    conn = All2All().build(2, 2)
    with pytest.raises(SynbenchError, match="NaN or inf"):
        entry.prepare(conn, np.array([1.0, np.nan, 1.0, 1.0]), "float64")


def test_registry_lists_every_strategy_on_numpy_and_numba():
    names = {(e.name, e.backend) for e in ENTRIES}
    for backend in ("numpy", "numba"):
        missing = [s for s in registry.STRATEGIES if (s, backend) not in names]
        assert not missing, f"{backend} lacks {missing}"


def test_unknown_names_suggest_close_matches():
    with pytest.raises(SynbenchError, match="did you mean 'pre_slice'"):
        registry.get("pre_slise", "numpy")
    with pytest.raises(SynbenchError, match="did you mean 'numba'"):
        registry.get("pre_slice", "numbaa")


def test_reference_is_numpy_dense():
    ref = registry.reference()
    assert (ref.name, ref.backend) == ("dense", "numpy")


def test_missing_backend_is_listed_with_reason_and_install_hint(monkeypatch):
    import importlib

    real_import = importlib.import_module

    def fake_import(name, *args):
        if name == "synbench.impls.cupy_backend":
            err = ImportError("No module named 'cupy'")
            err.name = "cupy"
            raise err
        return real_import(name, *args)

    registry._backend_reason.cache_clear()
    monkeypatch.setattr(importlib, "import_module", fake_import)
    try:
        reason = registry.available()["cupy"]
        assert reason is not None and "cupy" in reason and "synbench[gpu]" in reason
        with pytest.raises(SynbenchError, match="unavailable"):
            registry.get("pre_slice", "cupy")
    finally:
        registry._backend_reason.cache_clear()


@pytest.mark.parametrize("backend", [b for b, why in registry.available().items() if why is None])
def test_every_backend_module_has_the_protocol_functions(backend):
    # fastest() and the asv benchmarks call these directly on every available backend.
    module = registry.BACKENDS[backend].load()
    x = module.asarray(np.arange(3.0))
    np.testing.assert_array_equal(module.to_numpy(module.synchronize(x)), [0.0, 1.0, 2.0])
    assert module.free_memory() > 0
