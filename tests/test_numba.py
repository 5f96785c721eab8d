"""The Numba backend beyond the registry-wide tests: kernels inside the user's own
``@njit`` loop, and the compiled runner against the NumPy runner.

Cross-strategy equality of every entry (Numba's included) is in test_kernels.py.
"""

import numba
import numpy as np
import pytest

from synbench import FixedProb, coba, cobahh, registry, run
from synbench.core.reference import reference_conductances
from synbench.impls import numba as numba_backend
from synbench.impls import numpy as numpy_backend

PRE_SLICE = registry.get("pre_slice", "numba")
PRE2SYN = registry.get("pre2syn", "numba")
pre_slice_step, pre_slice_conductance = PRE_SLICE.step, PRE_SLICE.conductance
pre2syn_step, pre2syn_conductance = PRE2SYN.step, PRE2SYN.conductance


@numba.njit
def user_loop_pre_slice(data, g, spike_train, decay):
    """What a user writes: their own compiled loop calling synbench's kernels."""
    trace = np.empty((spike_train.shape[0], data.n_post))
    for t in range(spike_train.shape[0]):
        g = pre_slice_step(data, g, spike_train[t], decay)
        trace[t] = pre_slice_conductance(data, g)
    return trace


@numba.njit
def user_loop_pre2syn(data, g, spike_train, decay):
    trace = np.empty((spike_train.shape[0], data.n_post))
    for t in range(spike_train.shape[0]):
        g = pre2syn_step(data, g, spike_train[t], decay)
        trace[t] = pre2syn_conductance(data, g)
    return trace


def _reference_trace(conn, weight, spike_train, decay):
    return np.array(reference_conductances(conn, weight, spike_train, decay))


@pytest.mark.parametrize("weight_kind", ["scalar", "per_synapse"])
@pytest.mark.parametrize(("entry", "loop"), [(PRE_SLICE, user_loop_pre_slice),
                                              (PRE2SYN, user_loop_pre2syn)],
                         ids=["pre_slice", "pre2syn"])
def test_kernels_run_inside_the_users_njit_loop(entry, loop, weight_kind):
    conn = FixedProb(0.1, seed=2).build(120, 80)
    rng = np.random.default_rng(3)
    weight = 0.6 if weight_kind == "scalar" else rng.uniform(0.1, 1.0, conn.n_syn)
    spike_train = rng.random((50, conn.n_pre)) < 0.05
    decay = np.exp(-0.1 / 5.0)
    data = entry.prepare(conn, weight, "float64")
    trace = loop(data, entry.init_state(data), spike_train, decay)
    np.testing.assert_allclose(trace, _reference_trace(conn, weight, spike_train, decay),
                               rtol=1e-12, atol=0)


def _same_raster(a, b):
    np.testing.assert_array_equal(a.spike_steps, b.spike_steps)
    np.testing.assert_array_equal(a.spike_ids, b.spike_ids)


@pytest.fixture(scope="module")
def coba_500():
    spec = coba(500, seed=4)
    return spec, spec.connectivity()


@pytest.mark.parametrize("strategy", ["pre_slice", None], ids=["pre_slice", "neurons_alone"])
def test_coba_raster_equals_numpy_runner(coba_500, strategy):
    spec, conns = coba_500
    expected = run(spec, strategy, "numpy", duration=50.0, conns=conns)
    result = run(spec, strategy, "numba", duration=50.0, conns=conns)
    assert expected.spike_ids.size > 100, "the network should be active"
    _same_raster(result, expected)
    assert result.compile_s > 0 and result.wall_s > 0


def test_cobahh_raster_equals_numpy_runner():
    spec = cobahh(500, seed=4)
    conns = spec.connectivity()
    expected = run(spec, "pre_slice", "numpy", duration=50.0, conns=conns)
    result = run(spec, "pre_slice", "numba", duration=50.0, conns=conns)
    assert expected.spike_ids.size > 10, "the network should be active"
    _same_raster(result, expected)


@pytest.mark.parametrize("strategy", ["pre_slice", "pre_ids"])
def test_chunking_does_not_change_the_raster(coba_500, strategy):
    spec, conns = coba_500
    whole = run(spec, strategy, "numba", duration=50.0, conns=conns, chunk_steps=1000)
    chunked = run(spec, strategy, "numba", duration=50.0, conns=conns, chunk_steps=7)
    assert whole.spike_ids.size > 100
    _same_raster(chunked, whole)


