"""Delays on CuPy (DESIGN section 4c): the delay mechanisms' kernels and the runner.

Everywhere: the runner's network module for a run with delays (its stages read delayed
spike flags, so those of the strategies that walk the step's spike list are compiled
for the flags too) compiles with nvcc (test_cupy.py compiles every source of cuda/,
delay_kernels.cu among them), and every launch of the mechanisms passes the argument
types delay_kernels.cu declares, in its order (CuPy stood in for by NumPy).

On a GPU: each mechanism's ``deliver`` equals the NumPy mechanism's after every step
(scalar and per-synapse weights, a post state and a per-synapse state, float64 and
float32), a burst beyond the spike queue's first capacity drops nothing, and COBA
rasters with one delay per projection and with per-synapse delays equal NumPy dense's,
through the fused runner (with and without CUDA graphs) and through ArraySimulation
where the fused runner hands a run over. Without a GPU those skip, saying why.
(test_delays.py checks every CuPy entry and mechanism against an independent event
list on a GPU, as it does every backend.)
"""

import json
import subprocess
import sys
from functools import cache

import numpy as np
import pytest
from test_cupy import assert_instances_compiled, compile_to_ptx

from synbench import coba, registry, run
from synbench.core import delays
from synbench.core.connect import FixedProb, IJConn
from synbench.core.errors import SynbenchError
from synbench.run import plan_delays, with_weights

MECHANISMS = tuple(delays.MECHANISMS)
DECAY = 0.9
#: A strategy of each state kind, to find a mechanism through the registry.
STRATEGY_OF = {"post": "pre_slice", "synapse": "pre2syn"}

# The runner's network module for a run with delays, as the runner assembles it (a
# stand-in module replaces CuPy where it is missing: assembling needs none of it).
_ASSEMBLE = """
import json, sys, types
import numpy as np
try:
    import cupy  # noqa: F401
except ImportError:
    sys.modules["cupy"] = types.ModuleType("cupy")
from synbench.impls import cupy as backend
backend.unavailable_reason = lambda: None
from synbench import coba
from synbench.core.neurons import neuron_model
from synbench.impls.cupy import runner
from synbench.impls.cupy._neurons import neuron_source
entries = runner._network_entries(None)
plans = [runner.NetworkPlan.of(e) for e in entries]
out = {"listed": sorted({p.functor for p in plans if "network_spike_list" in p.launches})}
for dtype in ("float32", "float64"):
    code = neuron_source(neuron_model(coba(200), 0.1, np), np.dtype(dtype), True)
    out[dtype] = runner.network_source(entries, code, dtype, delayed=True)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def delayed_modules():
    done = subprocess.run([sys.executable, "-c", _ASSEMBLE], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_delayed_network_module_compiles_to_ptx(delayed_modules, dtype, tmp_path):
    """With delays the stages read the runner's delayed spike flags: the step's spike
    list gives way to network_spike_flags, instantiated with the same functors."""
    code, names = delayed_modules[dtype]
    assert delayed_modules["listed"], "no strategy walks the spike list: nothing to check"
    assert not any(name.startswith("network_spike_list<") for name in names)
    for functor in delayed_modules["listed"]:
        assert any(name.startswith("network_spike_flags<") and name.endswith(f", {functor}>")
                   for name in names), functor
    entries = compile_to_ptx(code, names, tmp_path)
    assert len(entries) == len(names) + 1  # and neuron_update
    assert_instances_compiled(names, entries)


# Every launch of the mechanisms (deliver from Python, and the fused runner's launches)
# passes what delay_kernels.cu declares, argument by argument: arrays of the declared
# element type (int, long long, bool, T) for pointers, NumPy scalars of the declared
# type by value. CuPy is replaced by NumPy arrays and ``kernel`` by the checker, so no
# GPU is needed (nothing runs: the kernels' arithmetic is the GPU tests' to check).
_SIGNATURES = r"""
import json, re, sys, types
import numpy as np

class Array(np.ndarray):
    pass

def wrap(x, dtype=None):
    return np.array(x, dtype=dtype).view(Array)

cupy = types.ModuleType("cupy")
cupy.ndarray = Array
cupy.zeros = lambda *a, **k: wrap(np.zeros(*a, **k))
cupy.full = lambda *a, **k: wrap(np.full(*a, **k))
cupy.asarray = wrap
cupy.ascontiguousarray = lambda x: x
cupy.asnumpy = lambda x: np.asarray(x).copy()
sys.modules["cupy"] = cupy
from synbench.impls import cupy as backend
backend.unavailable_reason = lambda: None
backend.free_memory = lambda: 1 << 40
from synbench.impls.cupy import delays as mechanisms
from synbench.core import registry
from synbench.core.connect import FixedProb

