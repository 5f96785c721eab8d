"""Synapse models (DESIGN section 4b) against computations that share no code with them.

- closed forms of the single-spike responses, and NMDA's bound;
- every (strategy, backend) that holds a model exactly, step by step, against each
  synapse integrated on its own (the linear models by the matrix exponential of their
  generator, NMDA by exponential Euler written out here), summed onto its post neuron;
- every inexact pair refused, and really different when run on purpose;
- COBA with each model and CUBA: the reference's raster on every exact entry.

Parametrized over the registry and the models: a new entry or model is tested with no
new test code.
"""

import contextlib
import functools
import math

import numpy as np
import pytest
import scipy.linalg
from suited import connectivity_kind, network_for

from synbench import run
from synbench.core import registry, strategies
from synbench.core.connect import All2All, FixedProb, IJConn, One2One
from synbench.core.errors import SynbenchError
from synbench.core.networks import coba, cuba
from synbench.core.synapses import (
    MODELS,
    NMDA,
    Alpha,
    Delta,
    DualExponential,
    Exponential,
    exactness,
    weights_at_output,
)

DT = 0.1
RTOL = {"float64": 1e-12, "float32": 1e-5}
ENTRIES = registry.entries()
SYNAPSES = {"delta": Delta(), "exponential": Exponential(5.0),
            "dual_exponential": DualExponential(10.0, 1.0), "alpha": Alpha(10.0),
            "nmda": NMDA()}
assert set(SYNAPSES) == set(MODELS), "a new synapse model needs a case here"


def _module(backend):
    return registry.BACKENDS[backend].load()


def _xp(backend):
    """The array namespace of the backend's arrays, for the model's ``advance``."""
    if backend == "jax":
        import jax.numpy as jnp

        return jnp
    if backend == "cupy":
        import cupy

        return cupy
    return np


def _precision(backend, dtype):
    precision = getattr(_module(backend), "precision", None)
    return precision(dtype) if precision is not None else contextlib.nullcontext()


# --- closed forms ---


def _response(model, weight, n_steps):
    """The output variable after one spike at step 0, through the model's own advance."""
    state = tuple(np.zeros(1) for _ in model.variables)
    factors, advance, trace = model.factors(DT), model.advance(), []
    for step in range(n_steps):
        state = list(advance(state, factors))
        if step == 0:
            state[model.input_index] = state[model.input_index] + weight
        state = tuple(state)
        trace.append(state[model.output_index][0])
    return np.array(trace)


CLOSED_FORMS = {
    "exponential": (Exponential(5.0), lambda t, w: w * np.exp(-t / 5.0)),
    "dual_exponential": (DualExponential(10.0, 2.0), lambda t, w: w * 10.0 * 2.0 / 8.0
                         * (np.exp(-t / 10.0) - np.exp(-t / 2.0))),
    "alpha": (Alpha(4.0), lambda t, w: w * t * np.exp(-t / 4.0)),
}


@pytest.mark.parametrize("name", CLOSED_FORMS)
def test_single_spike_response_is_the_closed_form(name):
    model, closed_form = CLOSED_FORMS[name]
    trace = _response(model, 0.7, 2000)
    t = np.arange(2000) * DT  # the spike is added after step 0's advance: t = 0 there
    np.testing.assert_allclose(trace, closed_form(t, 0.7), rtol=1e-12, atol=1e-15)


def test_delta_holds_this_steps_jumps_only():
    trace = _response(Delta(), 0.7, 3)
    np.testing.assert_array_equal(trace, [0.7, 0.0, 0.0])


