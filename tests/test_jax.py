"""The JAX backend beyond the registry-wide tests: bounded compaction, the runner, x64.

test_kernels.py and test_run.py already check every jax entry against the reference;
these tests cover what only JAX has: spike compaction with a static bound (never
dropping a spike), kernels inside a user's own ``jit`` / ``scan``, float64 without
leaking x64 into the caller, and the chunked runner (no recompilation, bounded monitor).
"""

import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="JAX not installed: pip install 'synbench[jax]'")
jnp = jax.numpy

from suited import connectivity_for  # noqa: E402

from synbench import coba, cobahh, registry, run  # noqa: E402
from synbench.core import strategies  # noqa: E402
from synbench.core.connect import FixedProb  # noqa: E402
from synbench.core.reference import reference_conductances  # noqa: E402
from synbench.impls import jax as jax_backend  # noqa: E402

# The strategies whose runner path goes through their block adder.
EVENT_DRIVEN = sorted(e.name for e in registry.entries()
                      if e.backend == "jax" and "add_events" in e.extras)


def _reference_trace(conn, weight, spikes, decay):
    return np.array(reference_conductances(conn, weight, spikes, decay))


@pytest.fixture(scope="module")
def conn():
    return FixedProb(0.2, seed=5).build(40, 30)


@pytest.mark.parametrize("n", [1, 31, 32, 33, 100, 1000, 4000])
@pytest.mark.parametrize("size", [1, 5, 64])
def test_compact_matches_nonzero(n, size):
    rng = np.random.default_rng(n + size)
    compact = jax.jit(jax_backend.compact, static_argnums=1)
    for p in (0.0, 0.01, 0.3, 1.0):
        mask = rng.random(n) < p
        ids, count = compact(jnp.asarray(mask), size)
        expected = np.full(size, n)
        found = np.flatnonzero(mask)[:size]
        expected[: found.size] = found
        assert int(count) == mask.sum()
        np.testing.assert_array_equal(np.asarray(ids), expected)


@pytest.mark.parametrize(("name", "weight_kind"), [
    (name, kind) for name in EVENT_DRIVEN for kind in ("scalar", "per_synapse")
    if kind == "scalar" or not strategies.strategy(name).scalar_weight])
def test_more_spikes_than_the_bound_are_all_delivered(name, weight_kind):
    # max_spikes = 3 while up to 40 pre neurons spike per step: every step needs several
    # blocks, and nothing may be dropped.
    conn = connectivity_for(name, 40, 30, seed=5, p=0.2)
    weight = 0.5 if weight_kind == "scalar" else np.linspace(0.5, 1.5, conn.n_syn)
    rng = np.random.default_rng(0)
    spikes = rng.random((6, conn.n_pre)) < 0.5
    spikes[2] = True  # every pre neuron at once
    spikes[3] = False
    decay = np.exp(-0.1 / 5.0)
    expected = _reference_trace(conn, weight, spikes, decay)

    entry = registry.get(name, "jax")
    data = entry.prepare(conn, weight, "float64", max_spikes=3)
    assert data.max_spikes == 3
    state = entry.init_state(data)
    for k, s in enumerate(spikes):
        state = entry.step(data, state, jax_backend.asarray(s), decay)
        np.testing.assert_allclose(jax_backend.to_numpy(entry.conductance(data, state)),
                                   expected[k], rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["pre_slice", "pre_ids", "csr"])
def test_kernel_inside_users_own_jit_and_scan(name, dtype, conn):
    entry = registry.get(name, "jax")
    weight = np.linspace(0.5, 1.5, conn.n_syn)
    spikes = np.random.default_rng(1).random((20, conn.n_pre)) < 0.2
    decay = np.exp(-0.1 / 5.0)
    expected = _reference_trace(conn, weight, spikes, decay)

    # What a user writes: their own jitted loop over synbench's kernel.
    def simulate(data, spike_train):
        def body(g, s):
            g = entry.step(data, g, s, decay)
            return g, entry.conductance(data, g)

        return jax.lax.scan(body, entry.init_state(data), spike_train)[1]

    with jax.enable_x64(dtype == "float64"):
        data = entry.prepare(conn, weight, dtype)
        trace = jax.jit(simulate)(data, jnp.asarray(spikes))
        assert trace.dtype == np.dtype(dtype)
    rtol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(np.asarray(trace), expected, rtol=rtol, atol=0)


