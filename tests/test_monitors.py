"""Monitors: what ``run(monitor=Monitor(...))`` records, on every backend."""

import dataclasses
import math

import numpy as np
import pytest
from test_run import _two_neuron_spec

from synbench import Monitor, coba, run
from synbench.core import registry
from synbench.core.errors import SynbenchError
from synbench.core.networks import PoissonSource, SpikeTimes, driven
from synbench.core.synapses import MODELS

BACKENDS = list(registry.BACKENDS)


def _backend_or_skip(backend):
    reason = registry.available()[backend]
    if reason is not None:
        pytest.skip(f"{backend} is not available here: {reason}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_after_one_spike_the_recorded_g_is_w_exp_minus_t_over_tau(backend):
    _backend_or_skip(backend)
    # Neuron 0 (E) starts at threshold, spikes at step 0 and then not for ~19 ms; one
    # synapse onto neuron 1 (I).
    spec, dt = _two_neuron_spec([-50.0, -60.0], weight=0.6, tau=5.0), 0.1
    result = run(spec, "pre_slice", backend, duration=15.0,
                 monitor=Monitor(("g:E2I", "v"), neurons=[1]))
    assert result.spike_steps[result.spike_ids == 0].tolist() == [0]  # the one pre spike
    # Sample k is the state after step k; the spike's weight was added in step 0.
    elapsed = np.arange(result.trace_times.size) * dt
    expected = 0.6 * np.exp(-elapsed / 5.0)
    np.testing.assert_allclose(result.traces["g:E2I"][:, 0], expected, rtol=1e-12)
    assert result.trace_neurons["g:E2I"].tolist() == [1]
    assert result.traces["v"].shape == (150, 1)
    assert result.trace_times[0] == pytest.approx(dt) and result.trace_times[-1] == 15.0


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_traces_agree_across_backends_in_float64(backend):
    _backend_or_skip(backend)
    spec = coba(500, seed=3, synapse="alpha")
    monitor = Monitor(("v", "i_syn", "g:E2E", "h:E2E", "g:I2I"), neurons=[0, 7, 450, 499],
                      every=3)
    reference = run(spec, "pre_ids", "numpy", duration=30.0, monitor=monitor)
    result = run(spec, "pre_slice", backend, duration=30.0, monitor=monitor)
    assert result.first_difference(reference) is None
    for name, trace in reference.traces.items():
        np.testing.assert_array_equal(result.trace_neurons[name],
                                      reference.trace_neurons[name])
        scale = np.abs(trace).max()
        assert np.abs(result.traces[name] - trace).max() <= 1e-12 * scale, name
    assert reference.trace_neurons["g:E2E"].tolist() == [0, 7]  # E's post neurons only
    assert reference.trace_neurons["g:I2I"].tolist() == [450, 499]
    assert reference.traces["v"].shape == (100, 4)


def test_monitor_times_match_the_steps_recorded():
    every, dt = 4, 0.1
    result = run(coba(200), "pre_slice", "numpy", duration=2.0, monitor=Monitor(every=every))
    assert result.trace_times.tolist() == pytest.approx([0.4, 0.8, 1.2, 1.6, 2.0])
    assert math.isclose(result.trace_times[1] - result.trace_times[0], every * dt)


@pytest.mark.parametrize(("monitor", "message"), [
    (Monitor(("q",)), "no variable 'q' to record; it has v, i_syn, g:E2E"),
    (Monitor(("g:E2E",), neurons=[190]), "none of Monitor.neurons is a post neuron of E2E"),
    (Monitor(neurons=[200]), r"Monitor.neurons must lie in 0..199"),
    (Monitor(neurons=[]), "non-empty list of neuron indices"),
    (Monitor(every=0), "positive number of steps"),
    (Monitor(every=1000), "longer than the run"),
    (Monitor("v"), "non-empty tuple of names"),
    ("v", "monitor must be a synbench.Monitor"),
])
def test_a_bad_monitor_is_one_clear_error(monitor, message):
    with pytest.raises(SynbenchError, match=message):
        run(coba(200), "pre_slice", "numpy", duration=2.0, monitor=monitor)


def test_neurons_alone_record_v_only():
    result = run(coba(200), None, "numpy", duration=1.0, monitor=Monitor(("v",), [3]))
    assert result.traces["v"].shape == (10, 1)
    with pytest.raises(SynbenchError, match="it has v, i_syn$"):
        run(coba(200), None, "numpy", duration=1.0, monitor=Monitor(("g:E2E",)))


def test_plot_traces_draws_each_variable(tmp_path):
    result = run(coba(200, synapse="nmda"), "pre_ids", "numpy", duration=5.0,
                 monitor=Monitor(("v", "g:E2E", "x:E2E"), neurons=[0, 1]))
    axes = result.plot_traces(tmp_path / "traces.png")
    assert [ax.get_ylabel() for ax in axes] == ["v", "g:E2E", "x:E2E"]
    assert (tmp_path / "traces.png").stat().st_size > 0
    with pytest.raises(SynbenchError, match="nothing was recorded"):
        run(coba(200), "pre_slice", "numpy", duration=1.0).plot_traces()


# --- spike sources: one group driving another through one projection ---



def test_source_spikes_do_not_depend_on_the_chunking():
    source = PoissonSource("P", 50, 40.0, seed=7)
    whole = source.spikes(0, 300, 0.1)
    pieces = np.concatenate([source.spikes(first, 30, 0.1) for first in range(0, 300, 30)])
    np.testing.assert_array_equal(whole, pieces)
    assert 0.5 * 50 * 300 * 0.004 < whole.sum() < 1.5 * 50 * 300 * 0.004  # 40 Hz
    assert not np.array_equal(whole, PoissonSource("P", 50, 40.0, seed=8).spikes(0, 300, 0.1))
    given = SpikeTimes("S", 3, times=[0.0, 0.5, 0.5], ids=[2, 0, 1])
    assert np.argwhere(given.spikes(0, 10, 0.1)).tolist() == [[0, 2], [5, 0], [5, 1]]
    with pytest.raises(SynbenchError, match="not a whole number of steps"):
        SpikeTimes("S", 1, times=[0.05], ids=[0]).spikes(0, 10, 0.1)
    with pytest.raises(SynbenchError, match="ids must be integers in 0..2"):
        SpikeTimes("S", 3, times=[0.0], ids=[3])


CLOSED_FORMS = {
    "exponential": lambda t, w: w * np.exp(-t / 5.0),
    "dual_exponential": lambda t, w: w * 5.0 * 1.0 / 4.0 * (np.exp(-t / 5.0) - np.exp(-t)),
    "alpha": lambda t, w: w * t * np.exp(-t / 5.0),
}


@pytest.mark.parametrize("synapse", CLOSED_FORMS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_one_given_spike_through_a_whole_run_is_the_closed_form(backend, synapse):
    """A source spikes once at 1 ms onto one neuron: the recorded g is the model's
    single-spike response (COBA's excitatory synapse of that model)."""
    _backend_or_skip(backend)
    spec = driven(synapse, n_pre=1, n_post=1, p=1.0)
    spec = dataclasses.replace(spec, sources=(SpikeTimes("P", 1, times=[1.0], ids=[0]),))
    weight = spec.projections[0].weight
    result = run(spec, "pre_slice", backend, duration=30.0, monitor=Monitor(("g:P2N",)))
    trace = result.traces["g:P2N"][:, 0]
    elapsed = np.round(result.trace_times / 0.1).astype(int) - 1 - 10  # steps since 1 ms
    after = elapsed >= 0
    assert np.all(trace[~after] == 0.0)
    np.testing.assert_allclose(trace[after], CLOSED_FORMS[synapse](elapsed[after] * 0.1, weight),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("synapse", list(MODELS))
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_a_driven_group_gives_the_same_g_and_v_on_every_backend(backend, synapse):
    """Seed 004's picture (one Poisson group driving one group through one projection,
    g(t) and V(t)) for every synapse model, against NumPy's."""
    _backend_or_skip(backend)
    spec, monitor = driven(synapse), Monitor(("v", "g:P2N"), neurons=[0, 3, 9], every=2)
    reference = run(spec, "pre_ids", "numpy", duration=100.0, monitor=monitor)
    assert reference.events > 0
    # AlignPre holds every model exactly (the rasters of every entry are tested elsewhere).
    result = run(spec, "align_pre_csr", backend, duration=100.0, monitor=monitor)
    assert result.first_difference(reference) is None and result.events == reference.events
    for name, trace in reference.traces.items():
        assert np.abs(result.traces[name] - trace).max() <= 1e-12 * np.abs(trace).max()
    drawn = reference.plot_traces()
    assert [ax.get_ylabel() for ax in drawn] == ["v", "g:P2N"]