text = (backend.CUDA_DIR / mechanisms.SOURCE).read_text()
found = re.findall(r"template\s*<typename T>\s*__global__\s+void\s+(\w+)\s*\(([^)]*)\)", text)
declared = {name: [p.replace("*", " * ").split() for p in params.split(",")]
            for name, params in found}
problems, launched = [], []

def checker(name, dtype, source, events=None):
    def launch(grid, block, args):
        launched.append(name)
        params = declared[name]
        if len(params) != len(args):
            problems.append(f"{name}: {len(args)} arguments for {len(params)} parameters")
        for words, arg in zip(params, args):
            base = " ".join(w for w in words[:-1] if w not in ("const", "*"))
            want = {"T": np.dtype(dtype), "int": np.int32, "long long": np.int64,
                    "bool": np.bool_}[base]
            pointer = "*" in words
            ok = (isinstance(arg, Array) if pointer else isinstance(arg, np.generic)) \
                and arg.dtype == want
            if not ok:
                problems.append(f"{name}({' '.join(words)}): {type(arg).__name__} "
                                f"{getattr(arg, 'dtype', '')}")
    launch.name = name
    return launch

mechanisms.kernel = checker
conn = FixedProb(0.3, seed=0).build(20, 10)
steps = np.arange(conn.n_syn, dtype=np.int32) % 4
for dtype in ("float32", "float64"):
    for name, entry in [(m, registry._DELAYS[m, "cupy"]) for m in sorted(mechanisms.NETWORK)
                        + ["spike_queue"]]:
        data = entry.prepare(conn, np.linspace(0.5, 1.5, conn.n_syn), steps,
                             conn.post_ids, dtype)
        buffer = entry.init_buffer(data)
        entry.deliver(data, cupy.zeros(10, dtype), buffer, cupy.zeros(20, bool), 3)
        if name in mechanisms.NETWORK:
            for function, grid, args in mechanisms.NETWORK[name](
                    data, cupy.zeros(10, dtype), buffer, cupy.zeros(20, bool),
                    cupy.zeros(4, np.int32)[:1]):
                function(grid, None, args)
print(json.dumps({"problems": problems, "launched": sorted(set(launched)),
                  "declared": sorted(declared)}))
