"""Every registered (strategy, backend) against the reference, one step at a time.

Parametrized over ``registry.entries()``: a new entry is tested with no new test code.
The reference is the independent oracle ``synbench.core.reference`` (scipy.sparse,
float64; DESIGN section 5). Each check is a plain function, so that a strategy declared
inside a test (test_registry.py) goes through exactly the same checks.
"""

import contextlib
import re

import numpy as np
import pytest

from synbench.core import registry, strategies
from synbench.core.connect import All2All, FixedPostNum, FixedProb, IJConn, One2One
from synbench.core.errors import SynbenchError
from synbench.core.reference import mismatch, reference_conductances, reference_scales
from synbench.core.synapses import Exponential

ENTRIES = registry.entries()
TAU, DT = 5.0, 0.1
RTOL = {"float64": 1e-12, "float32": 1e-5}
# Where decay-then-deliver and the one-call step run the same operations in the same
# order, they agree bit for bit; a compiler that fuses the step (XLA, nvcc) may round
# once instead of twice.
BIT_EXACT_BACKENDS = ("numpy", "numba", "numba_parallel")
FUSED_RTOL = {"float64": 1e-12, "float32": 1e-6}


def _case_empty_rows_and_columns():
    # Pre 0 and 5 have no synapses, posts 1 and 4 receive none, post 0 has three pres.
    pre = [1, 1, 2, 3, 3, 3, 4]
    post = [0, 2, 0, 0, 3, 5, 2]
    return IJConn(pre, post).build(6, 6)


def _case_hubs():
    # Sparse random synapses, plus pre 3 projecting to almost every post neuron and
    # post 5 receiving from almost every pre neuron: the degrees that padded layouts
    # (ELL, JAX's padded rows) pay for and atomic additions contend on.
    rng = np.random.default_rng(7)
    n_pre, n_post = 40, 30
    mask = rng.random((n_pre, n_post)) < 0.05
    mask[3, rng.random(n_post) < 0.9] = True
    mask[rng.random(n_pre) < 0.9, 5] = True
    pre, post = np.nonzero(mask)
    return IJConn(pre, post).build(n_pre, n_post)


CONNECTIVITIES = {
    "fixedprob": lambda: FixedProb(0.3, seed=3).build(23, 17),
    "empty_rows_cols": _case_empty_rows_and_columns,
    "all2all": lambda: All2All().build(5, 4),
    "all2all_no_self": lambda: All2All(include_self=False).build(6),
    "one2one": lambda: One2One().build(7, 7),
    "fixedpostnum": lambda: FixedPostNum(3, seed=1).build(9, 11),
    "no_synapses": lambda: IJConn([], []).build(4, 3),
    "hubs": _case_hubs,
    # Counter-based: the synapses of each pre neuron from (seed, pre) alone.
    "fixedprob_counter": lambda: FixedProb(0.3, seed=5, counter_based=True).build(21, 19),
    "fixedpostnum_counter_no_self": lambda: FixedPostNum(
        4, include_self=False, seed=6, counter_based=True).build(13),
}
# The v2 checks run on two of them (JAX compiles anew for every shape): one random,
# one with empty rows and columns and a post neuron fed by three pre neurons.
V2_CASES = ["fixedprob", "empty_rows_cols"]
# float64 on every connectivity; float32 (the kernels' dtype handling, not their indexing)
# on these, which every strategy holds or refuses: random, hubs, counter-based.
FLOAT32_CASES = ["fixedprob", "hubs", "fixedprob_counter", "all2all_no_self", "one2one"]
CASE_DTYPES = ([(case, "float64") for case in CONNECTIVITIES]
               + [(case, "float32") for case in FLOAT32_CASES])


def _module(backend):
    return registry.BACKENDS[backend].load()


def _to_numpy(backend, x):
    return _module(backend).to_numpy(x)


def _asarray(backend, x):
    return _module(backend).asarray(x)


def _precision(backend, dtype):
    """The backend's context that keeps ``dtype`` (JAX's x64 for float64), if it has one."""
    precision = getattr(_module(backend), "precision", None)
    return precision(dtype) if precision is not None else contextlib.nullcontext()


