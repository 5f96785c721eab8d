"""The kernel API checks what it is given (DESIGN section 7, issue 17).

Users call ``entry.prepare``, ``deliver``, ``step`` and ``conductance`` from their own
code. Too many or too few events, a state of the wrong shape or integer spikes used to
crash the process (a read past an array's end) or give wrong conductances; every
registry entry must now raise a SynbenchError naming the expected and the given. The
calls that used to crash run in a subprocess, so that a segfault fails the test instead
of killing the run; a property test throws random shapes and dtypes at every entry and
accepts only the reference's conductances or a SynbenchError.
"""

import contextlib
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from suited import connectivity_for, weight_for

from synbench.core import registry
from synbench.core.connect import FixedProb
from synbench.core.errors import SynbenchError
from synbench.core.reference import mismatch, reference_conductances, reference_scales

ENTRIES = registry.entries()
each_entry = pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
ROOT = Path(__file__).resolve().parents[1]
N_PRE, N_POST = 12, 9  # different sizes, so that a mix-up cannot pass

# --- calls that used to crash, one subprocess per backend ---

# Prints one JSON line per call: [entry id, call, outcome, message]. Lines are flushed
# as they go, so a crash still shows every call that ran before it.
_CALLS = """
import contextlib, json, sys
import numpy as np
from synbench.core import registry
from synbench.core.errors import SynbenchError

backend, n_pre, n_post, names, tests = json.loads(sys.argv[1])
sys.path.insert(0, tests)
from suited import connectivity_for

module = registry.BACKENDS[backend].load()
precision = getattr(module, "precision", lambda dtype: contextlib.nullcontext())


def report(entry, call, fn):
    try:
        fn()
        outcome, message = "no error", ""
    except SynbenchError as err:
        outcome, message = "SynbenchError", str(err)
    except Exception as err:
        outcome, message = type(err).__name__, str(err)
    print(json.dumps([entry.id, call, outcome, message]), flush=True)


def in_users_jit(entry):
    # The same check inside the user's own compiled code.
    if backend in ("numba", "numba_parallel"):
        import numba
        step = entry.step
        return numba.njit(lambda data, g, spikes: step(data, g, spikes, 0.5))
    if backend == "jax":
        import jax
        return jax.jit(lambda data, g, spikes: entry.step(data, g, spikes, 0.5))
    return None


for name in names:
    entry = registry.get(name, backend)
    conn = connectivity_for(name, n_pre, n_post)
    with precision("float64"):
        data = entry.prepare(conn, 0.5, "float64")
        state = entry.init_state(data)
        shape = tuple(state.shape)
        wrong_state = module.asarray(np.zeros((shape[0] + 1,) + shape[1:]))
        spikes = {n: module.asarray(np.ones(n, bool)) for n in (n_pre - 1, n_pre, n_pre + 1)}
        twos = module.asarray(np.full(n_pre, 2, np.int64))  # 0/2 spikes, as integers
        calls = {
            "step, too many spikes": lambda: entry.step(data, state, spikes[n_pre + 1], 0.5),
            "deliver, too many events": lambda: entry.deliver(data, state, spikes[n_pre + 1]),
            "step, too few spikes": lambda: entry.step(data, state, spikes[n_pre - 1], 0.5),
            "deliver, too few events": lambda: entry.deliver(data, state, spikes[n_pre - 1]),
            "step, wrong state": lambda: entry.step(data, wrong_state, spikes[n_pre], 0.5),
            "deliver, wrong state": lambda: entry.deliver(data, wrong_state, spikes[n_pre]),
            "conductance, wrong state": lambda: entry.conductance(data, wrong_state),
            "step, integer spikes": lambda: entry.step(data, state, twos, 0.5),
            "deliver, integer events": lambda: entry.deliver(data, state, twos),
        }
        users = in_users_jit(entry) if name == names[0] else None  # one will do
        if users is not None:
            calls["users jit, too many spikes"] = lambda: users(data, state, spikes[n_pre + 1])
        for call, fn in calls.items():
            report(entry, call, fn)
"""


def _expected_words(call, state_shape_):
    """What the message of ``call`` must name: the expected and the given."""
    if "too many" in call:
        return [f"({N_PRE},)", f"({N_PRE + 1},)"]
    if "too few" in call:
        return [f"({N_PRE},)", f"({N_PRE - 1},)"]
    if "wrong state" in call:
        given = (state_shape_[0] + 1,) + tuple(state_shape_[1:])
        return ["state", str(tuple(state_shape_)), str(given)]
    return ["bool", "int64"]


