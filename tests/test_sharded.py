"""Sharded runs (DESIGN section 8): one network over several devices on JAX's SPMD
runtime, and over several processes under ``jax.distributed``.

Host CPU devices exist only when asked for before JAX starts, so the multi-device runs
happen in a subprocess with ``XLA_FLAGS=--xla_force_host_platform_device_count=4``
that saves its rasters and final states; the test process checks them against the
reference (NumPy, and the one-device JAX run, to the bit) itself.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from synbench import Connectivity, coba, run
from synbench.cli import main
from synbench.compare import compare
from synbench.core import registry
from synbench.core.errors import SynbenchError
from synbench.core.networks import driven, network

pytestmark = pytest.mark.skipif(registry.available()["jax"] is not None,
                                reason="jax is not installed (pip install 'synbench[jax]')")

ROOT = pathlib.Path(__file__).resolve().parents[1]
HOST_DEVICES = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4",
                "JAX_PLATFORMS": "cpu"}

# The small networks every JAX entry runs on, split over 3 devices (the child's second part).
NETWORKS = {"small": lambda: coba(600, seed=1),
            "nmda": lambda: coba(600, seed=1, synapse="nmda"),
            "cobahh": lambda: network("cobahh", 600, seed=1),
            "cuba": lambda: network("cuba", 600, seed=1),
            "driven": lambda: driven("delta", n_pre=300, n_post=200, rate_hz=40.0),
            "delayed": lambda: coba(600, seed=1, delay=1.5)}

# The child: COBA n = 4000 for 100 ms in float64, pre_slice on 1, 2, 3 (unequal
# blocks: 1344, 1344, 1312) and 4 devices and on one device unsharded, csr and pre_ids
# on 3 devices and on one, and pre_slice on a mesh of the caller's; the final state from
# a monitor sampling once at the end. Then every JAX entry on 3 devices on small COBA,
# COBA with NMDA synapses and COBAHH networks, and pre_slice and pre_ids on CUBA, on
# Poisson sources driving Delta synapses (voltage jumps) and on COBA with a delay of
# 1.5 ms: the raster, or why refused.
_CHILD = """
import json, sys
import numpy as np
import jax
from jax.sharding import Mesh
from synbench import coba, run
from synbench.core import registry
from synbench.core.errors import SynbenchError
from synbench.run import Monitor

sys.path.insert(0, sys.argv[2])
from test_sharded import NETWORKS
out, arrays = {}, {}

def keep(key, result):
    out[key] = {"devices": result.devices, "bytes": result.device_bytes,
                "label": result.backend_label}
    arrays[key + "/steps"], arrays[key + "/ids"] = result.spike_steps, result.spike_ids
    for name, trace in result.traces.items():
        arrays[f"{key}/{name}"] = trace[-1]

spec = coba(4000)
conns = spec.connectivity()
final = Monitor(("v", "i_syn", "g:E2E", "g:I2E"), every=1000)
for strategy, layouts in (("pre_slice", (None, 1, 2, 3, 4, "mesh")), ("csr", (None, 3)),
                          ("pre_ids", (None, 3))):
    for devices in layouts:
        if devices == "mesh":
            devices = Mesh(np.array(jax.devices()[2:4]), ("x",))
        result = run(spec, strategy, "jax", duration=100.0, conns=conns, monitor=final,
                     devices=devices)
        keep(f"{strategy}/{devices if isinstance(devices, int | None) else 'mesh'}", result)

for name, build in NETWORKS.items():
    spec = build()
    for entry in registry.entries():
        if entry.backend != "jax" or (name in ("cuba", "driven", "delayed")
                                      and entry.name not in ("pre_slice", "pre_ids")):
            continue
        key = f"{name}/{entry.name}"
        try:
            keep(key, run(spec, entry.name, "jax", duration=50.0, devices=3))
        except SynbenchError as err:
            out[key] = {"refused": str(err)}
np.savez(sys.argv[1], **arrays)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """(summary per run, arrays per run) of the child above."""
    path = tmp_path_factory.mktemp("sharded") / "runs.npz"
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(ROOT / "tests")],
                          capture_output=True,
                          text=True, timeout=1200, env={**os.environ, **HOST_DEVICES})
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(path) as arrays:
        return json.loads(done.stdout.strip().splitlines()[-1]), dict(arrays)


@pytest.fixture(scope="module")
def coba_reference():
    """COBA n = 4000's raster on NumPy pre_slice: no JAX code, and equal to NumPy dense's
    (test_run.py; NumPy dense itself takes a minute at this size)."""
    return run(coba(4000), "pre_slice", "numpy", duration=100.0)


