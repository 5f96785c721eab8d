"""The asv suites import, are well formed, and a small subset runs and records results.

Both run asv in the current environment (``--python=same``), the way a developer runs
it locally, so a broken benchmark fails the test suite rather than the next nightly run.
The smoke run writes to a temporary results directory through a temporary copy of
``asv.conf.json`` whose ``repo`` is a throw-away git repository with one empty commit:
asv records results only under a commit hash, and this works the same in a fresh clone,
a shallow CI checkout or a working tree with uncommitted changes.
"""

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("asv")

ROOT = Path(__file__).parent.parent
# (benchmark, parameters as asv writes them): one of each kind at the smallest size on
# NumPy and Numba (both always installed), and one network benchmark's compile tracker.
SMOKE = [
    ("bench_kernels.KernelStep.time_step", ("'pre_slice-numpy'", "1000", "10")),
    ("bench_kernels.KernelStep.time_step", ("'csr-numba'", "1000", "10")),
    ("bench_kernels.KernelAllToAll.time_step", ("'csr-numpy'", "500", "2000")),
    ("bench_kernels.KernelPrepare.peakmem_prepare", ("'csr-numpy'", "1000")),
    ("bench_kernels.KernelMemory.track_bytes_per_synapse", ("'pre_slice-numpy'", "1000")),
    ("bench_networks.CobaCompile.track_compile_s", ("'pre_slice-numpy'", "4000")),
]


def _asv(*args, cwd, env=None, timeout=600):
    result = subprocess.run(
        [sys.executable, "-m", "asv", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=timeout,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"asv {' '.join(args)} failed:\n{output}"
    return output


def _env(tmp_path):
    # asv keeps its machine description in ~/.asv-machine.json: keep it out of $HOME.
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "HOME": str(home)}


@pytest.mark.slow
def test_asv_check(tmp_path):
    output = _asv("check", "--python=same", cwd=ROOT, env=_env(tmp_path))
    assert "Traceback" not in output, output


@pytest.mark.slow
def test_asv_smoke_run_records_results(tmp_path):
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is needed for asv's commit hash")
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q", "-b", "main"],
                 ["-c", "user.name=synbench", "-c", "user.email=synbench@example.invalid",
                  "commit", "-q", "--allow-empty", "-m", "asv smoke"]):
        subprocess.run([git, *args], cwd=repo, check=True)
    head = subprocess.run([git, "rev-parse", "HEAD"], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.strip()

    conf = json.loads((ROOT / "asv.conf.json").read_text())
    conf.update(
        repo=str(repo), branches=["main"], benchmark_dir=str(ROOT / "benchmarks"),
        env_dir=str(tmp_path / "env"), results_dir=str(tmp_path / "results"),
        html_dir=str(tmp_path / "html"),
    )
    conf_path = tmp_path / "asv.conf.json"
    conf_path.write_text(json.dumps(conf))
    env = _env(tmp_path)

    _asv("machine", "--yes", "--machine", "smoke", "--config", str(conf_path), cwd=tmp_path,
         env=env)
    bench = []
    for name, params in SMOKE:
        bench += ["--bench", re.escape(f"{name}({', '.join(params)})")]
    output = _asv("run", "--config", str(conf_path), "--python=same", "--quick",
                  "--machine", "smoke", "--set-commit-hash", head, "--show-stderr", *bench,
                  cwd=tmp_path, env=env)

    files = [p for p in (tmp_path / "results" / "smoke").glob("*.json")
             if p.name != "machine.json"]
    assert len(files) == 1, output
    results = json.loads(files[0].read_text())
    assert results["commit_hash"] == head
    columns = results["result_columns"]
    for name, params in SMOKE:
        assert name in results["results"], f"{name} missing from the results:\n{output}"
        row = dict(zip(columns, results["results"][name], strict=False))  # trailing Nones dropped
        combos = list(itertools.product(*row["params"]))
        value = row["result"][combos.index(params)]
        assert value is not None and value > 0, f"{name}{params} = {value}\n{output}"

    _asv("publish", "--config", str(conf_path), cwd=tmp_path, env=env)
    assert (tmp_path / "html" / "index.html").exists()

