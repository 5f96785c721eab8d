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
    _check_report_in_a_browser(tmp_path / "html", tmp_path / "served", [n for n, _ in SMOKE])


# --- asv publish's report, opened in headless Chromium ---

# The report loads jQuery, flot, bootstrap and friends from CDNs, which CI cannot reach;
# it reaches npm's registry, which has the same packages. (stupidtable 1.0.1 is not on
# npm: 1.1.3 has the same API.) Each rule maps a CDN address to (package, version, path).
_CDNJS = {"flot": lambda version, name: ("flot", version, name.replace(".min.js", ".js")),
          "stupidtable": lambda version, name: ("stupid-table-plugin", "1.1.3", name),
          "blueimp-md5": lambda version, name: ("blueimp-md5", version, name)}
_CDN_RULES = [
    (r"https://cdn\.jsdelivr\.net/npm/([^@/]+)@([^/]+)/(.+)", lambda m: m.groups()),
    (r"https://code\.jquery\.com/jquery-([\d.]+)\.min\.js",
     lambda m: ("jquery", m[1], "dist/jquery.min.js")),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/([^/]+)/([^/]+)/(.+)",
     lambda m: _CDNJS[m[1]](m[2], m[3])),
]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1200,800",
                  "--virtual-time-budget=15000"]


def _unavailable(reason):
    """Skip, except where .ci/run says the browser check must run (then fail)."""
    if os.environ.get("SYNBENCH_TEST_BROWSER") == "required":
        pytest.fail(f"{reason} (SYNBENCH_TEST_BROWSER=required)")
    pytest.skip(reason)


def _npm_file(url):
    import io
    import tarfile
    import urllib.request

    for pattern, rule in _CDN_RULES:
        match = re.fullmatch(pattern, url)
        if match:
            package, version, path = rule(match)
            break
    else:
        raise AssertionError(f"asv's report loads {url}: add a rule for it to _CDN_RULES")
    tarball = f"https://registry.npmjs.org/{package}/-/{package}-{version}.tgz"
    try:
        data = urllib.request.urlopen(tarball, timeout=60).read()
    except OSError as err:
        _unavailable(f"npm's registry is unreachable for the report's scripts ({err})")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.extractfile(f"package/{path}").read()


def _served_copy(html, served):
    """A copy of the report with its CDN scripts and styles in ``vendor/``."""
    shutil.copytree(html, served)
    index = (served / "index.html").read_text()
    (served / "vendor").mkdir()
    for k, url in enumerate(sorted(set(re.findall(r'(?:src|href)="(https://[^"]+\.(?:js|css))"',
                                                  index)))):
        local = f"vendor/{k}-{url.rsplit('/', 1)[1]}"
        (served / local).write_bytes(_npm_file(url))
        index = index.replace(url, local)
    # Integrity hashes pin the CDN's bytes; npm's copies may be minified differently.
    index = re.sub(r'\s(integrity|crossorigin|referrerpolicy)="[^"]*"', "", index)
    (served / "index.html").write_text(index)


def _dom(chromium, url, profile):
    """The page's DOM once its scripts have run (Chromium's virtual time budget)."""
    proc = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                           "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _check_report_in_a_browser(html, served, names):
    """Chromium renders the benchmark grid (every benchmark listed) and one graph."""
    import functools
    import http.server
    import threading

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        _unavailable("Chromium is not installed (apt-get install chromium; .ci/run does)")
    _served_copy(html, served)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    root = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    try:
        grid = _dom(chromium, root, served.parent / "profile-grid")
        assert "failed to load" not in grid, grid[:2000]
        listed = set(re.findall(r'class="btn benchmark-container" href="#([^"]+)"', grid))
        benchmarks = json.loads((html / "index.json").read_text())["benchmarks"]
        assert listed == set(benchmarks) and set(names) <= listed, (listed, set(benchmarks))

        name = "bench_kernels.KernelMemory.track_bytes_per_synapse"
        graph = _dom(chromium, f"{root}#{name}", served.parent / "profile-graph")
        plot = graph[graph.index('id="main-graph"'):]
        assert '<canvas class="flot-base"' in plot, plot[:2000]
        legend = re.findall(r'class="legendLabel">([^<]+)<', plot)
        assert "entry-pre_slice-numpy; n_pre-1000" in legend, legend
        ticks = re.findall(r'class="flot-tick-label tickLabel"[^>]*>([^<]+)<', plot)
        assert len(ticks) >= 3 and all(float(t) >= 0 for t in ticks), ticks
    finally:
        server.shutdown()