@pytest.mark.parametrize("backend", list(registry.BACKENDS))
def test_bad_calls_raise_synbench_errors_not_crashes(backend):
    reason = registry.available()[backend]
    if reason is not None:
        pytest.skip(f"backend {backend} unavailable: {reason}")
    entries = {e.id: e for e in ENTRIES if e.backend == backend}
    arguments = json.dumps([backend, N_PRE, N_POST, [e.name for e in entries.values()],
                            str(ROOT / "tests")])
    ran = subprocess.run([sys.executable, "-c", _CALLS, arguments],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    lines = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("[")]
    assert ran.returncode == 0, (
        f"the {backend} calls died (exit {ran.returncode}) after {lines[-1:] or 'no call'}:\n"
        f"{ran.stderr[-3000:]}")
    assert {line[0] for line in lines} == set(entries), "every entry must have been called"
    for entry_id, call, outcome, message in lines:
        assert outcome == "SynbenchError", f"{entry_id} {call}: {outcome} {message}"
        entry = entries[entry_id]
        shape = _state_shape(entry, connectivity_for(entry.name, N_PRE, N_POST))
        for word in _expected_words(call, shape):
            assert word in message, f"{entry_id} {call}: {word!r} not in {message!r}"


def _precision(backend):
    """The backend's context that keeps float64 (JAX's x64), if it needs one."""
    precision = getattr(registry.BACKENDS[backend].load(), "precision", None)
    return precision("float64") if precision is not None else contextlib.nullcontext()


def _state_shape(entry, conn):
    """The shape of the entry's state (a backend may lay it out otherwise than its kind)."""
    with _precision(entry.backend):
        return tuple(entry.init_state(entry.prepare(conn, 0.5, "float64")).shape)


# --- prepare ---


@each_entry
def test_prepare_refuses_what_is_not_a_connectivity(entry):
    pairs = ([0, 1], [1, 0])
    with pytest.raises(SynbenchError, match="must be a synbench Connectivity, not tuple.*IJConn"):
        entry.prepare(pairs, 0.5, "float64")


@each_entry
@pytest.mark.parametrize("dtype", ["float16", np.int32, "complex128", "nonsense", None])
def test_prepare_refuses_dtypes_other_than_float64_and_float32(entry, dtype):
    conn = connectivity_for(entry.name, 4, 3)
    with pytest.raises(SynbenchError, match="dtype must be one of float64, float32"):
        entry.prepare(conn, 0.5, dtype)


@pytest.mark.parametrize("dtype", ["float32", np.float32, np.dtype("float32"), "f4"])
def test_prepare_accepts_a_dtype_in_any_form(dtype):
    entry = registry.get("pre_slice", "numpy")
    data = entry.prepare(FixedProb(0.3, seed=1).build(4, 3), 0.5, dtype)
    assert data.dtype == np.float32 and entry.init_state(data).dtype == np.float32


@pytest.mark.parametrize("backend", [b for b, why in registry.available().items() if why is None])
def test_prepare_refuses_a_dense_matrix_over_the_memory_limit(backend, monkeypatch):
    module = registry.BACKENDS[backend].load()
    conn = FixedProb(0.01, seed=0).build(1000, 1000)  # an 8 MB float64 matrix
    monkeypatch.setattr(module, "free_memory", lambda: 10**6)
    with pytest.raises(SynbenchError, match="dense-.* needs about .* is free; use a sparse"):
        registry.get("dense", backend).prepare(conn, 0.5, "float64")
    registry.get("pre_slice", backend).prepare(conn, 0.5, "float64")  # ~0.1 MB: fits


def test_check_fits_sums_every_projection(monkeypatch):
    entry = registry.get("pre_ids", "numpy")
    conn = FixedProb(0.1, seed=0).build(200, 200)
    one = entry.nbytes(conn, "float64")
    free = int(1.5 * one / registry.MEMORY_FRACTION)  # room for one, not for two
    monkeypatch.setattr(registry.BACKENDS["numpy"].load(), "free_memory", lambda: free)
    entry.check_fits([conn], "float64")
    with pytest.raises(SynbenchError, match="pre_ids-numpy needs about"):
        entry.check_fits([conn, conn], "float64")