"""


def test_every_launch_passes_what_the_kernels_declare():
    done = subprocess.run([sys.executable, "-c", _SIGNATURES], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["problems"] == []
    # Every kernel of the source but the runner's own (delay_spike_vectors) was launched.
    assert set(out["launched"]) == set(out["declared"]) - {"delay_spike_vectors"}


# --- on a GPU ---



def _steps(conn, seed=2, max_delay=6):
    """Random delays over 0..max_delay, with 0 and the maximum both present."""
    steps = np.random.default_rng(seed).integers(0, max_delay + 1, conn.n_syn).astype(np.int32)
    steps[0], steps[-1] = 0, max_delay
    return steps


def _slots(kind, conn):
    """Where each synapse's state lives: its post neuron, or a shuffled place of its own
    (as a strategy that keeps synapses in another order, post_slice's, lays them out)."""
    if kind == "post":
        return np.asarray(conn.post_ids, np.int64), conn.n_post
    return np.random.default_rng(5).permutation(conn.n_syn).astype(np.int64), conn.n_syn


def _both(mechanism, kind):
    """The NumPy and the CuPy DelayEntry of ``mechanism`` for a state of ``kind``."""
    return (registry.delay_entry(STRATEGY_OF[kind], "numpy", mechanism),
            registry.delay_entry(STRATEGY_OF[kind], "cupy", mechanism))


def _compare(cupy, mechanism, kind, conn, weight, steps, train, dtype="float64"):
    """Decay then deliver, step by step, on NumPy and CuPy; the states after each step
    agree (relative 1e-12 in float64, 1e-5 in float32). The CuPy buffer, at the end."""
    want_entry, got_entry = _both(mechanism, kind)
    slots, size = _slots(kind, conn)
    want_data = want_entry.prepare(conn, weight, steps, slots, dtype)
    got_data = got_entry.prepare(conn, weight, steps, cupy.asarray(slots), dtype)
    want_buffer, got_buffer = want_entry.init_buffer(want_data), got_entry.init_buffer(got_data)
    want, got = np.zeros(size, dtype), cupy.zeros(size, dtype)
    rtol = 1e-12 if dtype == "float64" else 1e-5
    for t, spikes in enumerate(train):
        want *= want.dtype.type(DECAY)
        got *= got.dtype.type(DECAY)
        want, want_buffer = want_entry.deliver(want_data, want, want_buffer, spikes, t)
        got, got_buffer = got_entry.deliver(got_data, got, got_buffer, cupy.asarray(spikes), t)
        assert isinstance(got, cupy.ndarray) and got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(cupy.asnumpy(got), want, rtol=rtol,
                                   atol=rtol * max(1.0, float(np.abs(want).max())),
                                   err_msg=f"step {t}")
    return got_buffer


def _connectivity():
    """Random synapses (p = 0.3), a hub (pre 0 onto every post neuron but 29), a pre neuron
    without synapses (40), a post neuron without any (29) and a pair with three
    synapses (1 -> 2, multapses: each with its own delay)."""
    pairs = np.random.default_rng(3).random((41, 30)) < 0.3
    pairs[0], pairs[40], pairs[:, 29] = True, False, False
    pairs[1, 2] = False
    pre, post = np.nonzero(pairs)
    pre, post = np.concatenate([pre, [1, 1, 1]]), np.concatenate([post, [2, 2, 2]])
    return IJConn(pre, post, multapses=True).build(41, 30).canonical()[0]


def _train(n_pre, n_steps=40, seed=0, rate=0.3):
    train = np.random.default_rng(seed).random((n_steps, n_pre)) < rate
    train[5] = False  # a step without spikes
    return train


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("weight", ["scalar", "per_synapse"])
@pytest.mark.parametrize("kind", ["post", "synapse"])
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_deliver_equals_numpy_every_step(cupy, mechanism, kind, weight, dtype):
    if kind not in delays.MECHANISMS[mechanism].state_kinds:
        pytest.skip(f"{mechanism} holds no state per {kind}")
    conn = _connectivity()
    w = 0.75 if weight == "scalar" else np.random.default_rng(1).uniform(0.5, 1.5, conn.n_syn)
    _compare(cupy, mechanism, kind, conn, w, _steps(conn), _train(conn.n_pre), dtype)


@pytest.mark.parametrize("kind", ["post", "synapse"])
def test_a_burst_beyond_the_queue_capacity_drops_nothing(cupy, kind):
    # 60 x 60 all-to-all: every pre neuron spiking at once puts up to 3600 events into
    # one bin, far beyond the queue's first capacity (16 per bin).
    conn = FixedProb(1.0, seed=0).build(60, 60)
    steps = np.full(conn.n_syn, 3, np.int32)
    steps[::7] = 2
    steps[::11] = 0
    train = np.zeros((12, 60), bool)
    train[1] = True
    train[2, ::3] = True
    train[3] = True
    capacity = delays.initial_queue_capacity(conn.n_syn)
    assert capacity < conn.n_syn
    buffer = _compare(cupy, "spike_queue", kind, conn, 0.5, steps, train)
    assert buffer.queue.shape[1] > capacity  # it grew
    assert int(buffer.counts.max()) == 0  # and every bin was delivered and emptied


def test_deliver_refuses_what_the_kernels_cannot_read(cupy):
    conn = FixedProb(0.3, seed=3).build(20, 10)
    entry = registry.delay_entry("pre_slice", "cupy", "input_ring")
    data = entry.prepare(conn, 0.5, _steps(conn), conn.post_ids, "float64")
    ring = entry.init_buffer(data)
    spikes = cupy.zeros(20, bool)
    with pytest.raises(SynbenchError, match="CuPy"):
        entry.deliver(data, np.zeros(10), ring, spikes, 0)
    with pytest.raises(SynbenchError, match="bool"):
        entry.deliver(data, cupy.zeros(10), ring, cupy.zeros(20), 0)
    with pytest.raises(SynbenchError, match="step"):
        entry.deliver(data, cupy.zeros(10), ring, spikes, -1)
    with pytest.raises(SynbenchError, match="one integer per synapse"):
        entry.prepare(conn, 0.5, _steps(conn)[:-1], conn.post_ids, "float64")


# --- networks ---

N = 1000
DURATION = 100.0
DELAYS = {"homogeneous": 1.5, "per_synapse": (0.1, 5.0)}


@cache
def _spec(kind):
    return coba(N, delay=DELAYS[kind])


@cache
def _reference(kind):
    return run(_spec(kind), "dense", "numpy", duration=DURATION)


# (strategy, mechanism): stages of every launch shape, library calls, and each runner.
HOMOGENEOUS = ["pre_slice", "pre2post", "post_slice", "pre_ids", "pre2syn", "csr", "dense"]
PER_SYNAPSE = [("pre_slice", None), ("pre_slice", "spike_ring"), ("pre_slice", "spike_queue"),
               ("pre2post", None), ("pre_ids", None), ("post_slice", None), ("pre2syn", None),
               ("csr", None), ("dense", None)]


def _check_raster(result, kind):
    reference = _reference(kind)
    assert result.spike_ids.size > 50
    assert reference.first_difference(result) is None


@pytest.mark.parametrize("strategy", HOMOGENEOUS)
def test_coba_one_delay_per_projection_gives_numpy_dense_raster(cupy, strategy):
    _check_raster(run(_spec("homogeneous"), strategy, "cupy", duration=DURATION),
                  "homogeneous")


@pytest.mark.parametrize("strategy, mechanism", PER_SYNAPSE)
def test_coba_per_synapse_delays_give_numpy_dense_raster(cupy, strategy, mechanism):
    _check_raster(run(_spec("per_synapse"), strategy, "cupy", duration=DURATION,
                      delay_mechanism=mechanism), "per_synapse")


def test_delays_move_the_reference(cupy):
    """The raster tests would pass with delays ignored only if the reference ignored
    them too: here it moves."""
    plain = run(coba(N), "dense", "numpy", duration=DURATION)
    assert plain.first_difference(_reference("homogeneous")) is not None
    assert plain.first_difference(_reference("per_synapse")) is not None


def _simulation(kind, strategy, mechanism=None, **options):
    from synbench.impls import cupy as backend

    spec, conns = with_weights(_spec(kind), _spec(kind).connectivity())
    entry = registry.get(strategy, "cupy")
    plan = plan_delays(spec, conns, entry, 0.1, mechanism)
    return backend.Simulation(spec, entry, conns, 0.1, "float64", 300, delays=plan, **options)


@pytest.mark.parametrize("kind, strategy, mechanism, fused", [
    ("homogeneous", "pre_slice", None, True), ("homogeneous", "csr", None, True),
    ("per_synapse", "pre_slice", None, True), ("per_synapse", "pre_slice", "spike_ring", True),
    ("per_synapse", "pre2post", None, True), ("per_synapse", "pre_slice", "spike_queue", False),
    ("per_synapse", "pre_ids", None, False), ("per_synapse", "csr", None, False),
])
def test_which_runner_holds_the_delays(cupy, kind, strategy, mechanism, fused):
    """The fused runner holds one delay per projection for every strategy, per-synapse
    spike_ring and input_ring for strategies adding their events into network_currents'
    buffer; it hands the rest (spike_queue's host-side growth, strategies that fuse the
    decay with the conductance) to ArraySimulation."""
    from synbench.impls.cupy import runner

    sim = _simulation(kind, strategy, mechanism)
    assert isinstance(sim, runner.FusedSimulation if fused else runner.ArraySimulation)


@pytest.mark.parametrize("kind, strategy, mechanism", [
    ("homogeneous", "pre_slice", None), ("homogeneous", "post_slice", None),
    ("per_synapse", "pre_slice", "input_ring"), ("per_synapse", "pre2post", "spike_ring"),
])
def test_graphs_and_launches_give_the_same_delayed_raster(cupy, kind, strategy, mechanism):
    """The ring slots follow the step index the GPU holds, so replayed graphs (80 steps
    each, chunks of 300) deliver what step-by-step launches deliver: the reference."""
    reference = _reference(kind)
    for use_graphs in (True, False):
        sim = _simulation(kind, strategy, mechanism, use_graphs=use_graphs, graph_steps=80)
        sim.compile()
        if use_graphs:
            assert sim._graph is not None, sim.graph_error
        spike_steps, spike_ids = sim.advance(1000)
        np.testing.assert_array_equal(spike_steps, reference.spike_steps)
        np.testing.assert_array_equal(spike_ids, reference.spike_ids)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_delay_zero_is_todays_raster(cupy, mechanism):
    """Per-synapse delays of 0 through each mechanism: the raster of no delays."""
    plain = run(coba(N), "pre_slice", "cupy", duration=DURATION)
    zero = run(coba(N, delay=(0.0, 0.0)), "pre_slice", "cupy", duration=DURATION,
               delay_mechanism=mechanism)
    assert plain.first_difference(zero) is None