def same_raster(arrays, key, reference):
    np.testing.assert_array_equal(arrays[f"{key}/steps"], reference.spike_steps, err_msg=key)
    np.testing.assert_array_equal(arrays[f"{key}/ids"], reference.spike_ids, err_msg=key)


@pytest.mark.parametrize("key", ["pre_slice/1", "pre_slice/2", "pre_slice/3", "pre_slice/4",
                                 "pre_slice/mesh", "csr/3", "pre_ids/3"])
def test_coba_on_several_devices_gives_the_reference_raster(sharded, coba_reference, key):
    summary, arrays = sharded
    assert coba_reference.spike_ids.size > 4000  # the network fires
    same_raster(arrays, key, coba_reference)
    devices = summary[key]["devices"]
    assert devices == (2 if key.endswith("mesh") else int(key.split("/")[1]))
    assert summary[key]["label"] == f"jax on {devices} device{'s' if devices > 1 else ''}"


@pytest.mark.parametrize("key", ["pre_slice/1", "pre_slice/2", "pre_slice/3", "pre_slice/4",
                                 "pre_slice/mesh", "csr/3", "pre_ids/3"])
def test_the_final_state_is_that_of_one_device_to_the_bit(sharded, key):
    """Every post neuron receives the same events in the same order as on one device."""
    _, arrays = sharded
    strategy = key.split("/")[0]
    for name in ("v", "i_syn", "g:E2E", "g:I2E"):
        want = arrays[f"{strategy}/None/{name}"]
        assert want.shape == ((4000,) if name in ("v", "i_syn") else (3000,))
        assert np.count_nonzero(want) > 0
        np.testing.assert_array_equal(arrays[f"{key}/{name}"], want, err_msg=name)


@pytest.mark.parametrize("name", ["cuba", "driven", "delayed"])
def test_current_synapses_spike_sources_and_one_delay_shard(sharded, name):
    """CUBA; Poisson sources driving Delta synapses (voltage jumps) onto 200 neurons, in
    blocks of 96, 96 and 8; COBA with a delay of 1.5 ms on every synapse."""
    summary, arrays = sharded
    reference = run(NETWORKS[name](), "dense", "numpy", duration=50.0)
    assert reference.spike_ids.size > 20
    for strategy in ("pre_slice", "pre_ids"):
        assert summary[f"{name}/{strategy}"]["devices"] == 3
        same_raster(arrays, f"{name}/{strategy}", reference)


@pytest.mark.parametrize("name", ["small", "nmda", "cobahh"])
def test_every_jax_entry_runs_sharded_or_is_refused_with_the_reason(sharded, name):
    """Parametrized over the registry: every JAX entry on 3 devices gives the NumPy dense
    raster, or is refused saying why it cannot be split (fan-in padded data, or no
    synapses of its own: a connector kind)."""
    summary, arrays = sharded
    reference = run(NETWORKS[name](), "dense", "numpy", duration=50.0)
    assert reference.spike_ids.size > 50
    ran = set()
    for entry in registry.entries():
        if entry.backend != "jax":
            continue
        got = summary[f"{name}/{entry.name}"]
        if "refused" in got:
            assert any(why in got["refused"] for why in (
                "cannot be sharded", "nothing to split", "holds only", "keeps one state"
            )), got["refused"]
            continue
        same_raster(arrays, f"{name}/{entry.name}", reference)
        ran.add(entry.name)
    assert {"pre_ids", "dense", "align_pre_csr"} <= ran
    if name != "nmda":  # NMDA cannot be summed per post neuron: those are refused
        assert {"pre_slice", "csr", "pre2post"} <= ran


@pytest.mark.parametrize("strategy", ["pre_slice", "csr", "pre_ids"])
def test_each_device_holds_about_one_dth_of_the_network(sharded, strategy):
    """The synapses' structures and state and the neurons, per device, against one
    device's: 1/D, plus the padding that gives every device the same shapes, and the
    arrays indexed by pre neuron (pre_slice's row starts), which every device holds
    whole: at most 35 % more at n = 4000, where a device's share of a fan-out of 80 is
    small (both shrink relative to the synapses as the fan-out grows)."""
    summary, _ = sharded
    whole = summary[f"{strategy}/None"]["bytes"]
    assert whole["synapses"] > 100_000
    for devices in ((1, 2, 3, 4) if strategy == "pre_slice" else (3,)):
        held = summary[f"{strategy}/{devices}"]["bytes"]
        for kind in ("synapses", "synaptic state", "neurons"):
            share = held[kind] / whole[kind]
            assert 0.9 / devices < share < 1.35 / devices, (kind, devices, share)


