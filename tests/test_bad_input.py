"""Bad input at the command line and the Python API: one clear error, nothing lost.

Issue 17's classes 2 (diverged runs), 3 (output files), 4 (sizes, seeds, step counts)
and 6 (API traps). Kernel-API and file cases live in test_kernel_api_checks.py and
test_bad_files.py.
"""

import json
import os
import re
import stat
import subprocess
import sys

import numpy as np
import pytest

from synbench import SynbenchError, SynbenchWarning, coba, cobahh, compare, run
from synbench.cli import main
from synbench.core import registry


def _tree(path):
    """Every file under ``path`` with its bytes and mode: what a failed command must not change."""
    return {p: (p.read_bytes(), p.stat().st_mode) for p in sorted(path.rglob("*")) if p.is_file()}


def _fails_cleanly(capsys, tmp_path, *args, message):
    """``synbench ARGS`` exits 2 with one error line containing ``message``, files untouched."""
    before = _tree(tmp_path)
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("synbench: warning:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("synbench: error:") and message in lines[0], err
    assert "Traceback" not in err
    assert _tree(tmp_path) == before
    return err


SMALL = ("--n", "200", "--duration", "5", "--no-progress", "--backend", "numpy")


@pytest.mark.parametrize(("args", "message"), [
    (["--plot", "raster.xyz"], "extensions .png, .pdf, .svg"),
    (["--plot", "raster"], "extensions .png, .pdf, .svg"),
    (["--json", "/proc/synbench-test.json"], "cannot write /proc/synbench-test.json"),
    (["--json", "."], "is a directory"),
    (["--json", "same.png", "--plot", "same.png"], "the same file"),
    (["--json", "existing.svg", "--plot", "./sub/../existing.svg"], "the same file"),
    (["--json", "no/such/folder/out.json"], "does not exist"),
])
def test_output_paths_refused_before_the_run(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing.json").write_text('{"precious": true}')
    _fails_cleanly(capsys, tmp_path, "run", *SMALL, *args, message=message)


def test_a_special_file_is_not_replaced(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "pipe.json")
    _fails_cleanly(capsys, tmp_path, "run", *SMALL, "--json", "pipe.json",
                   message="not a regular file")


@pytest.mark.parametrize("ext", ["png", "pdf", "svg"])
def test_plots_are_written_in_the_format_their_name_says(capsys, tmp_path, ext):
    path = tmp_path / f"raster.{ext}"
    assert main(["run", *SMALL, "--plot", str(path)]) == 0
    magic = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<?xml"}[ext]
    assert path.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind


def test_result_files_get_the_mode_open_would_give(capsys, tmp_path):
    mask = os.umask(0o027)
    try:
        assert main(["run", *SMALL, "--json", str(tmp_path / "out.json")]) == 0
    finally:
        os.umask(mask)
    reference = tmp_path / "made-by-open"
    old = os.umask(0o027)
    try:
        reference.write_text("")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "out.json").stat().st_mode)
    assert mode == stat.S_IMODE(reference.stat().st_mode) == 0o640
    assert json.loads((tmp_path / "out.json").read_text())["n"] == 200


