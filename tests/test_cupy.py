"""The CuPy backend: its CUDA sources, its availability, and its runner on a GPU.

The kernels themselves are checked against the reference by the registry-parametrized
tests (test_kernels.py, test_run.py), which pick up the ``cupy`` entries wherever CuPy
runs. Here: every module the backend compiles (each CUDA source, and the runner's
network module assembled from the registered strategies) compiles with nvcc, no GPU
needed; the backend is listed with a reason where it cannot run; and, on a GPU, what
only the CuPy runner has (CUDA graphs, launch counts, the on-GPU spike monitor, kernels
called from one's own CuPy code).
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synbench import coba, cobahh, registry, run

CUDA_DIR = Path(__file__).resolve().parents[1] / "synbench" / "impls" / "cupy" / "cuda"
SOURCES = sorted(p.name for p in [*CUDA_DIR.glob("*.cu"), *CUDA_DIR.glob("*.cuh")])
# The pattern the backend uses to find the kernels it instantiates.
TEMPLATE = re.compile(r"template\s*<([^<>]*)>\s*__global__\s+void\s+(\w+)\s*\(")
REFERENCE_ARCH = "compute_75"  # the oldest architecture CUDA 13 still builds for
CTYPES = {"float32": "float", "float64": "double"}
NETWORKS = {"coba": coba, "cobahh": cobahh}
METHODS = ["exp_euler", "euler", "rk2", "rk4"]

# Writes, as JSON, every module the backend compiles: each CUDA source as ``kernel()``
# compiles it, and the runner's network module for every neuron kernel it generates,
# with the stages of every strategy registered on CuPy. A stand-in module replaces
# CuPy where it is missing (assembling the sources needs none of it); the backend is
# told it may run, so that the registry hands out its entries in this process.
_ASSEMBLE = """
import json, sys, types
import numpy as np
try:
    import cupy  # noqa: F401
except ImportError:
    sys.modules["cupy"] = types.ModuleType("cupy")
