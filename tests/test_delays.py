"""Transmission delays (DESIGN section 4c): every entry and delay mechanism against an
independent reference, COBA rasters with delays, a queue burst, and delay 0.

The reference shares no code with the strategies or the mechanisms: a plain list of
(arrival step, post neuron, weight) events built from the spike train and the delays,
summed into an exponentially decaying conductance.
"""

import re
from collections import defaultdict

import numpy as np
import pytest
from suited import connectivity_for, network_for, weight_for

from synbench import coba, run
from synbench.core import delays, registry, strategies
from synbench.core.connect import Connectivity, FixedProb, IJConn
from synbench.core.delays import UniformDelay, to_steps
from synbench.core.errors import SynbenchError
from synbench.core.networks import Projection
from synbench.core.synapses import Exponential
from synbench.run import unsuited_reason

ENTRIES = registry.entries()
(DECAY,) = Exponential(5.0).factors(0.1)
MECHANISMS = tuple(delays.MECHANISMS)


def reference_conductance(conn, weight, steps, train, decay=DECAY):
    """g_post after every step: each spike of pre i at step t puts (t + d_k, post_k, w_k)
    on a list for every synapse k of i; each step decays g, then adds what arrives."""
    weight = np.broadcast_to(np.asarray(weight, float), (conn.n_syn,))
    arriving = defaultdict(list)
    for t, spikes in enumerate(train):
        for k, (pre, post) in enumerate(zip(conn.pre_ids, conn.post_ids, strict=True)):
            if spikes[pre]:
                arriving[t + int(steps[k])].append((int(post), float(weight[k])))
    g, out = np.zeros(conn.n_post), []
    for t in range(len(train)):
        g = g * decay
        for post, w in arriving[t]:
            g[post] += w
        out.append(g.copy())
    return np.array(out)


def _train(n_pre, n_steps=40, seed=0):
    rng = np.random.default_rng(seed)
    train = rng.random((n_steps, n_pre)) < 0.3
    train[5] = False
    return train


def _delay_steps(conn, seed=2, max_delay=6):
    """Random delays over 0..max_delay, with 0 and the maximum both present."""
    steps = np.random.default_rng(seed).integers(0, max_delay + 1, conn.n_syn).astype(np.int32)
    if conn.n_syn >= 2:
        steps[0], steps[-1] = 0, max_delay
    return steps


def _multapses():
    """Pairs repeated with different delays: 0 -> 1 three times, 2 -> 0 twice."""
    pre = [0, 0, 0, 1, 2, 2, 3, 3]
    post = [1, 1, 1, 2, 0, 0, 3, 1]
    return IJConn(pre, post, multapses=True).build(4, 4).canonical()[0]


def _module(backend):
    return registry.BACKENDS[backend].load()


def delayed_trace(entry, delay_entry, conn, weight, steps, train):
    """g_post after every step through ``entry``'s state and ``delay_entry``'s deliver."""
    module = _module(entry.backend)
    data = entry.prepare(conn, weight, "float64")
    state = entry.init_state(data)
    slots = module.asarray(entry.synapse_slots(conn))
    delay_data = delay_entry.prepare(conn, weight, steps, slots, "float64")
    buffer = delay_entry.init_buffer(delay_data)
    out = []
    for t, spikes in enumerate(train):
        state = state * DECAY
        state, buffer = delay_entry.deliver(delay_data, state, buffer, module.asarray(spikes), t)
        out.append(module.to_numpy(entry.conductance(data, state)).copy())
    return np.array(out)


def _precision(backend):
    precision = getattr(_module(backend), "precision", None)
    import contextlib

    return precision("float64") if precision is not None else contextlib.nullcontext()


def _check_entry_mechanism(entry, mechanism, conn, weight, steps, train):
    """The entry with ``mechanism`` equals the reference, or refuses with the reason."""
    why = delays.unsuited_reason(entry.strategy, mechanism)
    if why is not None:
        with pytest.raises(SynbenchError, match=re.escape(why)):
            registry.delay_entry(entry.name, entry.backend, mechanism)
        return False
    found = registry._DELAYS.get((mechanism, entry.backend))
    if found is None or found.unavailable:
        with pytest.raises(SynbenchError, match="unavailable"):
            registry.delay_entry(entry.name, entry.backend, mechanism)
        return False
    delay_entry = registry.delay_entry(entry.name, entry.backend, mechanism)
    with _precision(entry.backend):
        got = delayed_trace(entry, delay_entry, conn, weight, steps, train)
    want = reference_conductance(conn, weight, steps, train)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    return True