def _spike_train(n_pre, n_steps=12, seed=0):
    """Random spikes at 30 %, with pre neuron 0 silent throughout and a step with no spike."""
    rng = np.random.default_rng(seed)
    spikes = rng.random((n_steps, n_pre)) < 0.3
    spikes[:, 0] = False
    spikes[4] = False
    return spikes


def _amplitude_train(n_pre, dtype, n_steps=6, seed=2):
    """Float amplitudes per pre neuron: a third zero, mixed signs, a silent step and 1.0s."""
    rng = np.random.default_rng(seed)
    amplitudes = rng.uniform(-2.0, 2.0, (n_steps, n_pre))
    amplitudes[rng.random((n_steps, n_pre)) < 1 / 3] = 0.0
    amplitudes[:, 0] = 0.0
    amplitudes[2] = 0.0
    amplitudes[3, ::2] = 1.0  # a spike's amplitude
    return amplitudes.astype(dtype)


def _weight(conn, kind):
    if kind == "scalar":
        return 0.75
    return np.random.default_rng(1).uniform(0.5, 1.5, conn.n_syn)


def _decay(dtype):
    (decay,) = Exponential(TAU).factors(DT)
    return np.dtype(dtype).type(decay)


def _prepare(entry, conn, weight, dtype):
    """``entry.prepare(...)``, or None after checking that the entry refuses ``conn`` or
    ``weight`` with the reason its declaration gives (all2all holds all-to-all only,
    procedural a counter-based connectivity and one weight)."""
    why = strategies.unsuited_reason(entry.name, conn, weight)
    if why is None:
        return entry.prepare(conn, weight, dtype)
    with pytest.raises(SynbenchError, match=re.escape(why)):
        entry.prepare(conn, weight, dtype)
    return None


# --- the checks, one function each (test_registry.py runs them on a toy strategy) ---


def check_every_step_matches_reference(entry, case, weight_kind, dtype):
    """The v1 one-call ``step`` then ``conductance`` equals the oracle after every step."""
    conn = CONNECTIVITIES[case]()
    weight = _weight(conn, weight_kind)
    spikes = _spike_train(conn.n_pre)
    decay = _decay(dtype)
    expected = reference_conductances(conn, weight, spikes, decay)

    data = _prepare(entry, conn, weight, dtype)
    if data is None:
        return
    state = entry.init_state(data)
    for k, s in enumerate(spikes):
        state = entry.step(data, state, _asarray(entry.backend, s), decay)
        g = _to_numpy(entry.backend, entry.conductance(data, state))
        assert g.shape == (conn.n_post,)
        assert g.dtype == np.dtype(dtype), f"{entry.id} returned {g.dtype}"
        np.testing.assert_allclose(g, expected[k], rtol=RTOL[dtype], atol=0,
                                   err_msg=f"{entry.id} differs at step {k}")


def check_step_is_advance_then_deliver(entry, case, weight_kind, dtype):
    """``step(data, s, spikes, decay)`` equals ``Exponential.advance`` then ``deliver``."""
    conn = CONNECTIVITIES[case]()
    weight = _weight(conn, weight_kind)
    decay = _decay(dtype)
    model = Exponential(TAU)
    exact = entry.backend in BIT_EXACT_BACKENDS
    with _precision(entry.backend, dtype):
        data = _prepare(entry, conn, weight, dtype)
        if data is None:
            return
        one_call, two_parts = entry.init_state(data), entry.init_state(data)
        for k, s in enumerate(_spike_train(conn.n_pre)):
            spikes = _asarray(entry.backend, s)
            one_call = entry.step(data, one_call, spikes, decay)
            (two_parts,) = model.advance()((two_parts,), (decay,))
            two_parts = entry.deliver(data, two_parts, spikes)
            for what, a, b in (
                    ("state", one_call, two_parts),
                    ("conductance", entry.conductance(data, one_call),
                     entry.conductance(data, two_parts))):
                a, b = _to_numpy(entry.backend, a), _to_numpy(entry.backend, b)
                message = f"{entry.id}: {what} differs at step {k}"
                assert a.dtype == b.dtype == np.dtype(dtype), message
                if exact:
                    np.testing.assert_array_equal(a, b, err_msg=message)
                else:
                    np.testing.assert_allclose(a, b, rtol=FUSED_RTOL[dtype], atol=0,
                                               err_msg=message)


