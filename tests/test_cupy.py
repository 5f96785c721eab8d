"""The CuPy backend: its CUDA sources, its availability, and its runner on a GPU.

The kernels themselves are checked against the reference by the registry-parametrized
tests (test_kernels.py, test_run.py), which pick up the ``cupy`` entries wherever CuPy
runs. Here: the .cu files compile (with nvcc, no GPU needed), the backend is listed with
a reason where it cannot run, and, on a GPU, what only the CuPy runner has (CUDA graphs,
launch counts, the on-GPU spike monitor, kernels called from one's own CuPy code).
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synbench import coba, cobahh, registry, run

CUDA_DIR = Path(__file__).resolve().parents[1] / "synbench" / "impls" / "cuda"
SOURCES = sorted(p.name for p in CUDA_DIR.glob("*.cu"))
# The same pattern the backend uses to find the kernels it instantiates.
TEMPLATE = re.compile(r"template\s*<\s*typename\s+T\s*>\s*__global__\s+void\s+(\w+)\s*\(")
REFERENCE_ARCH = "compute_75"  # the oldest architecture CUDA 13 still builds for


@pytest.fixture(scope="module")
def cupy():
    """CuPy with a usable GPU, else the test is skipped with the registry's reason."""
    cupy = pytest.importorskip("cupy", reason="cupy is not installed (pip install 'synbench[gpu]')")
    reason = registry.available()["cupy"]
    if reason is not None:
        pytest.skip(f"cupy backend unavailable: {reason}")
    return cupy


# --- everywhere ---


def test_sources_found():
    assert {"synapses.cu", "network.cu"} <= set(SOURCES)
    for name in SOURCES:
        assert TEMPLATE.findall((CUDA_DIR / name).read_text()), f"{name} has no kernels"


@pytest.mark.parametrize("ctype", ["float", "double"])
@pytest.mark.parametrize("source", SOURCES)
def test_cuda_source_compiles_to_ptx(source, ctype, tmp_path):
    """Every templated kernel, instantiated for float and double, compiles with nvcc."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not on the PATH: the CUDA sources were not compiled")
    names = TEMPLATE.findall((CUDA_DIR / source).read_text())
    wrapper = tmp_path / f"instantiate_{source}"
    wrapper.write_text(
        f'#include "{CUDA_DIR / source}"\n'
        + "void* synbench_instances[] = {\n"
        + "".join(f"    (void*)&{name}<{ctype}>,\n" for name in names)
        + "};\n"
    )
    ptx = tmp_path / "out.ptx"
    done = subprocess.run(
        [nvcc, "--ptx", f"-arch={REFERENCE_ARCH}", "--fmad=false", "--std=c++17",
         str(wrapper), "-o", str(ptx)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    entries = re.findall(r"\.entry\s+(\S+)\(", ptx.read_text())
    for name in names:
        assert any(name in e for e in entries), f"{name}<{ctype}> missing from the PTX"


# Writes the runner's generated neuron kernels; a stand-in module replaces CuPy where it
# is missing (generating the source needs none of it).
_GENERATE = """
import sys, types
import numpy as np
try:
    import cupy  # noqa: F401
except ImportError:
    sys.modules["cupy"] = types.ModuleType("cupy")
