"""Delays on JAX (DESIGN section 4c): each mechanism's deliver step by step against
NumPy's, delay 0, and fused projections with delays (every JAX entry's COBA raster with
delays is in test_delays.py)."""

import numpy as np
import pytest

pytest.importorskip("jax", reason="JAX is not installed (pip install 'synbench[jax]')")

from synbench import coba, run  # noqa: E402
from synbench.core import registry  # noqa: E402
from synbench.core.connect import FixedProb  # noqa: E402
from synbench.core.errors import SynbenchError  # noqa: E402
from synbench.core.synapses import Exponential  # noqa: E402

(DECAY,) = Exponential(5.0).factors(0.1)
N, DURATION = 1000, 100.0


def _trace(backend, strategy, mechanism, conn, weight, steps, train):
    """The state after every step, as one value per synapse (read at its slot) or per
    post neuron: decay, then the mechanism delivers what arrives."""
    module = registry.BACKENDS[backend].load()
    entry = registry.get(strategy, backend)
    found = registry.delay_entry(strategy, backend, mechanism)
    slots = entry.synapse_slots(conn)
    data = entry.prepare(conn, weight, "float64")
    delay_data = found.prepare(conn, weight, steps, module.asarray(slots), "float64")
    state, buffer = entry.init_state(data), found.init_buffer(delay_data)
    out = []
    for t, spikes in enumerate(train):
        state = state * DECAY
        state, buffer = found.deliver(delay_data, state, buffer, module.asarray(spikes), t)
        flat = module.to_numpy(state).reshape(-1)
        out.append(flat.copy() if entry.state == "post" else flat[slots])
    return np.array(out)


@pytest.mark.parametrize("weight", ["scalar", "per_synapse"])
@pytest.mark.parametrize("strategy,mechanism", [
    ("pre_slice", "spike_ring"), ("pre_slice", "input_ring"),  # a state per post neuron
    ("pre2syn", "spike_ring"),  # per synapse, in the strategy's own layout
    ("post_slice", "spike_ring"),  # per synapse, padded per post neuron on JAX
    ("dense", "spike_ring"),  # per matrix element
])
def test_each_step_of_a_mechanism_equals_numpy(strategy, mechanism, weight):
    import jax

    conn = FixedProb(0.2, seed=4).build(40, 30)
    rng = np.random.default_rng(1)
    steps = rng.integers(0, 9, conn.n_syn).astype(np.int32)
    steps[0], steps[-1] = 0, 8
    w = 0.7 if weight == "scalar" else rng.uniform(0.1, 2.0, conn.n_syn)
    train = rng.random((120, conn.n_pre)) < 0.2
    train[50:60] = True  # a burst: every neuron, past the compaction bound
    want = _trace("numpy", strategy, mechanism, conn, w, steps, train)
    with jax.enable_x64(True):
        got = _trace("jax", strategy, mechanism, conn, w, steps, train)
    assert np.abs(want).max() > 1
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def test_a_mechanism_runs_inside_the_users_scan():
    import jax

    conn = FixedProb(0.2, seed=4).build(40, 30)
    steps = np.random.default_rng(2).integers(0, 6, conn.n_syn).astype(np.int32)
    train = np.random.default_rng(3).random((50, conn.n_pre)) < 0.2
    want = _trace("numpy", "pre_slice", "input_ring", conn, 0.5, steps, train)
    found = registry.delay_entry("pre_slice", "jax", "input_ring")
    data = found.prepare(conn, 0.5, steps, conn.post_ids, "float32")

    def body(carry, inputs):
        state, ring = carry
        t, spikes = inputs
        state, ring = found.deliver(data, state * np.float32(DECAY), ring, spikes, t)
        return (state, ring), state

    start = (jax.numpy.zeros(conn.n_post), found.init_buffer(data))
    _, got = jax.jit(lambda x: jax.lax.scan(body, start, x))((np.arange(50), train))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


def test_spike_queue_is_unavailable_with_the_alternatives():
    with pytest.raises(SynbenchError, match="unavailable on jax.*spike_ring.*input_ring"):
        registry.delay_entry("pre_slice", "jax", "spike_queue")
    # pre2syn's default (a queue) falls back to the ring JAX has for a state per synapse.
    assert registry.delay_entry("pre2syn", "jax").mechanism == "spike_ring"


def test_delay_zero_is_todays_coba():
    plain = run(coba(N), "csr", "jax", duration=DURATION)
    assert plain.first_difference(run(coba(N, delay=0.0), "csr", "jax",
                                      duration=DURATION)) is None


@pytest.mark.parametrize("delays", ["per_synapse", "mixed"])
def test_fused_projections_with_delays_equal_numpy(delays):
    """Per-synapse delays are merged with their synapses; one delay per projection fuses
    only projections of the same delay (E2I's own 0.5 ms here keeps it apart). The
    raster and the state (``snapshot``) equal the NumPy runner's."""
    from dataclasses import replace

    from synbench.impls import jax as jax_backend
    from synbench.impls import numpy as numpy_backend
    from synbench.run import plan_delays, with_weights

    spec = coba(300, p=0.1, seed=3, delay=(0.1, 3.0) if delays == "per_synapse" else 1.5)
    if delays == "mixed":
        spec = replace(spec, projections=tuple(
            replace(p, delay=0.5) if p.name == "E2I" else p for p in spec.projections))
    spec, conns = with_weights(spec, spec.connectivity())
    sims = []
    for module in (jax_backend, numpy_backend):
        entry = registry.get("pre_slice", module.__name__.rsplit(".", 1)[1])
        plan = plan_delays(spec, conns, entry, 0.1, "input_ring" if delays == "per_synapse"
                           else None)
        sims.append(module.Simulation(spec, entry, conns, 0.1, "float64", 100, delays=plan))
    assert len(sims[0].projections) == (2 if delays == "per_synapse" else 3)
    (got_steps, got_ids), (steps, ids) = (s.advance(300) for s in sims)
    assert ids.size > 100
    np.testing.assert_array_equal(got_steps, steps)
    np.testing.assert_array_equal(got_ids, ids)
    got, want = (s.snapshot() for s in sims)
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-9, atol=1e-12, err_msg=key)
