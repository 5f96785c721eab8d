"""Whole networks: every entry's raster against the reference, hand-worked runs, rates."""

import math
import subprocess
import sys

import numpy as np
import pytest
from suited import connectivity_kind, network_for

from synbench import coba, cobahh, registry, run
from synbench.core.connect import IJConn
from synbench.core.errors import SynbenchError
from synbench.core.networks import Group, NetworkSpec, Projection
from synbench.core.neurons import LIFParams
from synbench.core.synapses import Exponential
from synbench.impls import numpy as numpy_backend
from synbench.run import RunResult

ENTRIES = registry.entries()
# COBAHH differs from COBA in its neurons only, which no strategy touches: one entry of
# each (backend, state kind, event-driven, connectivity kind) suffices there.
HH_ENTRIES = list({(e.backend, e.state, e.event_driven, e.strategy.connectivity): e
                   for e in reversed(ENTRIES) if e.state != "matrix"}.values())[::-1]


def _references(build):
    """For each strategy, ``build(n=1000, seed=1)`` connected as it can hold
    (``suited.network_for``), its connectivity and the reference's 100 ms; one per kind."""
    found = {}

    def reference_for(strategy):
        kind = connectivity_kind(strategy)
        if kind not in found:
            spec = network_for(strategy, build, n=1000, seed=1)
            conns = spec.connectivity()
            found[kind] = spec, conns, run(spec, "dense", "numpy", duration=100.0, conns=conns)
        return found[kind]

    return reference_for


@pytest.fixture(scope="module")
def coba_1000():
    return _references(coba)


@pytest.fixture(scope="module")
def cobahh_1000():
    return _references(cobahh)


@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_coba_raster_identical_to_reference(entry, coba_1000):
    spec, conns, reference = coba_1000(entry.name)
    assert reference.spike_ids.size > 500, "the reference network should be active"
    result = run(spec, entry.name, entry.backend, duration=100.0, conns=conns)
    assert result.first_difference(reference) is None
    assert result.events == reference.events


@pytest.mark.slow
@pytest.mark.parametrize("entry", HH_ENTRIES, ids=lambda e: e.id)
def test_cobahh_raster_identical_to_reference(entry, cobahh_1000):
    spec, conns, reference = cobahh_1000(entry.name)
    assert reference.spike_ids.size > 100, "the reference network should be active"
    result = run(spec, entry.name, entry.backend, duration=100.0, conns=conns)
    assert result.first_difference(reference) is None


def test_coba_rates_in_plausible_band():
    # COBA at n = 1000 with p = 80/n: every neuron gets on average 60 E and 20 I inputs, as
    # at n = 4000 with p = 0.02. With I_bg = 20 mV the free membrane would settle at -40 mV,
    # above threshold, so without inhibition a neuron fires about every 5 ms (refractory)
    # + 14 ms (charging), ~50 Hz; recurrent inhibition must pull the network below that but
    # keep it firing. The band [5, 45] Hz holds the asynchronous state Vogels & Abbott
    # report (~10-30 Hz) with margin, and excludes both silence and the neurons-alone rate.
    spec = coba(1000, seed=0)
    result = run(spec, "pre_slice", "numpy", duration=200.0)
    alone = run(spec, None, "numpy", duration=200.0)
    for group in ("E", "I"):
        assert 5.0 <= result.rates[group] <= 45.0, result.rates
        assert result.rates[group] < alone.rates[group]
    assert alone.rates["E"] == pytest.approx(1000.0 / _lif_isi_ms(), rel=0.1)


def _lif_isi_ms(dt=0.1):
    """Interspike interval of a lone LIF neuron, in ms, on the step grid."""
    p = LIFParams()
    charge = p.tau * math.log((p.el + p.i_bg - p.v_reset) / (p.el + p.i_bg - p.v_th))
    return (round(p.t_ref / dt) + math.ceil(charge / dt - 1e-9)) * dt


def _two_neuron_spec(v0, weight=0.6, tau=5.0, e_rev=0.0):
    empty = IJConn([], [])
    return NetworkSpec(
        name="coba", model="lif", params=LIFParams(),
        groups=(Group("E", 0, 1), Group("I", 1, 1)),
        projections=(
            Projection("E2E", "E", "E", empty, 5.0, 0.6, 0.0),
            Projection("E2I", "E", "I", IJConn([0], [0]), tau, weight, e_rev),
            Projection("I2E", "I", "E", empty, 10.0, 6.7, -80.0),
            Projection("I2I", "I", "I", empty, 10.0, 6.7, -80.0),
        ),
        initial={"v": np.array(v0, dtype=float)},
    )