@pytest.mark.parametrize(("args", "message"), [
    (["--n", "10000000000"], "int32"),
    (["--n", "500000000"], "of memory is available"),
    (["--seed", "-1"], "non-negative integer"),
    (["--dt", "1e-300"], "steps is more than"),
    (["--duration", "1e300"], "steps is more than"),
    (["--dt", "nan"], "positive number of ms"),
    (["--duration", "inf"], "positive number of ms"),
    (["--duration", "0.01"], "whole number of steps"),
])
def test_sizes_seeds_and_step_counts_are_bounded(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    _fails_cleanly(capsys, tmp_path, "run", "--no-progress", "--json", "out.json", *args,
                   message=message)


def test_an_empty_list_does_not_mean_all(capsys, tmp_path):
    _fails_cleanly(capsys, tmp_path, "compare", "--strategies", " , ", message="is empty")
    with pytest.raises(SynbenchError, match="non-empty list"):
        compare(coba(200), strategies=[])


def test_compare_says_why_nothing_can_run(capsys, tmp_path):
    reason = registry.available()["cupy"]
    if reason is None:
        pytest.skip("CuPy runs here, so --backends cupy has something to run")
    _fails_cleanly(capsys, tmp_path, "compare", "--backends", "cupy", "--n", "200",
                   message=reason)


def test_list_gives_a_reason_for_every_unavailable_entry(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "unavailable: None" not in out
    for entry in registry.entries(available_only=False):
        if not entry.is_available:
            assert f"{entry.name:<12} {entry.backend:<8}" in out


# --- a diverged run stops with an error instead of reporting rates ---

def _diverging():
    """COBAHH with dt = 2 ms: the explicit integration of its fast gates blows up."""
    return cobahh(200)


def _first_nonfinite_step(spec, dt):
    """Step the NumPy runner one step at a time until its state first holds NaN or inf."""
    sim = registry.BACKENDS["numpy"].load().Simulation(
        spec, registry.get("pre_slice", "numpy"), spec.connectivity(), dt, "float64", 1)
    for step in range(1000):
        sim.advance(1)
        if not all(np.isfinite(v).all() for v in sim.snapshot().values()):
            return step
    raise AssertionError("the network did not diverge")


@pytest.mark.parametrize("backend", list(registry.BACKENDS))
def test_a_diverged_run_is_an_error_on_every_backend(backend):
    if registry.available()[backend] is not None:
        pytest.skip(f"{backend} is not available here: {registry.available()[backend]}")
    spec = _diverging()
    with pytest.warns(SynbenchWarning, match="time constant"), \
            pytest.raises(SynbenchError, match=r"diverged between steps \d+ and \d+") as err:
        run(spec, "pre_slice", backend, duration=40.0, dt=2.0, chunk_steps=5)
    first, stop = map(int, re.search(r"steps (\d+) and (\d+)", str(err.value)).groups())
    assert first <= _first_nonfinite_step(spec, 2.0) < stop
    # The same network at a fine dt stays finite: the error is the divergence, not the net.
    fine = run(spec, "pre_slice", "numpy", duration=40.0, dt=0.05)
    assert all(np.isfinite(list(fine.rates.values())))


def test_a_diverged_run_writes_nothing(tmp_path):
    """In a real process: exactly the dt warning and the error, no NumPy warnings."""
    (tmp_path / "existing.json").write_text('{"precious": true}')
    before = _tree(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "synbench", "run", "--network", "cobahh", "--n", "200", "--dt",
         "2", "--duration", "40", "--backend", "numpy", "--no-progress", "--json",
         "existing.json", "--plot", "r.png"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("synbench: warning: dt = 2 ms")
    assert lines[1].startswith("synbench: error: the network diverged between steps")
    assert "use a smaller dt" in lines[1] and proc.stdout == ""
    assert _tree(tmp_path) == before


def test_a_fine_dt_gives_no_warning(recwarn):
    run(coba(200), "pre_slice", "numpy", duration=5.0)
    assert not [w for w in recwarn if issubclass(w.category, SynbenchWarning)]


# --- the Python API's traps ---

def test_run_checks_its_arguments():
    spec = coba(200)
    with pytest.raises(SynbenchError, match="such as synbench.coba"):
        run("coba", "pre_slice", "numpy")
    with pytest.raises(SynbenchError, match="backend must be a name"):
        run(spec, "pre_slice", None)
    with pytest.raises(SynbenchError, match="strategy must be a name"):
        run(spec, 3, "numpy")
    conns = spec.connectivity()
    with pytest.raises(SynbenchError, match="must be a dict"):
        run(spec, "pre_slice", "numpy", conns=list(conns.values()))
    with pytest.raises(SynbenchError, match=r"conns\['I2I'\] must be a Connectivity"):
        run(spec, "pre_slice", "numpy", conns={k: v for k, v in conns.items() if k != "I2I"})
    swapped = dict(conns, E2I=conns["I2E"])
    with pytest.raises(SynbenchError, match=r"conns\['E2I'\] is 50 x 150 but projection E2I"):
        run(spec, "pre_slice", "numpy", conns=swapped)
    with pytest.raises(SynbenchError, match="chunk_steps"):
        run(spec, "pre_slice", "numpy", duration=1.0, chunk_steps=True)


def test_compare_checks_its_arguments():
    with pytest.raises(SynbenchError, match="such as synbench.coba"):
        compare("coba")
    with pytest.raises(SynbenchError, match=r"a \(strategy, backend\) pair"):
        compare(coba(200), reference="dense-numpy")
    with pytest.raises(SynbenchError, match="non-empty list"):
        compare(coba(200), backends="numpy")


def test_numpy_scalars_are_numbers():
    spec = coba(400, np.int64(3), p=np.float32(0.05), exc_fraction=np.float64(0.75))
    assert spec.p == float(np.float32(0.05)) and spec.n == 400 and spec.seed == 3
    same = coba(400, 3, p=float(np.float32(0.05)))
    conn, want = spec.connectivity()["E2E"], same.connectivity()["E2E"]
    assert np.array_equal(conn.pre_ids, want.pre_ids)
    assert np.array_equal(conn.post_ids, want.post_ids)
    result = run(spec, "pre_slice", "numpy", duration=np.float64(2.0), dt=np.float32(0.5))
    assert result.n_steps == 4


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(seed=-1), "non-negative"),
    (dict(seed=1.5), "non-negative integer"),
    (dict(n=True), "positive integer"),
    (dict(p=float("nan")), "not in"),
    (dict(p=True), "not in"),
    (dict(exc_fraction=float("nan")), "strictly between"),
])
def test_network_arguments(kwargs, message):
    with pytest.raises(SynbenchError, match=message):
        coba(**{"n": 200, **kwargs})
