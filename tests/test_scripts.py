"""The Brian 2 comparison driver: what it measures and how it fails without Brian."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

SCRIPTS = pathlib.Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))
import vs_brian2  # noqa: E402


def test_peak_memory_is_the_childs_own():
    # Driven from a fresh small process, as the script runs: a child forked from this
    # (large) test process would inherit its high-water mark.
    allocate = "import numpy as np; a = np.ones(300 * 2**20 // 8); print(a.sum())"
    drive = (f"import sys; sys.path.insert(0, {str(SCRIPTS)!r}); import vs_brian2; "
             f"print(vs_brian2.run_measured([sys.executable, '-c', {allocate!r}])[1])")
    proc = subprocess.run([sys.executable, "-c", drive], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    peak_mb = float(proc.stdout)
    assert 300 <= peak_mb < 450  # the child's 300 MB array and an interpreter, no more


def test_failing_child_stops_with_one_line():
    with pytest.raises(SystemExit, match="exited with 3"):
        vs_brian2.run_measured([sys.executable, "-c", "raise SystemExit(3)"])


def test_missing_brian_interpreter_is_one_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPTS / "vs_brian2.py"), "--brian-python",
                           str(tmp_path / "nope")], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "pip install brian2" in proc.stderr


def test_summary_quotes_medians_of_the_pairs():
    pairs = [{"brian_s": b, "brian_peak_mb": 10.0, "synbench_s": s, "synbench_peak_mb": 20.0}
             for b, s in [(0.3, 0.1), (0.4, 0.1), (0.9, 0.1)]]
    record = {"n": 4000, "strategy": "pre_slice", "backend": "numba", "pairs": pairs,
              "synbench_rates_hz": {"E": 14.0, "I": 13.9},
              "brian_rates_hz": {"E": 13.3, "I": 13.7}, "median_ratio": 4.0,
              "brian_method": "exponential_euler"}
    line = vs_brian2.summary_line(record)
    assert "0.100 s" in line and "4.00x" in line
    assert "Brian 2 standalone (exponential_euler) 0.400 s" in line


def test_the_brian_driver_sees_the_specs_delays():
    """scripts/brian2_coba.py hands Brian every synapse's delay as the spec defines it
    (the same network can run there): checked here without Brian, on its table."""
    import brian2_coba

    from synbench import coba

    spec = coba(300, delay=(0.1, 5.0))
    conns = spec.connectivity()
    table = brian2_coba.synapse_table(spec, conns)
    assert [name for name, *_ in table] == [p.name for p in spec.projections]
    for (name, i, j, delay_ms), proj in zip(table, spec.projections, strict=True):
        conn = conns[name]
        assert i.size == j.size == delay_ms.size == conn.n_syn
        assert np.array_equal(i - spec.group(proj.pre).start, conn.pre_ids)
        steps = proj.delay_steps(conn, 0.1)
        assert np.array_equal(np.rint(delay_ms / 0.1), steps)
        assert delay_ms.min() == pytest.approx(0.1) and delay_ms.max() == pytest.approx(5.0)
    (_, _, _, one), *_ = brian2_coba.synapse_table(coba(300, delay=1.5), conns)
    assert one.ndim == 0 and one == pytest.approx(1.5)


def test_the_yardstick_driver_fails_with_one_line_without_its_script(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPTS / "vs_fused.py"), "--fused",
                           str(tmp_path / "nope.py")], capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "--fused" in proc.stderr


def test_the_yardstick_driver_quotes_the_median_ratio(tmp_path):
    # A stand-in yardstick that reports a fixed run time: the driver's arithmetic, checked.
    fake = tmp_path / "coba_fused.py"
    fake.write_text("import json; print(json.dumps({'run_s': 1e-6}))\n")
    proc = subprocess.run([sys.executable, str(SCRIPTS / "vs_fused.py"), "--fused", str(fake),
                           "--n", "200", "--duration", "2", "--repeats", "1",
                           "--backend", "numpy"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "yardstick 0.0000 s" in proc.stdout and "pre_slice (numpy)" in proc.stdout


def test_brian_threads_are_set_against_numba_parallel():
    proc = subprocess.run([sys.executable, str(SCRIPTS / "vs_brian2.py"), "--threads", "2",
                           "--backend", "numba"], capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "numba_parallel" in proc.stderr
    pairs = [{"brian_s": 0.6, "brian_peak_mb": 1.0, "synbench_s": 0.2, "synbench_peak_mb": 1.0}]
    record = {"n": 64000, "threads": 2, "strategy": "pre_slice", "backend": "numba_parallel",
              "pairs": pairs, "synbench_rates_hz": {"E": 14.0}, "brian_rates_hz": {"E": 14.1},
              "median_ratio": 3.0, "brian_method": "euler"}
    assert vs_brian2.summary_line(record).startswith("n=64000, 2 threads: pre_slice")


def test_the_sharded_step_timer_reports_each_device_count(tmp_path):
    pytest.importorskip("jax", reason="jax is not installed (pip install 'synbench[jax]')")
    out = tmp_path / "rows.json"
    proc = subprocess.run([sys.executable, str(SCRIPTS / "sharded_steps.py"), "--n", "500",
                           "--devices", "1", "2", "--repeats", "1", "--duration", "2",
                           "--platform", "cpu", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    rows = json.loads(out.read_text())["rows"]
    assert [row["devices"] for row in rows] == [None, 1, 2]
    assert all(row["step_s"] > 0 and row["neurons_s"] > 0 for row in rows)
    assert rows[0]["gather_s"] == 0 and rows[2]["gather_s"] > 0
    # Each of 2 devices holds about half of the synapses one device holds.
    whole, half = rows[1]["device_bytes"]["synapses"], rows[2]["device_bytes"]["synapses"]
    assert 0.45 * whole < half < 0.8 * whole
    assert "gather/step" in proc.stdout