def test_two_neurons_one_synapse_by_hand():
    """Neuron 0 (E) spikes in step 0 and drives neuron 1 (I) through one synapse.

    LIF with exp_euler is exact for constant input: over one step,
    v' = v_inf + (v - v_inf) * exp(-dt / tau) with v_inf = El + I_bg + I_syn.
    """
    p, dt = LIFParams(), 0.1
    spec = _two_neuron_spec([-50.0, -60.0])
    conns = spec.connectivity()
    entry = registry.get("pre_slice", "numpy")
    sim = numpy_backend.Simulation(spec, entry, conns, dt, "float64", 10)
    a = math.exp(-dt / p.tau)
    decay = math.exp(-dt / 5.0)

    # Step 0: neuron 0 reaches -40 - 10 a > -50: spikes and resets; neuron 1 only leaks.
    steps, ids = sim.advance(1)
    assert steps.tolist() == [0] and ids.tolist() == [0]
    v1 = -40.0 + (-60.0 + 40.0) * a
    state = sim.snapshot()
    assert state["v"][0] == p.v_reset
    assert state["v"][1] == pytest.approx(v1, rel=1e-14)
    assert state["g:E2I"][0] == pytest.approx(0.6, rel=1e-14)
    i_syn = 0.6 * (0.0 - v1)
    assert state["i_syn"][1] == pytest.approx(i_syn, rel=1e-14)

    # Step 1: neuron 0 is refractory and keeps v_reset; neuron 1 integrates I_syn.
    sim.advance(1)
    v2 = (-40.0 + i_syn) + (v1 - (-40.0 + i_syn)) * a
    g = 0.6 * decay
    state = sim.snapshot()
    assert state["v"][0] == p.v_reset
    assert state["v"][1] == pytest.approx(v2, rel=1e-14)
    assert state["g:E2I"][0] == pytest.approx(g, rel=1e-14)
    assert state["i_syn"][1] == pytest.approx(g * (0.0 - v2), rel=1e-14)


def test_two_neurons_spike_steps_by_hand():
    """The synapse makes neuron 1 spike, at the step a scalar re-derivation predicts."""
    p, dt = LIFParams(), 0.1
    ref = round(p.t_ref / dt)
    a, decay = math.exp(-dt / p.tau), math.exp(-dt / 5.0)
    v, g, i_syn, last = [-50.0, -60.0], 0.0, [0.0, 0.0], [-(10**9)] * 2
    expected = []
    for k in range(300):
        spiked = []
        for j in range(2):
            if k - last[j] <= ref:
                continue
            v_inf = p.el + p.i_bg + i_syn[j]
            v[j] = v_inf + (v[j] - v_inf) * a
            if v[j] >= p.v_th:
                v[j], last[j] = p.v_reset, k
                spiked.append(j)
        expected += [(k, j) for j in spiked]
        g = g * decay + (3.0 if 0 in spiked else 0.0)
        i_syn = [0.0, g * (0.0 - v[1])]
    result = run(_two_neuron_spec([-50.0, -60.0], weight=3.0), "pre_slice", "numpy",
                 duration=30.0)
    observed = zip(result.spike_steps.tolist(), result.spike_ids.tolist(), strict=True)
    assert list(observed) == expected
    # Neuron 1 fires earlier than it would alone, so the synapse did something.
    assert min(k for k, j in expected if j == 1) < _lif_isi_ms() / dt
    assert result.events == sum(1 for _, j in expected if j == 0)


def test_first_difference():
    base = dict(network="coba", n=3, strategy="x", backend="numpy", dtype="float64", dt=0.1,
                n_steps=10, rates={}, wall_s=1.0, compile_s=0.0, events=0)
    a = RunResult(spike_steps=np.array([1, 2, 5]), spike_ids=np.array([0, 1, 2]), **base)
    b = RunResult(spike_steps=np.array([1, 2, 6]), spike_ids=np.array([0, 1, 2]), **base)
    c = RunResult(spike_steps=np.array([1, 2]), spike_ids=np.array([0, 1]), **base)
    assert a.first_difference(a) is None
    assert a.first_difference(b) == 5
    assert a.first_difference(c) == 5 and c.first_difference(a) == 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration": 10.05}, "whole number of steps"),
        ({"duration": -1.0}, "duration must be a positive"),
        ({"dt": 0.0}, "dt must be a positive"),
        ({"dtype": "float16"}, "dtype must be one of"),
        ({"strategy": "pre_slise"}, "did you mean 'pre_slice'"),
        ({"backend": "numbaa"}, "did you mean 'numba'"),
        ({"chunk_steps": 0}, "chunk_steps must be a positive"),
    ],
)
def test_bad_run_arguments(kwargs, message):
    args = {"strategy": "pre_slice", "backend": "numpy", "duration": 10.0} | kwargs
    with pytest.raises(SynbenchError, match=message):
        run(coba(100, p=0.1), **args)