from synbench import coba, cobahh
from synbench.core.neurons import neuron_model
from synbench.impls.cupy_backend import _neuron_source
spec = {"coba": coba, "cobahh": cobahh}[sys.argv[1]](200, method=sys.argv[2])
print(_neuron_source(neuron_model(spec, 0.1, np), np.dtype(sys.argv[3]), sys.argv[2] == "rk2"))
"""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("method", ["exp_euler", "euler", "rk2", "rk4"])
@pytest.mark.parametrize("network", ["coba", "cobahh"])
def test_generated_neuron_kernel_compiles_to_ptx(network, method, dtype, tmp_path):
    """The neuron update the runner generates from the SymPy integrator compiles."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not on the PATH: the generated kernels were not compiled")
    done = subprocess.run([sys.executable, "-c", _GENERATE, network, method, dtype],
                          capture_output=True, text=True, check=True)
    source = tmp_path / "neurons.cu"
    source.write_text(f'#include "{CUDA_DIR / "network.cu"}"\n' + done.stdout)
    ptx = tmp_path / "out.ptx"
    compiled = subprocess.run(
        [nvcc, "--ptx", f"-arch={REFERENCE_ARCH}", "--fmad=false", "--std=c++17",
         str(source), "-o", str(ptx)],
        capture_output=True, text=True, timeout=300,
    )
    assert compiled.returncode == 0, compiled.stderr
    assert ".entry neuron_update(" in ptx.read_text()


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
    code = "import sys, synbench; synbench.registry.STRATEGIES; print('cupy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


# --- on a GPU ---


@pytest.mark.gpu
def test_kernel_called_from_users_cupy_code(cupy):
    from synbench.core.connect import FixedProb
    from synbench.impls import cupy_backend

    conn = FixedProb(0.2, seed=0).build(40, 30)
    entry = registry.get("post_slice", "cupy")
    data = entry.prepare(conn, 0.5, "float64")
    g = entry.init_state(data)
    spikes = cupy.asarray(np.random.default_rng(0).random(40) < 0.3)
    # The raw kernel, as a user would launch it from their own code.
    step = cupy_backend.kernel("synapse_step", "float64")
    step((4,), (256,), (g, data.pre_by_post, data.w, data.w_stride, spikes,
                        np.float64(0.9), np.int64(data.n_syn)))
    expected = np.zeros((40, 30))
    expected[conn.pre_ids, conn.post_ids] = 0.5 * cupy.asnumpy(spikes)[conn.pre_ids]
    got = cupy.asnumpy(entry.conductance(data, g))
    np.testing.assert_allclose(got, expected.sum(axis=0), rtol=1e-12)


@pytest.mark.gpu
@pytest.mark.parametrize("strategy", ["pre_slice", "post_slice", "pre2syn", "csr"])
def test_graphs_and_launches_give_the_same_raster(cupy, strategy):
    """With and without CUDA graphs, the raster is the NumPy runner's.

    csr calls cuSPARSE, which CuPy refuses to capture: it must fall back, saying why.
    """
    from synbench.impls import cupy_backend

    spec = coba(1000, seed=2)
    conns = spec.connectivity()
    entry = registry.get(strategy, "cupy")
    rasters = []
    for use_graphs in (True, False):
        sim = cupy_backend.Simulation(spec, entry, conns, 0.1, "float64", 300,
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


@pytest.mark.gpu
def test_launches_per_step(cupy):
    from synbench.impls import cupy_backend

    spec = coba(1000, seed=0)
    conns = spec.connectivity()
    expected = {"post_slice": 3, "pre_slice": 3, "pre2post": 3, "pre_ids": 3, "pre2syn": 4,
                "csr": 6, "dense": 7, "event_dense": 7}
    for name, launches in expected.items():
        sim = cupy_backend.Simulation(spec, registry.get(name, "cupy"), conns, 0.1,
                                      "float64", 10)
        assert sim.launches_per_step == launches, name
    alone = cupy_backend.Simulation(spec, None, {}, 0.1, "float64", 10)
    assert alone.launches_per_step == 2


@pytest.mark.gpu
def test_snapshot_matches_numpy_runner(cupy):
    from synbench.impls import cupy_backend, numpy_backend

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


@pytest.mark.gpu
def test_float32_run_is_close_to_float64(cupy):
    spec = coba(1000, seed=0)
    conns = spec.connectivity()
    r64 = run(spec, "pre_slice", "cupy", duration=200.0, conns=conns)
    r32 = run(spec, "pre_slice", "cupy", duration=200.0, conns=conns, dtype="float32")
    for group in ("E", "I"):
        assert r32.rates[group] == pytest.approx(r64.rates[group], rel=0.1)