def test_spike_monitor_grows_when_full(coba_500):
    spec, conns = coba_500
    expected = run(spec, "pre_slice", "numba", duration=50.0, conns=conns)
    entry = registry.get("pre_slice", "numba")
    # Room for 4 spikes, far fewer than one chunk's: the buffers must double, repeatedly.
    sim = numba_backend.Simulation(spec, entry, conns, 0.1, "float64", 500, monitor_capacity=4)
    sim.compile()
    steps, ids = sim.advance(500)
    assert sim.monitor[0].size >= steps.size > 4
    np.testing.assert_array_equal(steps, expected.spike_steps)
    np.testing.assert_array_equal(ids, expected.spike_ids)


@pytest.mark.parametrize("network", [coba, cobahh], ids=["coba", "cobahh"])
def test_state_matches_numpy_runner(network):
    # COBA's arithmetic is NumPy's, operation for operation: bit-identical. HH's exp and
    # n**4 come from NumPy's SIMD loops there and from libm / repeated multiplication
    # here, which may differ in the last bit (the rasters still agree, tested above).
    spec = network(300, seed=5)
    conns = spec.connectivity()
    sims = [module.Simulation(spec, registry.get("pre_slice", backend), conns, 0.1, "float64", 100)
            for module, backend in ((numpy_backend, "numpy"), (numba_backend, "numba"))]
    sims[1].compile()
    for sim in sims:
        sim.advance(150)
    want, got = (sim.snapshot() for sim in sims)
    assert set(got) == set(want)
    for key in want:
        if network is coba:
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)
        else:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_float32_run_is_close_to_float64(coba_500):
    spec, conns = coba_500
    r64 = run(spec, "pre_slice", "numba", duration=200.0, conns=conns)
    r32 = run(spec, "pre_slice", "numba", duration=200.0, conns=conns, dtype="float32")
    for group in ("E", "I"):
        assert r32.rates[group] == pytest.approx(r64.rates[group], rel=0.1)


_TWO_PROCESSES = """
import json, sys
import numpy as np
import synbench
from synbench import registry
from synbench.impls.numba.runner import Simulation

out = []
for network, strategy in (("coba", "pre_slice"), ("coba", "pre2syn"), ("cobahh", "csr"),
                          ("coba", None)):
    spec = synbench.network(network, 200)
    entry = registry.get(strategy or "pre_slice", "numba")
    sim = Simulation(spec, entry if strategy else None, spec.connectivity(), 0.1, "float64", 50)
    sim.compile()
    steps, ids = sim.advance(50)
    want = synbench.run(spec, strategy, "numpy", duration=5.0, progress=False)
    same = bool(np.array_equal(ids, want.spike_ids) and ids.size)
    kernels = [sim.run_chunk]
    if strategy:  # the checked kernels a user calls, each giving the reference's numbers
        conn = synbench.FixedProb(0.2, seed=1).build(30, 20)
        data, numpy_entry = entry.prepare(conn, 0.5, "float64"), registry.get("dense", "numpy")
        spikes = np.arange(30) % 3 == 0
        g = entry.step(data, entry.deliver(data, entry.init_state(data), spikes * 0.5),
                       spikes, 0.9)
        reference_data = numpy_entry.prepare(conn, 0.5, "float64")
        want_g = numpy_entry.step(reference_data, numpy_entry.deliver(
            reference_data, numpy_entry.init_state(reference_data), spikes * 0.5), spikes, 0.9)
        same = same and np.allclose(entry.conductance(data, g, np.zeros(20)),
                                    numpy_entry.conductance(reference_data, want_g), rtol=1e-12)
        kernels += [entry.deliver, entry.step, entry.conductance]
    out.append([[sum(k.stats.cache_hits.values()), sum(k.stats.cache_misses.values())]
                for k in kernels] + [bool(same)])
print(json.dumps(out))
"""


