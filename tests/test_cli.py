"""The command line: the main job end to end, and one clear line for every mistake."""

import json
import subprocess
import sys

import pytest

from synbench.cli import main
from synbench.core import registry


def _synbench(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "synbench", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


@pytest.mark.slow
def test_compare_writes_table_json_and_png(tmp_path):
    out_json, out_png = tmp_path / "compare.json", tmp_path / "compare.png"
    proc = _synbench("compare", "--n", "500", "--duration", "20", "--no-progress",
                     "--json", str(out_json), "--plot", str(out_png))
    assert proc.returncode == 0, proc.stderr
    assert "agrees" in proc.stdout and "neurons alone" in proc.stdout
    report = json.loads(out_json.read_text())
    assert report["n"] == 500 and report["duration_ms"] == 20.0
    rows = [r for r in report["rows"] if r["strategy"] and not r["skipped"]]
    assert {r["backend"] for r in rows} >= {"numpy", "numba"}
    assert all(r["agrees"] for r in rows), [r for r in rows if not r["agrees"]]
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # By default the matrix strategies run on the reference's backend (NumPy) only.
    matrix = {(e.name, e.backend) for e in registry.entries() if e.dense}
    assert {(r["strategy"], r["backend"]) for r in rows} & matrix == {
        (s, b) for s, b in matrix if b == "numpy"}
    aside = {(r["strategy"], r["backend"]) for r in report["rows"]
             if r["skipped"] and "--all-matrix" in r["skipped"]}
    assert aside == {(s, b) for s, b in matrix if b != "numpy"} != set()


def test_compare_checks_against_the_chosen_reference(tmp_path):
    out_json = tmp_path / "compare.json"
    proc = _synbench("compare", "--n", "300", "--duration", "20", "--no-progress",
                     "--strategies", "pre2post,dense", "--backends", "numpy",
                     "--reference", "pre_slice-numpy", "--json", str(out_json), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    chart = tmp_path / "synbench-compare-coba-n300.png"  # the main job ends with a picture
    assert f"bar chart written to {chart.name}" in proc.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "reference run: pre_slice-numpy" in proc.stderr
    assert "reference run: dense-numpy" not in proc.stderr
    report = json.loads(out_json.read_text())
    assert report["reference"] == "pre_slice-numpy float64"
    checked = [row for row in report["rows"] if row["strategy"] is not None]
    # The matrix strategy last (declared first), each row logged as soon as it is known.
    assert [row["strategy"] for row in checked] == ["pre2post", "dense"]
    answers = [line.strip() for line in proc.stderr.splitlines() if "s so far)" in line]
    assert [line.split(":")[0] for line in answers] == [
        "neurons alone-numpy", "pre2post-numpy", "dense-numpy"]
    assert all("same raster as the reference: yes" in line for line in answers[1:]), answers
    assert all(row["agrees"] is True for row in checked), checked


def test_run_prints_rates_and_writes_raster(tmp_path, capsys):
    png = tmp_path / "raster.png"
    assert main(["run", "--n", "200", "--p", "0.2", "--duration", "20", "--backend", "numpy",
                 "--no-progress", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "E " in out and "Hz" in out and str(png) in out
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_list_shows_every_backend(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for backend in ("numpy", "numba", "jax", "cupy"):
        assert backend in out
    assert "pre_slice" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "--strategies", "pre_slise"], "did you mean 'pre_slice'"),
        (["compare", "--backends", "cuda"], "unknown backend 'cuda'"),
        (["compare", "--reference", "pre_slice"], "is not STRATEGY-BACKEND"),
        (["compare", "--reference", "pre_slise-numba"], "did you mean 'pre_slice'"),
        (["run", "--n", "-5"], "positive integer"),
        (["run", "--n", "ten"], "invalid int value"),
        (["run", "--duration", "10.05"], "whole number of steps"),
        (["run", "--json", "/no/such/dir/out.json"], "does not exist"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_nonzero_with_one_line(args, message):
    proc = _synbench(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("synbench: error:") and message in lines[0]
    assert "Traceback" not in proc.stderr


def test_no_plot_writes_no_chart(tmp_path):
    proc = _synbench("compare", "--n", "200", "--duration", "2", "--no-progress", "--no-plot",
                     "--strategies", "pre_slice", "--backends", "numpy",
                     "--reference", "pre_slice-numpy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "pre_slice" in proc.stdout and "bar chart" not in proc.stdout
    assert list(tmp_path.iterdir()) == []


def test_failed_run_leaves_no_output_file(tmp_path):
    out = tmp_path / "out.json"
    proc = _synbench("run", "--duration", "10.05", "--json", str(out))
    assert proc.returncode == 2 and not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_cli_run_keeps_jax_compilations_in_the_synbench_cache(cache_dir, monkeypatch):
    pytest.importorskip("jax", reason="jax is not installed (pip install 'synbench[jax]')")
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    args = ("run", "--backend", "jax", "--n", "200", "--duration", "5", "--no-progress")
    first, second = _synbench(*args), _synbench(*args)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    saved = [p for p in (cache_dir / "jax").rglob("*") if p.is_file()]
    assert saved, "JAX's persistent cache stayed empty"
    def rates(out):
        return [line for line in out.splitlines() if "Hz" in line]

    assert rates(first.stdout) == rates(second.stdout) != []  # the loaded programs agree
