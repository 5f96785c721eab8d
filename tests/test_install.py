"""The README's two installs work in sequence in one environment (issue 18).

A non-editable install that has run Numba kernels must leave nothing behind in the
installed package: Numba used to write its cache into ``site-packages/synbench``, pip did
not remove it when ``pip install -e`` replaced the install, and the leftover directory
shadowed the checkout as a namespace package in processes that do not start from it.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIP_TIMEOUT = 300

pytestmark = pytest.mark.slow


def _run(args, *, cwd, env, timeout=PIP_TIMEOUT):
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _pip_install(python, *args, cwd, env):
    # Without build isolation nothing is downloaded, but setuptools needs its wheel
    # support (setuptools >= 70.1, or the wheel package); else let pip fetch it.
    tries = [[python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", *args],
             [python, "-m", "pip", "install", "--no-deps", *args]]
    for command in tries:
        proc = _run(command, cwd=cwd, env=env)
        if proc.returncode == 0:
            return
    output = proc.stdout + proc.stderr
    if "No matching distribution" in output or "connection" in output.lower():
        pytest.skip(f"cannot build synbench here (no setuptools wheel support, offline):\n"
                    f"{output[-2000:]}")
    raise AssertionError(f"pip install {' '.join(map(str, args))} failed:\n{output}")


def _python(python, code, *, cwd, env, timeout=PIP_TIMEOUT):
    proc = _run([python, "-c", code], cwd=cwd, env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


def _files(directory: Path) -> set:
    return {p.relative_to(directory) for p in directory.rglob("*")}


def test_install_then_editable_install_leaves_no_stray_package(tmp_path):
    # The venv takes numpy, numba, ... (and pip) from this environment: nothing to download.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    cache = tmp_path / "cache"
    outside = tmp_path / "elsewhere"  # no process may import from the checkout by its cwd
    outside.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR", "NUMBA_CACHE_LOCATOR_CLASSES")}
    env["SYNBENCH_CACHE_DIR"] = str(cache)

    # Built from a copy: an in-tree build would leave build/ in the checkout.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "synbench", source / "synbench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    _pip_install(python, source, cwd=outside, env=env)
    installed = Path(_python(python, "import os, synbench; print(os.path.dirname("
                                     "synbench.__file__))", cwd=outside, env=env))
    assert installed.is_relative_to(venv), installed
    before = _files(installed)

    _python(python, "import synbench; synbench.run(synbench.coba(200), 'pre_slice', 'numba', "
                    "duration=5.0)", cwd=outside, env=env)
    new = sorted(map(str, _files(installed) - before))
    assert not new, f"written into the installed package: {new}"
    assert list((cache / "numba").rglob("*.nbi")) and list((cache / "numba").rglob("*.nbc"))

    _pip_install(python, "-e", ROOT, cwd=outside, env=env)
    assert not installed.exists(), sorted(map(str, _files(installed)))
    found = _python(python, "import synbench; from synbench import registry; "
                            "registry.get('pre_slice', 'numpy'); print(synbench.__file__)",
                    cwd=outside, env=env)
    assert Path(found) == ROOT / "synbench" / "__init__.py"