@pytest.mark.slow
def test_a_second_process_loads_the_compiled_runner_and_kernels_from_disk(tmp_path):
    """Each (network, strategy) chunk function and each checked kernel, kernels bound
    in, is compiled by the first process and loaded by the second, each the right one
    (its raster is NumPy's, its conductance NumPy dense's)."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    runs = [json.loads(subprocess.run([sys.executable, "-c", _TWO_PROCESSES], env=env,
                                      capture_output=True, text=True, check=True,
                                      timeout=600).stdout) for _ in range(2)]
    compiled, loaded = [0, 1], [1, 0]  # (cache hits, cache misses) of one signature
    assert runs[0] == [[compiled] * 4 + [True]] * 3 + [[compiled, True]]
    assert runs[1] == [[loaded] * 4 + [True]] * 3 + [[loaded, True]]


_USER_STRATEGY = '''
import numba
from synbench.core import strategies
from synbench.impls import numba as numba_backend
from synbench.impls.numba.pre_slice import prepare

SCALE = {scale}


@numba.njit(cache=True)
def deliver(data, g, events):
    for i in range(data.n_pre):
        for k in range(data.pre_slice[i, 0], data.pre_slice[i, 1]):
            g[data.post_ids[k]] += SCALE * events[i] * data.weight[0]
    return g


strategies.declare("users_own", state="post", event_driven=False,
                   needs=("pre_slice", "post_ids"))
entry = numba_backend.register("users_own", prepare=prepare, deliver=deliver,
                               conductance=numba_backend.post_is_state)
'''

_RUN_USER_STRATEGY = """
import json, numpy as np, synbench, users_own
from synbench.impls.numba.runner import Simulation
entry = users_own.entry
conn = synbench.FixedProb(0.2, seed=1).build(30, 20)
data = entry.prepare(conn, 0.5, "float64")
g = entry.step(data, entry.init_state(data), np.ones(30, bool), 1.0)
spec = synbench.coba(200)
sim = Simulation(spec, entry, spec.connectivity(), 0.1, "float64", 50)
sim.compile()
print(json.dumps([float(g.sum()), int(sim.advance(50)[1].size)]))
"""


@pytest.mark.slow
def test_an_edited_user_kernel_is_compiled_anew_not_loaded_stale(tmp_path):
    """A user's own strategy, edited between two processes that share the cache: the
    second runs the edited kernel (Numba alone keys a caller's cache on its own file)."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    module = tmp_path / "users_own.py"
    runs = []
    for scale in (1.0, 2.0, 2.0):
        module.write_text(_USER_STRATEGY.format(scale=scale))
        out = subprocess.run([sys.executable, "-c", _RUN_USER_STRATEGY], env=env,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        runs.append(json.loads(out.stdout))
    (g_once, spikes_once), (g_twice, spikes_twice), again = runs
    assert g_once > 0 and g_twice == 2 * g_once  # the edit took effect in the checked step
    assert spikes_twice != spikes_once  # and in the runner (stronger synapses)
    assert again == [g_twice, spikes_twice]  # loaded from the cache: the same numbers



def _bound_template(x):
    return scale * helper(x)  # noqa: F821 - bound by with_globals


def test_copies_of_a_template_are_named_after_what_they_bind():
    """Numba names compiled code after the function's qualified name and a per-process
    counter, and code loaded from the disk cache keeps its names: two copies of one
    template under one name could meet in one process, and a chunk compiled there call
    the other copy's code (CUBA's chunk ran Delta's update). Each copy is named after
    the functions and constants it binds."""
    from synbench.impls.numba import with_globals

    def double(x):
        return 2 * x

    def triple(x):
        return 3 * x

    names = {with_globals(_bound_template, scale=s, helper=h).__qualname__
             for s in (1.0, 2.0) for h in (double, triple)}
    assert len(names) == 4
    again = with_globals(_bound_template, scale=2.0, helper=triple).__qualname__
    assert again in names
    assert numba.njit(with_globals(_bound_template, scale=2.0, helper=numba.njit(triple)))(
        5.0) == 30.0


# --- the generated neuron update (issue: the single-core limit) ---


@pytest.mark.parametrize("method", ["exp_euler", "euler", "rk2", "rk4"])
def test_the_compiled_lif_update_is_vectorised_with_its_invariants_hoisted(method):
    """The code Numba generates for a group's LIF update, read from its LLVM IR: the
    per-neuron loop runs on SIMD vectors of doubles, and the integrator's loop
    invariants (``expm1(-dt/tau)``) are computed once per call, not per neuron."""
    import re

    from synbench.core.neurons import LIF
    from synbench.impls.numba import runner

    update = runner.group_update(runner.lif_update, LIF.integrator(method), (0, 0), 2)
    n = 64
    v = np.linspace(-62.0, -49.0, n)
    group = (0, n, np.zeros((2, n)), np.zeros((2, 4)), np.full(2, 0.9))
    spikes = np.zeros(n, bool)
    params = (0.1, 50, (20.0, -60.0, 20.0), -50.0, -60.0)
    n_spikes = update(1, group, (v, np.full(n, -2**30, np.int32), np.zeros(0)), np.zeros(n),
                      spikes, params)
    assert n_spikes == spikes.sum() > 0  # it ran: neurons near threshold spiked
    ir = "\n".join(update.inspect_llvm().values())
    assert re.search(r"<\d+ x double>", ir), "the neuron loop was not vectorised"
    calls = len(re.findall(r"call [^\n]*@expm1\(", ir))
    assert calls == (1 if method == "exp_euler" else 0)