def test_nmda_saturates_below_one():
    """A spike every step drives g towards a x / (1/tau_decay + a x) < 1, never above 1."""
    model = NMDA()
    g, x = np.zeros(1), np.zeros(1)
    factors, advance, trace = model.factors(DT), model.advance(), []
    for _ in range(5000):
        g, x = advance((g, x), factors)
        x = x + 1.0
        trace.append(g[0])
    trace = np.array(trace)
    assert trace.max() < 1.0
    assert np.all(np.diff(trace) >= 0)  # rises to its bound and stays there
    bound = model.a * x[0] / (1 / model.tau_decay + model.a * x[0])
    assert trace[-1] == pytest.approx(bound, rel=1e-3)


# --- one step at a time, against each synapse on its own ---


def _generator(model):
    """The linear model's dA/dt = M A, for the matrix exponential (variables in order)."""
    if isinstance(model, Exponential):
        return np.array([[-1 / model.tau]])
    if isinstance(model, DualExponential):
        return np.array([[-1 / model.tau_decay, 1.0], [0.0, -1 / model.tau_rise]])
    if isinstance(model, Alpha):
        return np.array([[-1 / model.tau, 1.0], [0.0, -1 / model.tau]])
    raise AssertionError(model)


def per_synapse_reference(model, conn, weight, spikes):
    """g_post after each step, every synapse integrated on its own in float64."""
    pre, post = np.asarray(conn.pre_ids), np.asarray(conn.post_ids)
    w = np.broadcast_to(np.asarray(weight, float), (conn.n_syn,))
    n_vars = len(model.variables)
    state = np.zeros((conn.n_syn, n_vars))
    if isinstance(model, (Exponential, DualExponential, Alpha)):
        propagator = scipy.linalg.expm(_generator(model) * DT)
    out = []
    for spiked in spikes:
        arriving = spiked[pre]
        if isinstance(model, Delta):
            state[:, 0] = np.where(arriving, w, 0.0)
            g_synapse = state[:, 0]
        elif isinstance(model, NMDA):
            g, x = state[:, 0].copy(), state[:, 1].copy()
            a, tau_d, tau_r = model.a, model.tau_decay, model.tau_rise
            rate = -1 / tau_d - a * x  # d(dg/dt)/dg, x held over the step
            slope = -g / tau_d + a * x * (1 - g)
            state[:, 0] = g + np.expm1(rate * DT) / rate * slope
            state[:, 1] = x * math.exp(-DT / tau_r) + arriving
            g_synapse = w * state[:, 0]
        else:
            state = state @ propagator.T
            state[:, model.input_index] += np.where(arriving, w, 0.0)
            g_synapse = state[:, model.output_index]
        out.append(np.bincount(post, weights=g_synapse, minlength=conn.n_post))
    return out


def entry_conductances(entry, model, conn, weight, spikes, dtype):
    """g_post after each step through the entry's kernels and the model's advance, the
    section 4b step as the runners take it."""
    module, dtype = _module(entry.backend), np.dtype(dtype)
    with _precision(entry.backend, dtype):
        weights = (entry.weights_as_state(conn, weight, dtype)
                   if weights_at_output(entry.state, model) else None)
        data = entry.prepare(conn, 1.0 if weights is not None else weight, dtype)
        state = [entry.init_state(data) for _ in model.variables]
        advance = model.advance("exp_euler", _xp(entry.backend))
        factors = tuple(dtype.type(f) for f in model.factors(DT))
        out = []
        for spiked in spikes:
            state = list(advance(tuple(state), factors))
            i = model.input_index
            state[i] = entry.deliver(data, state[i], module.asarray(spiked))
            g_state = state[model.output_index]
            g = entry.conductance(data, g_state if weights is None else g_state * weights)
            out.append(np.asarray(module.to_numpy(g), dtype=np.float64))
    return out


def _spikes(n_pre, n_steps=40, seed=0):
    """Random spikes at 20 %, a burst of every pre neuron at step 3, a silent step 7."""
    spikes = np.random.default_rng(seed).random((n_steps, n_pre)) < 0.2
    spikes[3], spikes[7] = True, False
    return spikes


