"""Threads end to end: a whole network on numba_parallel at 1, 2 and 3 threads, and the
``threads`` option of run, compare, fastest, the command line and asv.

The kernels alone, entry by entry and thread count by thread count, are checked in
test_numba_parallel.py; every numba_parallel entry's COBA raster against the reference
in test_run.py (parametrized over the registry). Here: the runner's own parallel loops
(the neuron update, the decays) and the option that sets the count.
"""

import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from synbench import FixedProb, coba, fastest, run
from synbench.compare import compare
from synbench.core import registry
from synbench.core.errors import SynbenchError

pytestmark = pytest.mark.skipif(registry.available()["numba_parallel"] is not None,
                                reason="numba is not installed")

# One process with NUMBA_NUM_THREADS=3: COBA (and COBA with Alpha synapses, whose
# two-variable advance runs in the runner's own parallel loop) at 1, 2 and 3 threads;
# the raster and the final state of each, as lists, for the test to compare.
_RUNS = """
import json, sys
import numpy as np
from synbench import coba, run
from synbench.impls import numba_parallel

out = {}
for synapse in ("exponential", "alpha"):
    spec = coba(500, seed=4, synapse=synapse)
    conns = spec.connectivity()
    for threads in (1, 2, 3):
        result = run(spec, "pre_slice", "numba_parallel", duration=100.0, conns=conns,
                     threads=threads)
        out[f"{synapse}-{threads}"] = {
            "threads": result.threads, "steps": result.spike_steps.tolist(),
            "ids": result.spike_ids.tolist()}
print(json.dumps(out))
"""


def test_a_network_gives_the_same_raster_on_one_two_and_three_threads():
    env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ, "NUMBA_NUM_THREADS": "3"}
    done = subprocess.run([sys.executable, "-c", _RUNS], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = json.loads(done.stdout)
    for synapse in ("exponential", "alpha"):
        spec = coba(500, seed=4, synapse=synapse)
        reference = run(spec, "dense", "numpy", duration=100.0)
        assert reference.spike_ids.size > 100  # the network fires
        for threads in (1, 2, 3):
            got = runs[f"{synapse}-{threads}"]
            assert got["threads"] == threads
            np.testing.assert_array_equal(got["steps"], reference.spike_steps)
            np.testing.assert_array_equal(got["ids"], reference.spike_ids)


def test_the_state_after_a_run_is_bit_identical_to_the_serial_runners():
    spec = coba(400, seed=2)
    conns = spec.connectivity()
    serial = registry.BACKENDS["numba"].load().Simulation(
        spec, registry.get("csr", "numba"), conns, 0.1, "float64", 200)
    threaded = registry.BACKENDS["numba_parallel"].load().Simulation(
        spec, registry.get("csr", "numba_parallel"), conns, 0.1, "float64", 200)
    for sim in (serial, threaded):
        sim.compile()
        sim.advance(300)
    want, got = serial.snapshot(), threaded.snapshot()
    assert set(got) == set(want)
    assert np.count_nonzero(want["g:E2E"]) > 0
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_run_reports_the_thread_count_and_refuses_bad_ones():
    spec = coba(200)
    result = run(spec, "pre_slice", "numba_parallel", duration=5.0, threads=1)
    assert result.threads == 1 and result.summary()["threads"] == 1
    assert result.label == "pre_slice (numba_parallel x1)"
    assert run(spec, "pre_slice", "numba", duration=5.0).threads is None
    with pytest.raises(SynbenchError, match="runs on one thread"):
        run(spec, "pre_slice", "numba", duration=5.0, threads=2)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(SynbenchError, match="positive whole number"):
            run(spec, "pre_slice", "numba_parallel", duration=5.0, threads=bad)
    with pytest.raises(SynbenchError, match="NUMBA_NUM_THREADS"):
        run(spec, "pre_slice", "numba_parallel", duration=5.0, threads=10_000)


def test_a_run_leaves_the_thread_count_as_it_found_it():
    import numba

    before = numba.get_num_threads()
    run(coba(200), "pre_slice", "numba_parallel", duration=5.0, threads=1)
    assert numba.get_num_threads() == before
    with pytest.raises(SynbenchError):  # a failed run too
        run(coba(200), "pre_slice", "numba_parallel", duration=5.05, threads=1)
    assert numba.get_num_threads() == before


def test_compare_shows_the_threads_beside_the_backend():
    comparison = compare(coba(300), ["pre_slice"], ["numba", "numba_parallel"], duration=10.0,
                         progress=False, log=lambda line: None,
                         reference=("pre_slice", "numba"), threads=1)
    table = comparison.table()
    assert "numba_parallel x1" in table
    rows = {row.backend: row for row in comparison.rows if row.strategy}
    assert rows["numba_parallel"].agrees == "yes" and rows["numba"].result.threads is None
    with pytest.raises(SynbenchError, match="not among the selected backends"):
        compare(coba(300), ["pre_slice"], ["numba"], duration=5.0, progress=False,
                log=lambda line: None, reference=("pre_slice", "numba"), threads=2)


def test_the_thread_count_is_part_of_fastests_cache_key(cache_dir):
    fm = importlib.import_module("synbench.fastest")  # the module, not the function

    conn = FixedProb(0.1, seed=0).build(200, 150)
    quick = dict(backend="numba_parallel", rate_hz=10.0, budget_s=20.0,
                 strategies=("pre_slice", "csr"))
    first = fastest(conn, threads=1, **quick)
    assert first.threads == 1 and "numba_parallel (1 threads)" in str(first)
    count = fm.TIMINGS_RUN
    assert fastest(conn, threads=1, **quick).from_cache
    assert fm.TIMINGS_RUN == count
    if registry.BACKENDS["numba_parallel"].load().thread_count() >= 2:
        again = fastest(conn, threads=2, **quick)  # another machine, as far as ranking goes
        assert not again.from_cache and again.threads == 2
    with pytest.raises(SynbenchError, match="runs on one thread"):
        fastest(conn, backend="numpy", threads=2)


def test_the_command_line_takes_threads():
    proc = subprocess.run([sys.executable, "-m", "synbench", "run", "--n", "200",
                           "--duration", "5", "--backend", "numba_parallel", "--threads", "1",
                           "--no-progress"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "numba_parallel x1" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "synbench", "run", "--n", "200",
                           "--duration", "5", "--threads", "2", "--no-progress"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "numba_parallel" in proc.stderr


def test_the_asv_benchmark_skips_thread_counts_the_machine_does_not_allow():
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks.bench_networks import CobaThreads

    bench = CobaThreads()
    assert {e.rsplit("-", 1)[1] for e in bench.params[0]} == {"numba_parallel"}
    with pytest.raises(NotImplementedError, match="NUMBA_NUM_THREADS"):
        bench.setup("pre_slice-numba_parallel", 10_000, 4000)