CASES = {
    "fixedprob": lambda: FixedProb(0.3, seed=3).build(23, 17),
    "multapses": _multapses,
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_every_entry_and_mechanism_equals_the_event_list(entry, case):
    conn = CASES[case]() if case != "fixedprob" else connectivity_for(entry.name, 23, 17)
    if strategies.unsuited_reason(entry.name, conn, weight_for(entry.name, conn)) is not None:
        conn = connectivity_for(entry.name, 23, 17)  # all2all, one2one, procedural
    steps = _delay_steps(conn)
    train = _train(conn.n_pre)
    checked = 0
    for weight in (0.75, weight_for(entry.name, conn)):
        for mechanism in MECHANISMS:
            checked += _check_entry_mechanism(entry, mechanism, conn, weight, steps, train)
    declared = entry.strategy
    if declared.state != "pre" and not declared.connectivity and entry.backend in ("numpy",
                                                                                   "numba"):
        assert checked >= 2  # every mechanism for its state kind, both weights


def test_every_strategy_has_a_delay_story():
    """Each declared strategy holds per-synapse delays by its default mechanism, or says
    why not (AlignPre: one state per pre neuron; structure-free: no per-synapse data)."""
    for name in strategies.names():
        declared = strategies.strategy(name)
        why = delays.unsuited_reason(declared)
        assert (why is None) == (declared.state != "pre" and not declared.connectivity), name


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_burst_beyond_the_queue_capacity_drops_nothing(backend):
    # 60 x 60 all-to-all: one step of every pre spiking puts 3600 events into one bin,
    # far beyond the queue's first capacity (16 per bin).
    conn = FixedProb(1.0, seed=0).build(60, 60)
    steps = np.full(conn.n_syn, 3, np.int32)
    steps[::7] = 2
    train = np.zeros((10, 60), bool)
    train[1] = True
    train[2, ::3] = True
    assert delays.initial_queue_capacity(conn.n_syn) < conn.n_syn
    entry = registry.get("pre2syn", backend)
    assert _check_entry_mechanism(entry, "spike_queue", conn, 0.5, steps, train)


def test_delays_in_steps():
    assert to_steps(1.5, 0.1) == 15
    assert to_steps([0.0, 0.1, 0.3, 5.0], 0.1).tolist() == [0, 1, 3, 50]
    with pytest.raises(SynbenchError, match="not a whole number of steps"):
        to_steps(0.15, 0.1)
    with pytest.raises(SynbenchError, match=">= 0"):
        to_steps(-0.1, 0.1)
    with pytest.raises(SynbenchError, match=">= 0"):
        to_steps([0.1, np.nan], 0.1)


def test_uniform_delays_cover_both_ends_and_follow_the_seed():
    steps = UniformDelay(0.1, 0.5, seed=4).steps(20_000, 0.1)
    assert set(np.unique(steps).tolist()) == {1, 2, 3, 4, 5}
    counts = np.bincount(steps)[1:]
    assert counts.min() > 0.9 * counts.mean()  # uniform over the whole steps
    assert np.array_equal(steps, UniformDelay(0.1, 0.5, seed=4).steps(20_000, 0.1))
    assert not np.array_equal(steps, UniformDelay(0.1, 0.5, seed=5).steps(20_000, 0.1))
    with pytest.raises(SynbenchError, match="low <= high"):
        UniformDelay(2.0, 1.0)


def test_projection_delays_resolve_against_the_connectivity():
    conn = Connectivity(3, 3, [2, 0, 1], [1, 1, 0], delays=[0.5, 0.1, 0.2])
    p = Projection("P", "A", "B", FixedProb(0.1), 5.0, 1.0, 0.0, delay=None)
    assert p.delay_steps(conn, 0.1).tolist() == [1, 2, 5]  # canonical order
    assert Projection("P", "A", "B", FixedProb(0.1), 5.0, 1.0, 0.0).delay_steps(conn, 0.1) == 0
    per = Projection("P", "A", "B", FixedProb(0.1), 5.0, 1.0, 0.0, delay=[0.1, 0.2, 0.3])
    with pytest.raises(SynbenchError, match="canonical .* order"):  # which order is meant?
        per.delay_steps(conn, 0.1)
    assert per.delay_steps(conn.canonical()[0], 0.1).tolist() == [1, 2, 3]
    with pytest.raises(SynbenchError, match="one delay per synapse"):
        Projection("P", "A", "B", FixedProb(0.1), 5.0, 1.0, 0.0,
                   delay=[0.1, 0.2]).delay_steps(conn, 0.1)
    with pytest.raises(SynbenchError, match="delay must be finite and >= 0"):
        Projection("P", "A", "B", FixedProb(0.1), 5.0, 1.0, 0.0, delay=-1.0)
    with pytest.raises(SynbenchError, match="not a whole number of steps"):
        run(coba(200, delay=0.25), "pre_slice", "numpy", duration=1.0)
    with pytest.raises(SynbenchError, match=r"\(low, high\)"):
        coba(200, delay=(0.1, 0.2, 0.3))


def test_per_synapse_delays_are_saved_with_the_connectivity(tmp_path):
    conn = Connectivity(4, 3, [3, 0, 1, 0], [1, 1, 0, 2], delays=[0.5, 0.1, 0.2, 2.0])
    loaded = Connectivity.load(conn.save(tmp_path / "c"))
    assert loaded == conn and loaded.delays.tolist() == [0.1, 2.0, 0.2, 0.5]
    with pytest.raises(SynbenchError, match="delays must be finite and >= 0"):
        Connectivity(2, 2, [0, 1], [1, 0], delays=[0.1, -0.2])


def test_unknown_or_unsuited_mechanisms_are_refused_with_the_reason():
    spec = coba(200, delay=(0.1, 1.0))
    with pytest.raises(SynbenchError, match="unknown delay mechanism 'input_rng'.*input_ring"):
        run(spec, "pre_slice", "numpy", duration=1.0, delay_mechanism="input_rng")
    with pytest.raises(SynbenchError, match="pre2syn keeps its state per synapse"):
        run(spec, "pre2syn", "numpy", duration=1.0, delay_mechanism="input_ring")
    with pytest.raises(SynbenchError, match="one state per pre neuron"):
        run(spec, "align_pre_csr", "numpy", duration=1.0)


# --- networks ---

DURATION = 100.0
N = 400


def _networks():
    return {"homogeneous": lambda s: network_for(s, coba, n=N, delay=1.5),
            "per_synapse": lambda s: network_for(s, coba, n=N, delay=(0.1, 5.0))}


_REFERENCE = {}


def _reference(kind):
    if kind not in _REFERENCE:
        _REFERENCE[kind] = run(_networks()[kind]("dense"), "dense", "numpy", duration=DURATION)
    return _REFERENCE[kind]


def _holds_per_synapse_delays(entry) -> bool:
    return delays.unsuited_reason(entry.strategy) is None


def _delay_kinds():
    """(entry, delay kind) for the raster test: every entry runs one kind, alternating
    within each (backend, state kind), so that both kinds run on every backend and state
    kind and each per-synapse mechanism runs somewhere (Numba and JAX compile per entry
    and kind: both kinds for every entry would double the suite's longest test). The
    entries that hold one delay per projection only run that one. The kernels of every
    entry with every mechanism are checked step by step above; the ring of pre spikes in
    front of one delay is the runner's, the same for every strategy."""
    turns, chosen = {}, []
    for entry in ENTRIES:
        if not _holds_per_synapse_delays(entry):
            chosen.append((entry, "homogeneous"))
            continue
        key = (entry.backend, entry.state)
        turns[key] = turns.get(key, -1) + 1
        chosen.append((entry, ("per_synapse", "homogeneous")[turns[key] % 2]))
    return chosen


@pytest.mark.parametrize("entry,kind", _delay_kinds(), ids=lambda x: getattr(x, "id", x))
def test_coba_with_delays_gives_the_reference_raster(entry, kind):
    spec = _networks()[kind](entry.name)
    result = run(spec, entry.name, entry.backend, duration=DURATION)
    if strategies.strategy(entry.name).connectivity:  # its own network: NumPy dense on it
        reference = run(spec, "dense", "numpy", duration=DURATION)
    else:
        reference = _reference(kind)
    assert result.spike_ids.size > 50
    assert reference.first_difference(result) is None


def test_both_kinds_run_on_every_backend_and_state_kind():
    ran = {(e.backend, e.state, kind) for e, kind in _delay_kinds()}
    for entry in ENTRIES:
        assert (entry.backend, entry.state, "homogeneous") in ran
        if _holds_per_synapse_delays(entry):
            assert (entry.backend, entry.state, "per_synapse") in ran


@pytest.mark.parametrize("entry", [e for e in ENTRIES if not _holds_per_synapse_delays(e)],
                         ids=lambda e: e.id)
def test_per_synapse_delays_are_refused_where_they_cannot_be_held(entry):
    spec = _networks()["per_synapse"](entry.name)
    why = unsuited_reason(spec, entry.name, spec.connectivity(), entry.backend)
    assert why is not None and ("per pre neuron" in why or "no per-synapse data" in why
                                or "holds only" in why), why
    with pytest.raises(SynbenchError, match=re.escape(why.split(";")[0])):
        run(spec, entry.name, entry.backend, duration=1.0)


def test_delays_shift_the_network():
    """The delays change the raster (the test above would pass if they were ignored
    only if the reference ignored them too: here the reference itself moves)."""
    plain = run(coba(N), "dense", "numpy", duration=DURATION)
    assert plain.first_difference(_reference("homogeneous")) is not None
    assert _reference("homogeneous").first_difference(_reference("per_synapse")) is not None


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_delay_zero_reproduces_todays_results(backend):
    plain = run(coba(N), "pre_slice", backend, duration=DURATION)
    assert plain.first_difference(run(coba(N, delay=0.0), "pre_slice", backend,
                                      duration=DURATION)) is None
    for mechanism in MECHANISMS:
        if delays.unsuited_reason(strategies.strategy("pre_slice"), mechanism) is None:
            zero = run(coba(N, delay=(0.0, 0.0)), "pre_slice", backend, duration=DURATION,
                       delay_mechanism=mechanism)
            assert plain.first_difference(zero) is None, mechanism


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_network_conductance_equals_the_event_list_of_its_own_raster(backend):
    """The whole run, independently: g of E2E recorded every step equals the event-list
    reference built from the run's own raster and the projection's delays."""
    from synbench import Monitor

    spec = coba(200, delay=(0.1, 2.0))
    conn = spec.connectivity()["E2E"]
    steps = spec.projections[0].delay_steps(conn, 0.1)
    result = run(spec, "pre2syn", backend, duration=30.0,
                 monitor=Monitor(("g:E2E",), neurons=np.arange(spec.groups[0].size)))
    n_exc = spec.groups[0].size
    train = np.zeros((result.n_steps, n_exc), bool)
    exc = result.spike_ids < n_exc
    train[result.spike_steps[exc], result.spike_ids[exc]] = True
    want = reference_conductance(conn, spec.projections[0].weight, steps, train)
    assert train.sum() > 20
    np.testing.assert_allclose(result.traces["g:E2E"], want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_mechanism_refuses_what_would_read_or_write_out_of_bounds(backend, mechanism):
    conn = FixedProb(0.3, seed=3).build(23, 17)
    other = FixedProb(0.3, seed=3).build(23, 17)
    entry = registry.get("pre2syn" if mechanism != "input_ring" else "pre_slice", backend)
    found = registry.delay_entry(entry.name, backend, mechanism)
    slots = entry.synapse_slots(conn)
    data = found.prepare(conn, 0.5, _delay_steps(conn, max_delay=4), slots, "float64")
    longer = found.prepare(other, 0.5, _delay_steps(other, max_delay=9), slots, "float64")
    state = np.zeros(conn.n_syn if entry.state == "synapse" else conn.n_post)
    spikes = np.ones(conn.n_pre, bool)
    with pytest.raises(SynbenchError, match="buffer does not belong to this data"):
        found.deliver(data, state, found.init_buffer(longer), spikes, 0)
    buffer = found.init_buffer(data)
    with pytest.raises(SynbenchError, match="slots reach"):
        found.deliver(data, state[:3], buffer, spikes, 0)
    with pytest.raises(SynbenchError, match="bool spikes"):
        found.deliver(data, state, buffer, spikes.astype(float), 0)
    with pytest.raises(SynbenchError, match="spikes must have shape"):
        found.deliver(data, state, buffer, spikes[:-1], 0)
    with pytest.raises(SynbenchError, match="step must be an integer >= 0"):
        found.deliver(data, state, buffer, spikes, -1)
    state, buffer = found.deliver(data, state, buffer, spikes, 0)  # what it accepts
    assert state.any()


def _multapse_network():
    """COBA n = 200 whose projections hold repeated pairs, given out of canonical order,
    with per-synapse delays: every structure sorts them, every mechanism finds them."""
    import dataclasses

    spec = coba(200)
    rng = np.random.default_rng(0)
    projections = []
    for p in spec.projections:
        n_pre, n_post = spec.group(p.pre).size, spec.group(p.post).size
        i, j = rng.integers(0, n_pre, 8 * n_pre), rng.integers(0, n_post, 8 * n_pre)
        i, j = np.concatenate([i, i[:50]]), np.concatenate([j, j[:50]])
        projections.append(dataclasses.replace(
            p, connector=IJConn(i, j, multapses=True), weight=3 * p.weight,
            delay=UniformDelay(0.1, 2.0, seed=1)))
    return dataclasses.replace(spec, projections=tuple(projections))


@pytest.mark.parametrize("backend", [b for b in registry.BACKENDS
                                     if registry.available()[b] is None])
def test_multapses_with_different_delays_give_the_reference_raster(backend):
    spec = _multapse_network()
    reference = run(spec, "dense", "numpy", duration=50.0)
    assert reference.spike_ids.size > 100
    for strategy in ("pre_slice", "pre2syn", "event_dense"):  # post, synapse, matrix state
        assert reference.first_difference(run(spec, strategy, backend, duration=50.0)) is None