def _hub():
    """Pre 0 reaches every post, post 0 hears every pre, a few other pairs, pre 0 silent
    nowhere (it spikes with the rest)."""
    pre = [0] * 9 + list(range(1, 7)) + [2, 3, 5]
    post = list(range(9)) + [0] * 6 + [4, 4, 8]
    return IJConn(pre, post).build(7, 9).canonical()[0]


CONNS = {"fixedprob": lambda: FixedProb(0.3, seed=3).build(23, 17), "hub": _hub}
#: Where a strategy holds one kind of connectivity only (all2all, one2one, procedural),
#: its cases instead: whichever of these it holds.
OWN_KIND_CONNS = {
    "all2all": lambda: All2All(include_self=False).build(8),
    "one2one": lambda: One2One().build(9),
    "counter": lambda: FixedProb(0.3, seed=3, counter_based=True).build(23, 17),
}
EXACT = [(e, name) for e in ENTRIES for name, m in SYNAPSES.items()
         if exactness(e.state, m) is None]


def _weight(kind, conn):
    return 0.6 if kind == "scalar" else np.random.default_rng(1).uniform(0.1, 2.0, conn.n_syn)


def _cases_for(entry):
    """(connectivity, weight kind) pairs ``entry`` holds: CONNS, or OWN_KIND_CONNS for a
    strategy declared for one kind of connectivity."""
    conns = OWN_KIND_CONNS if entry.strategy.connectivity else CONNS
    return [(name, kind) for name in conns for kind in ("scalar", "per_synapse")
            if strategies.unsuited_reason(entry.name, conn := conns[name](),
                                          _weight(kind, conn)) is None]


EXACT_CASES = [(entry, synapse, conn_name, kind) for entry, synapse in EXACT
               for conn_name, kind in _cases_for(entry)]


@pytest.mark.parametrize(("entry", "synapse", "conn_name", "weights"), EXACT_CASES,
                         ids=lambda x: getattr(x, "id", x))
def test_every_exact_entry_equals_each_synapse_on_its_own(entry, synapse, conn_name, weights):
    model, conn = SYNAPSES[synapse], (CONNS | OWN_KIND_CONNS)[conn_name]()
    weight = _weight(weights, conn)
    spikes = _spikes(conn.n_pre)
    expected = per_synapse_reference(model, conn, weight, spikes)
    dtypes = ("float64", "float32") if conn_name == "fixedprob" else ("float64",)
    for dtype in dtypes:
        got = entry_conductances(entry, model, conn, weight, spikes, dtype)
        for step, (g, g_ref) in enumerate(zip(got, expected, strict=True)):
            scale = max(np.abs(g_ref).max(), 1e-300)
            assert np.abs(g - g_ref).max() <= RTOL[dtype] * scale, (
                f"{entry.id} {synapse} {dtype}: g_post differs at step {step}")


INEXACT = [(e, name) for e in ENTRIES for name, m in SYNAPSES.items()
           if exactness(e.state, m) is not None]


def test_the_inexact_pairs_are_nmda_on_post_state():
    assert INEXACT, "NMDA on a post-aligned strategy must be inexact"
    assert {e.state for e, _ in INEXACT} == {"post"}
    assert {name for _, name in INEXACT} == {"nmda"}


@pytest.mark.parametrize(("entry", "synapse"), INEXACT, ids=lambda x: getattr(x, "id", x))
def test_an_inexact_pair_is_refused_and_really_differs(entry, synapse):
    spec = coba(200, synapse=synapse)
    with pytest.raises(SynbenchError, match=f"{entry.name} keeps one state per post neuron.*"
                                            "not linear.*exact for NMDA: .*align_pre_csr"):
        run(spec, entry.name, entry.backend, duration=1.0)
    # On purpose, for teaching: the summed state drifts from each synapse on its own.
    conn = (CONNS | OWN_KIND_CONNS)[_cases_for(entry)[0][0]]()
    spikes = _spikes(conn.n_pre)
    got = entry_conductances(entry, SYNAPSES[synapse], conn, 0.6, spikes, "float64")
    expected = per_synapse_reference(SYNAPSES[synapse], conn, 0.6, spikes)
    assert np.abs(got[-1] - expected[-1]).max() > 1e-3 * np.abs(expected[-1]).max()