def test_a_device_holds_the_synapses_onto_its_block_padded_alike():
    """A hand-worked split: 3 pre neurons onto 40 posts over 2 devices of 32 neurons."""
    from synbench.core.synapses import COBA, Exponential
    from synbench.impls.jax.runner import _Channel, _Projection
    from synbench.impls.jax.sharded import block_size, local_parts

    assert block_size(40, 2) == 32 and block_size(4000, 3) == 1344
    pre = [0, 0, 0, 1, 2, 2]
    post = [1, 33, 39, 5, 30, 31]
    conn = Connectivity(3, 40, pre, post)
    weight = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    projection = _Projection((("P", 0, 40),), slice(0, 3), False, Exponential(5.0),
                             (_Channel(slice(0, 40), 0, COBA(0.0)),), conn, weight, None)
    parts, neuron_of = local_parts(projection, 2, 32)
    np.testing.assert_array_equal(neuron_of, np.arange(40))
    # Device 0: posts 1 (pre 0), 5 (pre 1), 30, 31 (pre 2); device 1: 33 -> 1, 39 -> 7.
    # Fan-outs per device (0: 1, 1, 2; 1: 2, 0, 0), so each pre gets the larger on both:
    # pre 0 one sink on device 0; pre 1 one on device 1; pre 2 two on device 1.
    (c0, w0, _), (c1, w1, _) = parts
    assert c0.n_post == c1.n_post == 32 + 2  # the block and two sinks
    assert c0.pre_ids.tolist() == [0, 0, 1, 2, 2]
    assert c0.post_ids.tolist() == [1, 32, 5, 30, 31]
    assert w0.tolist() == [1.0, 0.0, 4.0, 5.0, 6.0]
    assert c1.pre_ids.tolist() == [0, 0, 1, 2, 2]
    assert c1.post_ids.tolist() == [1, 7, 32, 32, 33]
    assert w1.tolist() == [2.0, 3.0, 0.0, 0.0, 0.0]


def test_two_processes_give_the_reference_raster(tmp_path, coba_reference):
    """Two local processes with two host devices each, one JAX runtime (gloo)."""
    raster = tmp_path / "raster.npz"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "launch_local.py"), "--processes", "2",
         "--timeout", "400", "--", "synbench", "run", "--backend", "jax", "--devices", "4",
         "--no-progress", "--spikes", str(raster)],
        capture_output=True, text=True, timeout=450, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "jax on 4 devices" in done.stdout
    assert done.stdout.count("rates:") == 1  # process 0 reports for both
    with np.load(raster) as saved:
        np.testing.assert_array_equal(saved["spike_steps"], coba_reference.spike_steps)
        np.testing.assert_array_equal(saved["spike_ids"], coba_reference.spike_ids)
        assert float(saved["dt"]) == 0.1 and int(saved["n"]) == 4000


def test_fewer_devices_than_the_processes_hold_take_a_share_of_each(tmp_path):
    """Two processes holding four host devices each, the network on two devices: one of
    each process's (a mesh of process 0's first two would leave process 1 out)."""
    raster = tmp_path / "raster.npz"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "launch_local.py"), "--processes", "2",
         "--timeout", "300", "--", "synbench", "run", "--backend", "jax", "--devices", "2",
         "--n", "1000", "--duration", "30", "--no-progress", "--spikes", str(raster)],
        capture_output=True, text=True, timeout=350, env={**os.environ, **HOST_DEVICES})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    want = run(coba(1000), "pre_slice", "numpy", duration=30.0)
    assert want.spike_ids.size > 100
    with np.load(raster) as saved:
        np.testing.assert_array_equal(saved["spike_ids"], want.spike_ids)
        np.testing.assert_array_equal(saved["spike_steps"], want.spike_steps)