# --- random shapes and dtypes: the reference's conductances or a SynbenchError ---

#: Examples per entry: each new type signature compiles anew on Numba and JAX.
EXAMPLES = {"numpy": 40, "numba": 8, "numba_parallel": 8, "jax": 8, "cupy": 8}


@cache
def _prepared(entry):
    """(conn, weight, data): one connectivity and per-synapse weights per entry."""
    conn = connectivity_for(entry.name, N_PRE, N_POST, seed=2)
    weight = weight_for(entry.name, conn)
    with _precision(entry.backend):
        return conn, weight, entry.prepare(conn, weight, "float64")


def _shapes(right):
    """``right``, or a shape next to it: one dimension off by one, one more or one less."""
    near = [right[:i] + (max(right[i] + d, 0),) + right[i + 1:]
            for i in range(len(right)) for d in (-1, 1)]
    return st.sampled_from([right, right, *near, right + (1,), right[1:], (1,) + right])


@st.composite
def calls(draw, n_pre, state_shape_):
    return {
        "function": draw(st.sampled_from(["deliver", "step", "conductance"])),
        "events_shape": draw(_shapes((n_pre,))),
        "events_dtype": draw(st.sampled_from(["bool", "float64", "float32", "int64"])),
        "state_shape": draw(_shapes(state_shape_)),
        "state_dtype": draw(st.sampled_from(["float64", "float64", "float32"])),
        "decay": draw(st.sampled_from([0.9, 0.5, float("nan")])),
        "seed": draw(st.integers(0, 2**16)),
    }


def _is_valid(call, n_pre, state_shape_):
    """Whether the kernel API accepts ``call`` (the rules of registry.checked_kernels)."""
    state_ok = call["state_shape"] == state_shape_ and call["state_dtype"] == "float64"
    if call["function"] == "conductance":
        return state_ok
    events_ok = (call["events_shape"] == (n_pre,)
                 and call["events_dtype"] in ("bool", "float64"))
    decay_ok = call["function"] == "deliver" or np.isfinite(call["decay"])
    return state_ok and events_ok and decay_ok


def _run_call(entry, call):
    """The conductance after one valid step and then ``call``, and the reference's."""
    module = registry.BACKENDS[entry.backend].load()
    conn, weight, data = _prepared(entry)
    rng = np.random.default_rng(call["seed"])
    first = rng.random(conn.n_pre) < 0.5
    if call["events_dtype"] == "bool":
        events = rng.random(call["events_shape"]) < 0.5
    else:
        events = rng.uniform(-2, 2, call["events_shape"]).astype(call["events_dtype"])
    decay = call["decay"]
    with _precision(entry.backend):
        state = entry.step(data, entry.init_state(data), module.asarray(first), 0.5)
        if tuple(state.shape) != call["state_shape"] or call["state_dtype"] != "float64":
            state = module.asarray(np.zeros(call["state_shape"], call["state_dtype"]))
        if call["function"] == "deliver":
            state = entry.deliver(data, state, module.asarray(events))
            steps, step_decay = [first, events], 1.0  # deliver adds, without decay
        elif call["function"] == "step":
            state = entry.step(data, state, module.asarray(events), decay)
            steps, step_decay = [first, events], decay
        else:
            steps, step_decay = [first], 0.5
        g = module.to_numpy(entry.conductance(data, state))
    # A first step of decay 0.5 from zero is the same as one of any decay.
    expected = reference_conductances(conn, weight, steps, step_decay)[-1]
    scale = reference_scales(conn, weight, steps, step_decay)[-1]
    return g, expected, scale


@each_entry
def test_random_arguments_give_the_reference_or_a_synbench_error(entry):
    conn, _, data = _prepared(entry)
    with _precision(entry.backend):
        right_state = tuple(entry.init_state(data).shape)

    @settings(max_examples=EXAMPLES[entry.backend], deadline=None, derandomize=True,
              database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(call=calls(conn.n_pre, right_state))
    def check(call):
        valid = _is_valid(call, conn.n_pre, right_state)
        try:
            g, expected, scale = _run_call(entry, call)
        except SynbenchError:
            assert not valid, f"{entry.id} refused a valid call {call}"
            return
        assert valid, f"{entry.id} accepted an invalid call {call}"
        problem = mismatch(g, expected, scale, 1e-12)
        assert problem is None, f"{entry.id} {call}: {problem}"

    check()