def test_a_run_inexact_on_purpose_says_so_everywhere():
    result = run(coba(200, synapse="nmda"), "pre_slice", "numpy", duration=5.0,
                 allow_inexact=True)
    assert "not linear" in result.inexact
    assert "INEXACT" in result.label
    assert result.summary()["inexact"] == result.inexact
    exact = run(coba(200, synapse="nmda"), "pre_ids", "numpy", duration=5.0)
    assert exact.inexact is None and "INEXACT" not in exact.label


# --- whole networks ---

NETWORKS = {name: functools.partial(coba, synapse=name)
            for name in SYNAPSES if name != "exponential"}
NETWORKS["cuba"] = cuba


def _network(name, strategy):
    """Network ``name`` at n = 400, connected as ``strategy`` can hold it."""
    return network_for(strategy, NETWORKS[name], n=400, seed=2)


@pytest.fixture(scope="module")
def references():
    """The reference's raster (NumPy dense, float64, 100 ms) of each network, per kind of
    connectivity a strategy holds (``suited.network_for``)."""
    cache = {}

    def reference(name, strategy):
        key = name, connectivity_kind(strategy)
        if key not in cache:
            cache[key] = run(_network(name, strategy), "dense", "numpy", duration=100.0)
        return cache[key]

    return reference


def _network_cases():
    """Each entry on one network it holds exactly, the networks taken in turn, so that
    every network runs on every backend and on every kind of state: the kernels meet
    each model step by step above (every entry x every model); here the runners do."""
    cases, covered, used = [], set(), dict.fromkeys(NETWORKS, 0)
    for e in ENTRIES:
        if (e.name, e.backend) == ("dense", "numpy"):
            continue
        exact = [name for name in NETWORKS if registry.inexact_reason(
            e.name, _network(name, None).synapse_models()) is None]
        # The network that covers most (network, backend) and (network, state kind)
        # pairs not yet run, else the least run one.
        name = max(exact, key=lambda n: (len({(n, e.backend), (n, e.state)} - covered),
                                         -used[n]))
        covered |= {(name, e.backend), (name, e.state)}
        used[name] += 1
        cases.append((e, name))
    return cases


NETWORK_CASES = _network_cases()


def test_every_network_runs_on_every_backend_and_state_kind():
    covered = {(name, e.backend) for e, name in NETWORK_CASES}
    covered_kinds = {(name, e.state) for e, name in NETWORK_CASES}
    backends = {e.backend for e in ENTRIES}
    assert {(n, b) for n in NETWORKS for b in backends} <= covered
    kinds = {e.state for e in ENTRIES}
    exact_kinds = {(n, kind) for n in NETWORKS for kind in kinds
                   if all(exactness(kind, m) is None for m in _network(n, None).synapse_models())}
    assert exact_kinds <= covered_kinds, exact_kinds - covered_kinds


@pytest.mark.parametrize(("entry", "network"), NETWORK_CASES,
                         ids=lambda x: getattr(x, "id", x))
def test_every_exact_entry_gives_the_reference_raster(entry, network, references):
    reference = references(network, entry.name)
    assert reference.spike_ids.size > 100, "the network must be active for this test to bite"
    result = run(_network(network, entry.name), entry.name, entry.backend, duration=100.0)
    assert result.first_difference(reference) is None


# --- the same rule in compare, fastest and the CLI ---