@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        (coba, {"n": 0}, "positive integer"),
        (coba, {"n": 50}, "pass p explicitly"),
        (coba, {"n": 1000, "p": 1.5}, r"not in \[0, 1\]"),
        (coba, {"n": 1000, "exc_fraction": 1.0}, "exc_fraction"),
        (cobahh, {"n": 1000, "method": "rk5"}, "unknown method"),
    ],
)
def test_bad_network_arguments(factory, kwargs, message):
    with pytest.raises(SynbenchError, match=message):
        factory(**kwargs)


def test_dense_that_cannot_fit_is_refused_with_advice(monkeypatch):
    monkeypatch.setattr(numpy_backend, "free_memory", lambda: 10**6)
    with pytest.raises(SynbenchError, match="use a sparse strategy such as pre_slice"):
        run(coba(1000), "dense", "numpy", duration=1.0)


def test_spec_defaults_follow_design():
    spec = coba()
    assert spec.n == 4000 and spec.p == 0.02
    assert [(g.name, g.size) for g in spec.groups] == [("E", 3000), ("I", 1000)]
    assert [p.name for p in spec.projections] == ["E2E", "E2I", "I2E", "I2I"]
    assert [(p.synapse.tau, p.weight, p.e_rev) for p in spec.projections] == [
        (5.0, 0.6, 0.0), (5.0, 0.6, 0.0), (10.0, 6.7, -80.0), (10.0, 6.7, -80.0)]
    assert all(isinstance(p.synapse, Exponential) for p in spec.projections)
    assert coba(8000).p == pytest.approx(0.01)
    v0 = coba(4000, seed=3).initial["v"]
    assert abs(v0.mean() + 60.0) < 0.5 and abs(v0.std() - 5.0) < 0.3
    np.testing.assert_array_equal(v0, coba(4000, seed=3).initial["v"])
    assert not np.array_equal(v0, coba(4000, seed=4).initial["v"])


def test_plots_draw_into_the_callers_axes_without_touching_pyplot():
    import matplotlib
    from matplotlib.figure import Figure

    from synbench.compare import compare

    backend_before = matplotlib.get_backend()
    spec = coba(300)
    result = run(spec, "pre_slice", "numpy", duration=30.0, progress=False)
    ax = Figure().add_subplot()
    assert result.plot_raster(ax=ax) is ax
    drawn = sum(len(line.get_xdata()) for line in ax.lines)
    assert drawn == result.spike_ids.size > 0
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [f"{g}: {result.rates[g]:.1f} Hz" for g in ("E", "I")]

    comparison = compare(spec, ["pre_slice", "pre2post"], ["numpy"], duration=10.0,
                         progress=False, log=lambda message: None)
    ax = Figure().add_subplot()
    assert comparison.plot(ax=ax) is ax
    timed = [r for r in comparison.rows if r.result is not None]
    assert len(ax.patches) == len(timed) == 3  # neurons alone, pre_slice, pre2post
    widths = sorted(p.get_width() for p in ax.patches)
    assert widths == sorted(r.result.wall_s for r in timed)
    assert matplotlib.get_backend() == backend_before


def test_a_run_without_progress_imports_only_what_it_needs():
    code = ("import sys, synbench; synbench.run(synbench.coba(200), 'pre_slice', 'numpy', "
            "duration=2.0); print(sorted(m for m in ('tqdm', 'jax', 'cupy', 'matplotlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300)
    assert out.stdout.strip() == "[]"


def test_compare_reuses_a_reference_run_it_is_given():
    from synbench import compare

    spec, logged = coba(200), []
    first = compare(spec, ["pre_slice"], ["numpy"], duration=5.0, progress=False,
                    log=logged.append, reference=("dense", "numpy"))
    assert any(line.startswith("reference run: dense-numpy") for line in logged)
    reference = first.reference_run
    assert reference.strategy == "dense" and reference.dtype == "float64"

    logged.clear()
    second = compare(spec, ["pre_ids", "dense"], ["numpy"], duration=5.0, progress=False,
                     log=logged.append, reference=reference)
    assert not any(line.startswith("reference run") for line in logged)
    assert second.reference == "dense-numpy float64 (given)"
    rows = {row.strategy: row for row in second.rows if row.strategy}
    assert rows["dense"].result is reference  # reused, not run again
    assert rows["pre_ids"].checked and rows["pre_ids"].first_difference is None
    assert np.array_equal(rows["pre_ids"].result.spike_ids, reference.spike_ids)

    for other, kwargs in ((coba(200, seed=1), {}), (spec, {"duration": 4.0})):
        with pytest.raises(SynbenchError, match="is not a run of this network"):
            compare(other, ["pre_ids"], ["numpy"], progress=False, log=logged.append,
                    reference=reference, **{"duration": 5.0, **kwargs})