def test_float64_does_not_leak_x64_into_the_caller():
    assert jnp.zeros(3).dtype == np.float32, "x64 must be off before the test"
    result = run(coba(200, p=0.1), "pre_slice", "jax", duration=5.0, dtype="float64")
    assert result.spike_ids.size > 0
    entry = registry.get("pre2post", "jax")
    data = entry.prepare(FixedProb(0.2, seed=0).build(10, 10), 0.5, "float64")
    g = entry.step(data, entry.init_state(data), np.ones(10, bool), 0.5)
    assert g.dtype == np.float64
    assert jnp.zeros(3).dtype == np.float32
    assert not jax.config.jax_enable_x64


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_runner_state_keeps_its_dtype(dtype):
    spec = coba(200, p=0.1)
    entry = registry.get("pre_slice", "jax")
    sim = jax_backend.Simulation(spec, entry, spec.connectivity(), 0.1, dtype, 20)
    sim.compile()
    sim.advance(20)
    for name, value in sim.snapshot().items():
        if name != "last_spike":
            assert value.dtype == np.dtype(dtype), name
    assert all(g.dtype == np.dtype(dtype) for state in sim.carry["g"] for g in state)


def test_short_last_chunk_does_not_recompile_and_overflow_loses_nothing():
    spec = coba(300, p=0.1, seed=2)
    conns = spec.connectivity()
    entry = registry.get("pre_slice", "jax")
    reference = run(spec, "pre_slice", "numpy", duration=12.5, conns=conns)
    assert np.bincount(reference.spike_steps).max() > 2, "no step would overflow"

    # monitor_width 2 makes most spiking steps overflow the id buffer (and the kernels'
    # shared ids), max_spikes 2 makes the kernels loop over blocks.
    sim = jax_backend.Simulation(spec, entry, conns, 0.1, "float64", 50,
                                 monitor_width=2, max_spikes=2)
    sim.compile()

    def refuse(*args):
        raise AssertionError("compiled again inside the run")

    sim._chunk = refuse
    steps, ids = zip(*(sim.advance(k) for k in (50, 50, 25)), strict=True)
    np.testing.assert_array_equal(np.concatenate(steps), reference.spike_steps)
    np.testing.assert_array_equal(np.concatenate(ids), reference.spike_ids)


def test_importing_synbench_does_not_import_jax():
    code = ("import sys, synbench; synbench.core.strategies.names(); "
            "print('jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_jax_entries_are_registered_with_numpy_metadata():
    for name in strategies.names():
        jax_entry = registry.get(name, "jax")
        numpy_entry = registry.get(name, "numpy")
        assert (jax_entry.state, jax_entry.event_driven) == (
            numpy_entry.state, numpy_entry.event_driven)


@pytest.mark.parametrize("network", [coba, cobahh])
def test_fused_projections_change_nothing(network):
    # E2E+E2I and I2E+I2I run as two kernel calls: the same raster, and the same state up
    # to the last bits XLA's fused multiply-adds may round differently in either graph.
    spec = network(300, p=0.1, seed=3)
    conns = spec.connectivity()
    entry = registry.get("pre_slice", "jax")
    sims = [jax_backend.Simulation(spec, entry, conns, 0.1, "float64", 100, fuse=fuse)
            for fuse in (True, False)]
    assert [len(s.projections) for s in sims] == [2, 4]
    (fused_steps, fused_ids), (steps, ids) = (s.advance(100) for s in sims)
    np.testing.assert_array_equal(fused_steps, steps)
    np.testing.assert_array_equal(fused_ids, ids)
    fused, plain = (s.snapshot() for s in sims)
    assert fused.keys() == plain.keys()
    for key in plain:
        np.testing.assert_allclose(fused[key], plain[key], rtol=1e-12, atol=1e-12,
                                   err_msg=key)