def test_compare_skips_the_inexact_strategies_and_labels_them_when_asked():
    from synbench.compare import compare

    spec = coba(200, synapse="nmda")
    quiet = {"duration": 5.0, "progress": False, "log": lambda message: None}
    comparison = compare(spec, backends=["numpy"], **quiet)
    skipped = {r.strategy: r.skipped for r in comparison.rows if r.result is None}
    ran = {r.strategy for r in comparison.rows if r.result is not None}
    assert {"pre_slice", "pre2post", "csr"} <= set(skipped)
    assert "not linear" in skipped["pre_slice"]
    assert {"pre_ids", "align_pre_csr", "dense"} <= ran and "pre_slice" not in ran
    with pytest.raises(SynbenchError, match="pre_slice keeps one state per post neuron"):
        compare(spec, strategies=["pre_slice"], backends=["numpy"], **quiet)
    with pytest.raises(SynbenchError, match="the reference must be exact"):
        compare(spec, backends=["numpy"], reference=("pre_slice", "numpy"), **quiet)
    on_purpose = compare(spec, strategies=["pre_slice", "pre_ids"], backends=["numpy"],
                         reference=("pre_ids", "numpy"), allow_inexact=True,
                         **{**quiet, "duration": 50.0})
    row = next(r for r in on_purpose.rows if r.strategy == "pre_slice")
    assert row.result.inexact and "inexact on purpose" in row.agrees and "INEXACT" in row.label
    assert row.first_difference is not None  # NMDA summed per post neuron really differs


def test_fastest_for_nmda_picks_only_exact_strategies():
    from synbench import fastest

    conn = FixedProb(0.05, seed=0).build(300, 300)
    result = fastest(conn, "numpy", rate_hz=10, synapse="nmda", cache=False, budget_s=5)
    assert result.entry.state != "post"
    assert {"pre_slice", "pre2post", "csr"} <= set(result.skipped)
    with pytest.raises(SynbenchError, match="not linear"):
        fastest(conn, "numpy", rate_hz=10, synapse=NMDA(), strategies=["pre_slice"],
                cache=False)


def test_cli_refuses_an_inexact_pair_in_one_line_and_lists_the_exact_ones():
    import subprocess
    import sys

    refused = subprocess.run(
        [sys.executable, "-m", "synbench", "run", "--synapse", "nmda", "--n", "200",
         "--duration", "1", "--strategy", "pre_slice", "--backend", "numpy"],
        capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "--allow-inexact" in refused.stderr
    other_network = subprocess.run(
        [sys.executable, "-m", "synbench", "run", "--network", "cobahh", "--synapse", "nmda"],
        capture_output=True, text=True, timeout=300)
    assert other_network.returncode == 2 and "--synapse chooses COBA's" in other_network.stderr
    listed = subprocess.run([sys.executable, "-m", "synbench", "list", "--synapse", "nmda"],
                            capture_output=True, text=True, timeout=300)
    names = {line.split()[0] for line in listed.stdout.splitlines()[1:] if line.strip()}
    assert {"pre_ids", "align_pre_csr"} <= names and not {"pre_slice", "csr"} & names


def test_memory_held_counts_every_state_variable_and_dense_weights():
    conn = FixedProb(0.1, seed=0).build(100, 80)
    per_synapse = registry.get("pre_ids", "numpy")
    extra = per_synapse.nbytes(conn, "float64", NMDA()) - per_synapse.nbytes(conn, "float64")
    assert extra == 2 * conn.n_syn * 8  # x, and the weights laid out as the state
    per_post = registry.get("pre_slice", "numpy")
    assert (per_post.nbytes(conn, "float64", Alpha())
            - per_post.nbytes(conn, "float64", Exponential())) == 80 * 8  # h per post neuron
    assert registry.get("align_pre_dense", "numpy").nbytes(conn) >= 100 * 80 * 8
    result = run(coba(200, synapse="nmda"), "pre_ids", "numpy", duration=1.0)
    assert result.held_bytes == sum(per_synapse.nbytes(c, "float64", NMDA())
                                    for c in coba(200).connectivity().values())