from synbench.impls import cupy as backend
backend.unavailable_reason = lambda: None
from synbench import coba, cobahh
from synbench.core.neurons import neuron_model
from synbench.impls.cupy import runner
from synbench.impls.cupy._neurons import neuron_source
sources, dtypes, methods = json.loads(sys.argv[1])
entries = runner._network_entries(None)
out = {"strategies": sorted(e.name for e in entries), "sources": {}, "networks": {}}
for dtype in dtypes:
    for name in sources:
        out["sources"][f"{name}-{dtype}"] = (backend.cuda_source(name),
                                              backend.instances(name, dtype))
    for network, make in (("coba", coba), ("cobahh", cobahh)):
        for method in methods:
            neurons = neuron_model(make(200, method=method), 0.1, np)
            # Both forms of the neuron kernel: with and without the float spikes.
            code = neuron_source(neurons, np.dtype(dtype), method == "rk2")
            out["networks"][f"{network}-{method}-{dtype}"] = runner.network_source(
                entries, code, dtype)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def assembled():
    """Every module the backend compiles, as {key: (code, instance names)}."""
    done = subprocess.run(
        [sys.executable, "-c", _ASSEMBLE, json.dumps([SOURCES, list(CTYPES), METHODS])],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def compile_to_ptx(code: str, names: list[str], tmp_path) -> list[str]:
    """Compiles ``code`` with nvcc, asking for the instances ``names``; its PTX entries."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not on the PATH: the CUDA sources were not compiled")
    source = tmp_path / "module.cu"
    source.write_text(
        code + "\nvoid* synbench_instances[] = {\n"
        + "".join(f"    (void*)&{name},\n" for name in names) + "};\n")
    ptx = tmp_path / "out.ptx"
    done = subprocess.run(
        [nvcc, "--ptx", f"-arch={REFERENCE_ARCH}", "--fmad=false", "--std=c++17",
         str(source), "-o", str(ptx)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return re.findall(r"\.entry\s+(\S+)\(", ptx.read_text())


def assert_instances_compiled(names, entries):
    for name in names:
        words = re.findall(r"\w+", name)  # the kernel, then its type arguments
        assert any(all(w in e for w in words if w not in ("bool", "float", "double"))
                   for e in entries), f"{name} missing from the PTX"


# --- everywhere ---


def test_sources_found(assembled):
    assert {"common.cuh", "network.cu"} <= set(SOURCES)
    for name in SOURCES:
        assert TEMPLATE.findall((CUDA_DIR / name).read_text()), f"{name} has no kernels"
    # Every strategy is on CuPy, and each of their sources is among those compiled here.
    assert set(assembled["strategies"]) >= {"dense", "event_dense", "pre_ids", "pre2syn",
                                            "pre2post", "post_slice", "pre_slice", "csr"}
    for code, _ in assembled["networks"].values():
        assert "#include" not in code  # the runner hands NVRTC one complete text


@pytest.mark.parametrize("dtype", list(CTYPES))
@pytest.mark.parametrize("source", SOURCES)
def test_cuda_source_compiles_to_ptx(assembled, source, dtype, tmp_path):
    """Every templated kernel of a source, instantiated for float and double (and for
    bool spikes and float amplitudes), compiles with nvcc as ``kernel()`` compiles it."""
    code, names = assembled["sources"][f"{source}-{dtype}"]
    assert names, f"{source} instantiates no kernel"
    entries = compile_to_ptx(code, names, tmp_path)
    assert len(entries) == len(names)
    assert_instances_compiled(names, entries)


@pytest.mark.parametrize("dtype", list(CTYPES))
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("network", list(NETWORKS))
def test_generated_neuron_kernel_compiles_to_ptx(assembled, network, method, dtype, tmp_path):
    """The runner's network module compiles: the neuron update it generates from the
    SymPy integrator, network_currents, and every stage of every registered strategy."""
    code, names = assembled["networks"][f"{network}-{method}-{dtype}"]
    entries = compile_to_ptx(code, names, tmp_path)
    assert "neuron_update" in entries
    assert len(entries) == len(names) + 1
    assert_instances_compiled(names, entries)
    assert any(name.startswith("network_currents<") for name in names)


def test_cupy_listed_with_reason_when_it_cannot_run():
    reason = registry.available()["cupy"]
    try:
        import cupy  # noqa: F401
    except ImportError:
        assert reason == "cupy is not installed (pip install 'synbench[gpu]')"
        return
    if reason is not None:
        assert "CUDA" in reason or "GPU" in reason


def test_import_synbench_does_not_import_cupy():
    code = ("import sys, synbench; synbench.core.strategies.names(); "
            "print('cupy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


# --- on a GPU ---



def test_kernel_called_from_users_cupy_code(cupy):
    from synbench.core.connect import FixedProb
    from synbench.core.reference import reference_conductances
    from synbench.impls import cupy as backend

    conn = FixedProb(0.2, seed=0).build(40, 30)
    entry = registry.get("post_slice", "cupy")
    data = entry.prepare(conn, 0.5, "float64")
    g = entry.init_state(data)
    spikes = cupy.asarray(np.random.default_rng(0).random(40) < 0.3)
    # The raw kernel, as a user would launch it from their own code.
    update = backend.kernel("post_slice_update", "float64", "post_slice.cu", events=bool)
    update((4,), (256,), (g, data.pre_by_post, data.w, data.w_stride, spikes,
                          np.float64(0.9), np.int64(data.n_syn)))
    (expected,) = reference_conductances(conn, 0.5, [cupy.asnumpy(spikes)], 0.9)
    got = cupy.asnumpy(entry.conductance(data, g))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("strategy", ["pre_slice", "post_slice", "pre2syn", "csr"])
def test_graphs_and_launches_give_the_same_raster(cupy, strategy):
    """With and without CUDA graphs, the raster is the NumPy runner's.

    csr calls cuSPARSE, which CuPy refuses to capture: it must fall back, saying why.
    """
    from synbench.impls import cupy as backend

    spec = coba(1000, seed=2)
    conns = spec.connectivity()
    entry = registry.get(strategy, "cupy")
    rasters = []
    for use_graphs in (True, False):
        sim = backend.Simulation(spec, entry, conns, 0.1, "float64", 300,
                                 use_graphs=use_graphs, graph_steps=80)
        sim.compile()
        if use_graphs and strategy != "csr":
            assert sim._graph is not None, sim.graph_error
        if use_graphs and sim._graph is None:
            assert sim.graph_error
        rasters.append(sim.advance(1000))  # chunks of 300 (3 graphs + 60 steps), then 100
    np.testing.assert_array_equal(rasters[0][0], rasters[1][0])
    np.testing.assert_array_equal(rasters[0][1], rasters[1][1])
    reference = run(spec, strategy, "numpy", duration=100.0, conns=conns)
    np.testing.assert_array_equal(rasters[0][0], reference.spike_steps)
    np.testing.assert_array_equal(rasters[0][1], reference.spike_ids)


def test_launches_per_step(cupy):
    from synbench.impls import cupy as backend

    spec = coba(1000, seed=0)
    conns = spec.connectivity()
    expected = {"post_slice": 3, "pre_slice": 3, "pre2post": 3, "pre_ids": 3, "pre2syn": 4,
                "csr": 6, "dense": 7, "event_dense": 7}
    for name, launches in expected.items():
        sim = backend.Simulation(spec, registry.get(name, "cupy"), conns, 0.1, "float64", 10)
        assert sim.launches_per_step == launches, name
    alone = backend.Simulation(spec, None, {}, 0.1, "float64", 10)
    assert alone.launches_per_step == 2


def test_snapshot_matches_numpy_runner(cupy):
    from synbench.impls import cupy as cupy_backend
    from synbench.impls import numpy as numpy_backend

    spec = cobahh(500, seed=0)
    conns = spec.connectivity()
    sims = [
        module.Simulation(spec, registry.get("pre_slice", module_name), conns, 0.1,
                          "float64", 50)
        for module, module_name in ((numpy_backend, "numpy"), (cupy_backend, "cupy"))
    ]
    sims[1].compile()
    for sim in sims:
        sim.advance(120)
    want, got = (sim.snapshot() for sim in sims)
    assert set(want) == set(got)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_float32_run_is_close_to_float64(cupy):
    spec = coba(1000, seed=0)
    conns = spec.connectivity()
    r64 = run(spec, "pre_slice", "cupy", duration=200.0, conns=conns)
    r32 = run(spec, "pre_slice", "cupy", duration=200.0, conns=conns, dtype="float32")
    for group in ("E", "I"):
        assert r32.rates[group] == pytest.approx(r64.rates[group], rel=0.1)