def check_float_amplitudes_match_reference(entry, case, weight_kind, dtype):
    """``deliver`` with one float amplitude per pre neuron (zeros, negatives) equals the
    oracle, step after step of ``Exponential.advance`` then ``deliver``."""
    conn = CONNECTIVITIES[case]()
    weight = _weight(conn, weight_kind)
    decay = _decay(dtype)
    amplitudes = _amplitude_train(conn.n_pre, dtype)
    expected = reference_conductances(conn, weight, amplitudes, decay)
    # Mixed signs cancel: the tolerance is relative to the size of what was summed.
    scales = reference_scales(conn, weight, amplitudes, decay)
    with _precision(entry.backend, dtype):
        data = _prepare(entry, conn, weight, dtype)
        if data is None:
            return
        state = entry.init_state(data)
        for k, events in enumerate(amplitudes):
            (state,) = Exponential(TAU).advance()((state,), (decay,))
            state = entry.deliver(data, state, _asarray(entry.backend, events))
            g = _to_numpy(entry.backend, entry.conductance(data, state))
            assert g.dtype == np.dtype(dtype), f"{entry.id} returned {g.dtype}"
            problem = mismatch(g, expected[k], scales[k], RTOL[dtype])
            assert problem is None, f"{entry.id} differs at step {k}: {problem}"


def _run_steps(entry, conn, weight, spike_rows, decay=0.5):
    """The conductance after ``spike_rows``, or None where the entry refuses ``conn``
    (checked by ``_prepare``)."""
    data = _prepare(entry, conn, weight, "float64")
    if data is None:
        return None
    state = entry.init_state(data)
    for s in spike_rows:
        state = entry.step(data, state, _asarray(entry.backend, np.asarray(s, bool)), decay)
    return _to_numpy(entry.backend, entry.conductance(data, state))


def _assert_by_hand(g, expected):
    if g is not None:
        np.testing.assert_array_equal(g, expected)


def check_one_to_one_by_hand(entry):
    # Neuron 1 spikes at step 0 and neuron 2 at step 1; decay 0.5 per step.
    # After step 0: g = [0, w, 0]; after step 1: [0, w/2, w].
    conn = One2One().build(3, 3)
    _assert_by_hand(_run_steps(entry, conn, 2.0, [[0, 1, 0], [0, 0, 1]]), [0.0, 1.0, 2.0])
    # Per-synapse weights [1, 2, 4]: all three spike, then none; g = 0.5 * w.
    g = _run_steps(entry, conn, np.array([1.0, 2.0, 4.0]), [[1, 1, 1], [0, 0, 0]])
    _assert_by_hand(g, [0.5, 1.0, 2.0])


def check_all_to_all_without_self_by_hand(entry):
    # Every pair but i -> i, one weight 2; decay 0.5. Pre 0 and 1 spike at step 0:
    # g = 2 * [1, 1, 2] (post 0 hears pre 1 only, post 1 pre 0 only, post 2 both);
    # pre 2 spikes at step 1: g = 0.5 * [2, 2, 4] + 2 * [1, 1, 0] = [3, 3, 2].
    conn = All2All(include_self=False).build(3)
    _assert_by_hand(_run_steps(entry, conn, 2.0, [[1, 1, 0], [0, 0, 1]]), [3.0, 3.0, 2.0])


def check_all_to_all_by_hand(entry):
    # Per-synapse weights w[i, j] = 10 i + j (canonical order is row-major here).
    # Pre 0 and 2 spike at step 0; pre 1 at step 1; decay 0.5:
    # g_j = 0.5 * (w[0, j] + w[2, j]) + w[1, j] = 0.5 * (2 j + 20) + 10 + j = 20 + 2 j.
    conn = All2All().build(3, 4)
    w = np.array([10.0 * i + j for i in range(3) for j in range(4)])
    g = _run_steps(entry, conn, w, [[1, 0, 1], [0, 1, 0]])
    _assert_by_hand(g, [20.0, 22.0, 24.0, 26.0])
    # One weight 3: the same spikes give g_j = 0.5 * 2 * 3 + 3 = 6 for every j.
    _assert_by_hand(_run_steps(entry, conn, 3.0, [[1, 0, 1], [0, 1, 0]]), [6.0] * 4)