def test_a_failing_process_stops_the_others(tmp_path):
    """One process's mistake ends the launch with its message, not a hang."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "launch_local.py"), "--processes", "2",
         "--timeout", "120", "--", "synbench", "run", "--backend", "jax", "--devices", "2",
         "--strategy", "post_slice", "--no-progress", "--duration", "1"],
        capture_output=True, text=True, timeout=200, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert done.returncode == 2, done.stderr[-2000:]
    assert "cannot be sharded" in done.stderr and "Traceback" not in done.stderr


def test_one_device_in_this_process_gives_the_unsharded_run():
    spec = coba(300, seed=5)
    alone, split = (run(spec, "pre_slice", "jax", duration=20.0, devices=devices)
                    for devices in (None, 1))
    assert alone.spike_ids.size > 0 and split.devices == 1 and alone.devices is None
    np.testing.assert_array_equal(split.spike_ids, alone.spike_ids)
    np.testing.assert_array_equal(split.spike_steps, alone.spike_steps)
    assert split.summary()["devices"] == 1
    assert set(split.device_bytes) == {"synapses", "synaptic state", "neurons"}


def test_bad_device_requests_get_one_clear_error():
    spec = coba(200)
    for bad in (0, -2, 1.5, True, "2"):
        with pytest.raises(SynbenchError, match="positive integer"):
            run(spec, "pre_slice", "jax", duration=5.0, devices=bad)
    with pytest.raises(SynbenchError, match="xla_force_host_platform_device_count=10000"):
        run(spec, "pre_slice", "jax", duration=5.0, devices=10_000)
    with pytest.raises(SynbenchError, match="runs on one device"):
        run(spec, "pre_slice", "numba", duration=5.0, devices=1)
    with pytest.raises(SynbenchError, match="per-synapse delays are not sharded yet"):
        run(coba(200, delay=(0.1, 2.0)), "pre_slice", "jax", duration=5.0, devices=1)
    with pytest.raises(SynbenchError, match="nothing to split"):
        run(network("coba", 200, counter_based=True), "procedural", "jax", duration=5.0,
            devices=1)


def test_compare_runs_a_sharded_row_beside_each_jax_entry():
    comparison = compare(coba(300), ["pre_slice", "post_slice"], ["jax"], duration=10.0,
                         progress=False, log=lambda line: None,
                         reference=("pre_slice", "numpy"), devices=1)
    rows = {(row.strategy, row.devices): row for row in comparison.rows}
    assert rows[("pre_slice", 1)].agrees == "yes"
    assert rows[("pre_slice", 1)].vs_neurons is not None  # against neurons alone on 1 device
    assert rows[(None, 1)].result is not None
    assert rows[("pre_slice", None)].agrees == "yes"
    # One device holds all (on several, post_slice is refused: test above).
    assert rows[("post_slice", 1)].agrees == "yes"
    assert "jax on 1 device" in comparison.table()
    with pytest.raises(SynbenchError, match="not among the selected backends"):
        compare(coba(300), ["pre_slice"], ["numba"], duration=5.0, progress=False,
                log=lambda line: None, reference=("pre_slice", "numba"), devices=2)


@pytest.mark.parametrize("argv, message", [
    (["run", "--backend", "numba", "--devices", "1"], "runs on one device"),
    (["run", "--backend", "jax", "--devices", "3", "--processes", "2",
      "--coordinator", "127.0.0.1:1", "--process-id", "0"], "multiple of --processes"),
    (["run", "--backend", "jax", "--processes", "2"], "coordinator HOST:PORT"),
    (["run", "--backend", "jax", "--processes", "2", "--coordinator", "localhost:9",
      "--process-id", "2"], "process id must be one of 0 .. 1"),
    (["run", "--backend", "numba", "--processes", "2", "--coordinator", "localhost:9",
      "--process-id", "1"], "use --backend jax"),
])
def test_the_cli_refuses_bad_device_options_in_one_line(capsys, argv, message):
    assert main(argv + ["--n", "200", "--duration", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_the_cli_writes_the_raster_it_ran(tmp_path, capsys):
    raster = tmp_path / "r.npz"
    assert main(["run", "--backend", "jax", "--devices", "1", "--n", "300", "--duration",
                 "10", "--no-progress", "--spikes", str(raster)]) == 0
    shown = capsys.readouterr().out
    assert "held per device (1 device), MiB: synapses" in shown
    want = run(coba(300), "pre_slice", "numpy", duration=10.0)
    with np.load(raster) as saved:
        np.testing.assert_array_equal(saved["spike_ids"], want.spike_ids)
        np.testing.assert_array_equal(saved["spike_steps"], want.spike_steps)


def test_the_asv_benchmark_skips_device_counts_jax_does_not_see():
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_networks import CobaSharded

    bench = CobaSharded()
    assert {e.rsplit("-", 1)[1] for e in bench.params[0]} == {"jax"}
    with pytest.raises(NotImplementedError, match="xla_force_host_platform_device_count"):
        bench.setup("pre_slice-jax", 10_000, 4000)
    bench.setup("pre_slice-jax", 1, 4000)
    assert bench.track_rate_hz("pre_slice-jax", 1, 4000) > 5
    whole = registry.get("pre_slice", "jax").prepare(bench.conns["E2E"], 1.0, "float64")
    assert bench.track_synapse_mib("pre_slice-jax", 1, 4000) > whole.post_ids.nbytes / 2**20