def check_silent_pre_neuron_adds_nothing(entry):
    # Pre 0 -> posts 0, 1; pre 1 -> post 1. Only pre 1 spikes: post 0 stays at 0.
    conn = IJConn([0, 0, 1], [0, 1, 1]).build(2, 2)
    g = _run_steps(entry, conn, np.array([5.0, 7.0, 3.0]), [[0, 1]])
    _assert_by_hand(g, [0.0, 3.0])


def check_nan_weight_is_refused(entry):
    conn = All2All().build(2, 2)
    for weight in (np.array([1.0, np.nan, 1.0, 1.0]), np.inf):
        if strategies.unsuited_reason(entry.name, conn, weight) is None:
            with pytest.raises(SynbenchError, match="NaN or inf"):
                entry.prepare(conn, weight, "float64")


#: Every check of one entry that takes no other argument.
ENTRY_CHECKS = (check_one_to_one_by_hand, check_all_to_all_by_hand,
                check_all_to_all_without_self_by_hand, check_silent_pre_neuron_adds_nothing,
                check_nan_weight_is_refused)
#: Every check of one entry on one (connectivity, weight kind, dtype).
CASE_CHECKS = (check_every_step_matches_reference, check_step_is_advance_then_deliver,
               check_float_amplitudes_match_reference)


# --- the tests: each check on every entry ---

each_entry = pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
each_weight_kind = pytest.mark.parametrize("weight_kind", ["scalar", "per_synapse"])
each_dtype = pytest.mark.parametrize("dtype", ["float64", "float32"])


@each_weight_kind
@pytest.mark.parametrize(("case", "dtype"), CASE_DTYPES)
@each_entry
def test_every_step_matches_reference(entry, case, weight_kind, dtype):
    check_every_step_matches_reference(entry, case, weight_kind, dtype)


@each_dtype
@each_weight_kind
@pytest.mark.parametrize("case", V2_CASES)
@each_entry
def test_step_is_advance_then_deliver(entry, case, weight_kind, dtype):
    check_step_is_advance_then_deliver(entry, case, weight_kind, dtype)


@each_dtype
@each_weight_kind
@pytest.mark.parametrize("case", V2_CASES)
@each_entry
def test_float_amplitudes_match_reference(entry, case, weight_kind, dtype):
    check_float_amplitudes_match_reference(entry, case, weight_kind, dtype)


@each_entry
def test_one_to_one_by_hand(entry):
    check_one_to_one_by_hand(entry)


@each_entry
def test_all_to_all_by_hand(entry):
    check_all_to_all_by_hand(entry)


@each_entry
def test_all_to_all_without_self_by_hand(entry):
    check_all_to_all_without_self_by_hand(entry)


@each_entry
def test_every_entry_is_checked_on_values_not_only_refusals(entry):
    # A strategy that refused every case above would pass them all untested.
    suited = [case for case in CONNECTIVITIES for kind in ("scalar", "per_synapse")
              if strategies.unsuited_reason(entry.name, conn := CONNECTIVITIES[case](),
                                            _weight(conn, kind)) is None
              and conn.n_syn > 0]
    assert len(suited) >= 2, f"{entry.id} holds only {suited}"


@each_entry
def test_silent_pre_neuron_adds_nothing(entry):
    check_silent_pre_neuron_adds_nothing(entry)


@each_entry
def test_nan_weight_is_refused(entry):
    check_nan_weight_is_refused(entry)


def test_registry_lists_every_strategy_on_numpy_numba_and_numba_parallel():
    names = {(e.name, e.backend) for e in ENTRIES}
    for backend in ("numpy", "numba", "numba_parallel"):
        missing = [s for s in strategies.names() if (s, backend) not in names]
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
        if name == "synbench.impls.cupy":
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
