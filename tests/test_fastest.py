"""``synbench.fastest``: a winner that agrees with the reference, the checks, the cache.

Every test gets its own empty cache directory (``SYNBENCH_CACHE_DIR`` -> tmp_path) and
small tuning budgets. Cache hits are told by the module's counter of tuning runs
(``TIMINGS_RUN``), never by time, and no test asserts which strategy wins a race
(DESIGN section 6): the predicted winners are benchmarks (benchmarks/bench_kernels.py,
``KernelAllToAll``), and the tests check that whichever wins is correct.
"""

import dataclasses
import importlib
import json
import math
import time
import types
import warnings

import numba
import numpy as np
import pytest
import scipy.sparse

import synbench
from synbench.core import registry
from synbench.core.connect import All2All, Connectivity, FixedProb, IJConn
from synbench.core.errors import SynbenchError
from synbench.core.reference import reference_conductances

# The module itself (``synbench.fastest`` may be the function once it is exported).
fm = importlib.import_module("synbench.fastest")
fastest = fm.fastest

DECAY = math.exp(-0.1 / 5.0)


def _cache_files(directory):
    return sorted(directory.glob("fastest-*.json"))


def _assert_one_step_matches(result, conn, weight=1.0, dtype="float64"):
    entry = result.entry
    module = registry.BACKENDS[entry.backend].load()
    spikes = np.random.default_rng(7).random(conn.n_pre) < 0.2
    data = entry.prepare(conn, weight, dtype)
    state = entry.step(data, entry.init_state(data), module.asarray(spikes),
                       np.dtype(dtype).type(DECAY))
    g = module.to_numpy(entry.conductance(data, state))
    (expected,) = reference_conductances(conn, weight, [spikes], DECAY)
    np.testing.assert_allclose(g, expected, rtol=1e-12 if dtype == "float64" else 1e-5, atol=0)


def _assert_winner_is_a_checked_candidate(result, conn):
    """The winner was timed, no timed candidate disagreed, and the winner is right."""
    timed = {t.strategy for t in result.table}
    assert result.entry.name in timed, str(result)
    assert result.ranking()[0][0] == result.entry.name
    assert not timed & set(result.skipped)
    _assert_one_step_matches(result, conn)


@pytest.fixture(scope="module")
def sparse_conn():
    return FixedProb(1e-4, seed=0).build(100_000, 100_000)


# Cache tests need complete tunings, quickly: three NumPy candidates, ample budget.
QUICK = dict(backend="numpy", budget_s=2.0, strategies=("pre_slice", "pre_ids", "csr"))


def _small_conn(seed=0):
    return FixedProb(0.1, seed=seed).build(200, 150)


# --- the winner is a candidate that agrees with the reference ---


@pytest.mark.parametrize("backend, rate", [("numpy", 2000.0), ("numba", 200.0)],
                         ids=["numpy-2000Hz", "numba-200Hz"])
def test_all_to_all_at_a_high_rate_picks_a_checked_candidate(backend, rate):
    conn = All2All().build(500, 500)
    result = fastest(conn, backend=backend, rate_hz=rate, budget_s=8.0)
    assert result.entry.backend == backend
    _assert_winner_is_a_checked_candidate(result, conn)
    # all2all holds this connectivity and competes; one2one and procedural do not.
    assert "holds only" not in result.skipped.get("all2all", "")
    for name in ("one2one", "procedural"):
        assert "holds only" in result.skipped[name], result.skipped


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_sparse_skips_what_cannot_fit_and_picks_a_checked_candidate(backend, sparse_conn):
    # 10^5 x 10^5 at p = 1e-4 (10^6 synapses): the matrix strategies (10^10 elements)
    # cannot fit, and say how much they would need.
    result = fastest(sparse_conn, backend=backend, rate_hz=1.0, budget_s=8.0)
    for name in {e.name for e in registry.entries() if e.dense}:
        assert "needs about" in result.skipped[name]
        assert name not in {t.strategy for t in result.table}
    _assert_winner_is_a_checked_candidate(result, sparse_conn)


# --- what the result says ---


def test_result_table_string_and_usage():
    conn = _small_conn()
    result = fastest(conn, backend="numpy", rate_hz=None, budget_s=2.0)
    assert result.rates_hz == (1.0, 10.0, 50.0)
    assert "mean seconds per step over 1, 10, 50 Hz" in result.criterion
    timed = {t.strategy for t in result.table}
    numpy_strategies = {e.name for e in registry.entries(available_only=False)
                        if e.backend == "numpy"}
    assert timed | set(result.skipped) == numpy_strategies
    for name in timed:  # every timed strategy at every rate, in seconds per step
        rows = [t for t in result.table if t.strategy == name]
        assert sorted(t.rate_hz for t in rows) == [1.0, 10.0, 50.0]
        assert all(t.seconds_per_step > 0 for t in rows)
    ranking = result.ranking()
    assert ranking[0][0] == result.entry.name
    assert ranking[0][1] == pytest.approx(np.mean(list(result.seconds_per_step().values())))
    assert [s for _, s in ranking] == sorted(s for _, s in ranking)
    text = str(result)
    assert result.entry.name in text and "use it:" in text and result.usage() in text
    assert all(name in text for name in timed)
    namespace = {"synbench": synbench}
    exec(result.usage(), namespace)
    assert namespace["entry"] is result.entry
    _assert_one_step_matches(result, conn)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_inputs_as_index_arrays_and_sparse_matrix_with_weights(dtype):
    rng = np.random.default_rng(3)
    canonical = _small_conn(seed=5)
    order = rng.permutation(canonical.n_syn)  # the user's own synapse order
    pre, post = canonical.pre_ids[order], canonical.post_ids[order]
    w_user = rng.uniform(-1.0, 2.0, canonical.n_syn)  # mixed signs
    w_canonical = np.empty_like(w_user)
    w_canonical[order] = w_user

    result = fastest((pre, post), rate_hz=20.0, dtype=dtype, weight=w_user, n_pre=200,
                     n_post=150, **QUICK)
    assert result.signature["weight"] == "per-synapse"
    _assert_one_step_matches(result, canonical, w_canonical, dtype)

    matrix = scipy.sparse.csr_matrix((w_user, (pre, post)), shape=(200, 150))
    from_matrix = fastest(matrix, rate_hz=20.0, dtype=dtype, **QUICK)
    # Same structure and weight kind: the same cache entry.
    assert from_matrix.from_cache and from_matrix.signature == result.signature

    # n_pre / n_post inferred from the largest index.
    inferred, _ = fm.as_connectivity(([0, 2, 1], [4, 0, 0]))
    assert (inferred.n_pre, inferred.n_post) == (3, 5)


@pytest.mark.parametrize("fault", ["events", "decay"])
def test_a_strategy_that_disagrees_is_excluded_and_reported(monkeypatch, fault):
    good = registry.get("csr", "numpy")

    def conductance_off_by_a_little(data, state):  # wrong from the first step
        return good.conductance(data, state) * (1 + 1e-9)

    def step_without_decay(data, state, spikes, decay):  # right on the first step only
        return good.step(data, state, spikes, 1.0)

    if fault == "events":
        broken = dataclasses.replace(good, conductance=conductance_off_by_a_little)
    else:
        broken = dataclasses.replace(good, step=step_without_decay)
    monkeypatch.setitem(registry._ENTRIES, ("csr", "numpy"), broken)
    result = fastest(_small_conn(), backend="numpy", rate_hz=10.0, budget_s=2.0,
                     strategies=["csr", "pre_slice"])
    reason = result.skipped["csr"]
    assert "disagrees with the reference" in reason
    assert f"at step {1 if fault == 'events' else 2}" in reason
    assert {t.strategy for t in result.table} == {"pre_slice"}
    assert result.entry.name == "pre_slice"
    assert "skipped csr: disagrees" in str(result)


def test_budget_bounds_the_tuning_and_an_incomplete_tuning_is_not_cached(cache_dir):
    conn = _small_conn()
    before = fm.TIMINGS_RUN
    result = fastest(conn, backend="numpy", rate_hz=10.0, budget_s=1e-6)
    assert not result.complete and len({t.strategy for t in result.table}) == 1
    assert any("budget" in reason for reason in result.skipped.values())
    assert _cache_files(cache_dir) == []
    fastest(conn, backend="numpy", rate_hz=10.0, budget_s=1e-6)
    assert fm.TIMINGS_RUN == before + 2


def test_budget_bounds_the_whole_call_on_a_clock_we_control(monkeypatch):
    # Every reading of the clock advances it by 1 ms, so the tuning's own reasoning
    # about time is exact and repeatable: no wall-clock time is asserted.
    now = 0.0

    def perf_counter():
        nonlocal now
        now += 1e-3
        return now

    monkeypatch.setattr(fm, "time", types.SimpleNamespace(perf_counter=perf_counter,
                                                          strftime=time.strftime))
    budget_s = 0.5
    result = fastest(_small_conn(), backend="numpy", rate_hz=None, budget_s=budget_s,
                     cache=False)
    assert 0 < result.tuning_s <= budget_s * 1.05, result.tuning_s
    assert result.table


# --- the cache ---


def test_second_call_comes_from_the_cache_without_timing(cache_dir):
    conn = _small_conn()
    first = fastest(conn, rate_hz=10.0, **QUICK)
    assert not first.from_cache and len(_cache_files(cache_dir)) == 1
    count = fm.TIMINGS_RUN
    second = fastest(conn, rate_hz=10.0, **QUICK)
    assert fm.TIMINGS_RUN == count
    assert second.from_cache and "from the cache" in str(second)
    assert second.entry == first.entry and second.table == first.table
    # Another rate, dtype or weight kind is another question: it misses.
    fastest(conn, rate_hz=20.0, **QUICK)
    fastest(conn, rate_hz=10.0, dtype="float32", **QUICK)
    fastest(conn, rate_hz=10.0, weight=np.ones(conn.n_syn), **QUICK)
    assert fm.TIMINGS_RUN == count + 3
    assert len(_cache_files(cache_dir)) == 4


def test_a_changed_connectivity_misses_the_cache():
    # Same sizes and synapse count, one synapse moved: only the structure hash differs.
    pre, post = np.array([0, 0, 1, 2, 3]), np.array([1, 2, 0, 3, 3])
    a = IJConn(pre, post).build(4, 4)
    b = IJConn(pre, np.array([1, 2, 0, 3, 2])).build(4, 4)
    assert (a.n_pre, a.n_post, a.n_syn) == (b.n_pre, b.n_post, b.n_syn)
    fastest(a, rate_hz=10.0, **QUICK)
    count = fm.TIMINGS_RUN
    assert fastest(a, rate_hz=10.0, **QUICK).from_cache
    result = fastest(b, rate_hz=10.0, **QUICK)
    assert not result.from_cache and fm.TIMINGS_RUN == count + 1
    _assert_one_step_matches(result, b)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong_winner", "bad_row"])
def test_a_corrupted_cache_file_is_ignored_with_a_warning(cache_dir, damage):
    conn = _small_conn()
    fastest(conn, rate_hz=10.0, **QUICK)
    (path,) = _cache_files(cache_dir)
    text = path.read_text()
    record = json.loads(text)
    if damage == "garbage":
        path.write_bytes(b"\x00\xffnot json")
    elif damage == "truncated":
        path.write_text(text[: len(text) // 2])
    elif damage == "wrong_winner":  # valid JSON, but not what the table says
        slowest = max(record["table"], key=lambda row: row[2])[0]
        record["winner"] = slowest if slowest != record["winner"] else "nonsense"
        path.write_text(json.dumps(record))
    else:
        record["table"][0][2] = "fast"
        path.write_text(json.dumps(record))
    count = fm.TIMINGS_RUN
    with pytest.warns(fm.CacheWarning, match="corrupted"):
        result = fastest(conn, rate_hz=10.0, **QUICK)
    assert not result.from_cache and fm.TIMINGS_RUN == count + 1
    _assert_one_step_matches(result, conn)
    # The retuned result replaced the bad file.
    assert json.loads(path.read_text())["winner"] == result.entry.name


def test_a_cache_entry_from_another_version_or_machine_is_ignored(cache_dir, monkeypatch):
    conn = _small_conn()
    fastest(conn, rate_hz=10.0, **QUICK)
    (path,) = _cache_files(cache_dir)
    record = json.loads(path.read_text())
    record["synbench_version"] = "0.0.1-another"
    path.write_text(json.dumps(record))
    count = fm.TIMINGS_RUN
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # another version is not a corruption
        result = fastest(conn, rate_hz=10.0, **QUICK)
    assert not result.from_cache and fm.TIMINGS_RUN == count + 1
    assert json.loads(path.read_text())["synbench_version"] == synbench.__version__

    # Another machine: its entries are never read (nor overwritten) here.
    real = fm._machine()
    monkeypatch.setattr(fm, "_machine", lambda: {**real, "node": "another-host"})
    assert not fastest(conn, rate_hz=10.0, **QUICK).from_cache
    assert fm.TIMINGS_RUN == count + 2
    monkeypatch.setattr(fm, "_machine", lambda: real)
    assert fastest(conn, rate_hz=10.0, **QUICK).from_cache


def test_clear_cache_and_cache_off(cache_dir):
    conn = _small_conn()
    fastest(conn, rate_hz=10.0, **QUICK)
    assert fm.clear_cache() == 1 and _cache_files(cache_dir) == []
    assert fm.clear_fastest_cache is fm.clear_cache and fastest.clear_cache is fm.clear_cache
    assert not fastest(conn, rate_hz=10.0, **QUICK).from_cache
    count = fm.TIMINGS_RUN
    assert not fastest(conn, rate_hz=10.0, **QUICK, cache=False).from_cache
    assert fm.TIMINGS_RUN == count + 1


def test_cache_directory_follows_xdg_when_not_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv("SYNBENCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fm.cache_dir() == tmp_path / "xdg" / "synbench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fm.cache_dir() == tmp_path / "home" / ".cache" / "synbench"


# --- the kernel API, and the winner inside the user's own compiled loop ---


def test_kernel_api_version_and_every_entry_exposes_the_five_callables():
    assert isinstance(registry.KERNEL_API_VERSION, int) and registry.KERNEL_API_VERSION == 2
    assert synbench.KERNEL_API_VERSION == registry.KERNEL_API_VERSION
    for entry in registry.entries():
        for name in ("prepare", "init_state", "deliver", "conductance", "step"):
            assert callable(getattr(entry, name)), f"{entry.id} lacks {name}"


def test_numba_winner_inside_a_user_njit_loop(sparse_conn):
    result = fastest(sparse_conn, backend="numba", rate_hz=1.0, budget_s=4.0,
                     strategies=("pre_slice", "pre2post", "csr"))
    step, conductance = result.entry.step, result.entry.conductance

    @numba.njit
    def simulate(data, g, spike_train, decay):  # the user's own loop
        out = np.empty((spike_train.shape[0], data.n_post))
        for t in range(spike_train.shape[0]):
            g = step(data, g, spike_train[t], decay)
            out[t] = conductance(data, g)
        return out

    weight = np.random.default_rng(2).uniform(0.5, 1.5, sparse_conn.n_syn)
    spike_train = np.random.default_rng(4).random((6, sparse_conn.n_pre)) < 0.01
    data = result.entry.prepare(sparse_conn, weight, "float64")
    trace = simulate(data, result.entry.init_state(data), spike_train, DECAY)
    expected = reference_conductances(sparse_conn, weight, spike_train, DECAY)
    for t, g in enumerate(expected):
        np.testing.assert_allclose(trace[t], g, rtol=1e-12, atol=0, err_msg=f"step {t}")


def test_jax_winner_inside_a_user_jit_scan():
    jax = pytest.importorskip("jax")
    conn = _small_conn()
    result = fastest(conn, backend="jax", rate_hz=10.0, dtype="float32", budget_s=6.0,
                     strategies=("pre_slice", "csr", "pre_ids"))
    entry = result.entry
    data = entry.prepare(conn, 0.5, "float32")

    @jax.jit
    def simulate(spike_train):  # the user's own scan
        def body(g, spikes):
            g = entry.step(data, g, spikes, np.float32(DECAY))
            return g, entry.conductance(data, g)

        return jax.lax.scan(body, entry.init_state(data), spike_train)[1]

    spike_train = np.random.default_rng(4).random((5, conn.n_pre)) < 0.1
    trace = np.asarray(simulate(spike_train))
    expected = reference_conductances(conn, 0.5, spike_train, np.float32(DECAY))
    for t, g in enumerate(expected):
        np.testing.assert_allclose(trace[t], g, rtol=1e-5, atol=0, err_msg=f"step {t}")


# --- bad input ---


@pytest.mark.parametrize("kwargs, match", [
    (dict(rate_hz=-1.0), "rate_hz must be between 0"),
    (dict(rate_hz=[1.0, float("nan")]), "rate_hz must be between 0"),
    (dict(rate_hz=20_000.0), "rate_hz must be between 0"),
    (dict(rate_hz="fast"), "rate_hz must be a number"),
    (dict(backend="numbaa"), "did you mean 'numba'"),
    (dict(backend="fortran"), "unknown backend"),
    (dict(dtype="float16"), "dtype must be one of"),
    (dict(budget_s=0), "budget_s must be a positive"),
    (dict(weight=[1.0, 2.0]), "one value per synapse"),
    (dict(weight=np.nan), "NaN or inf"),
    (dict(strategies=["pre_slise"]), "did you mean 'pre_slice'"),
])
def test_bad_arguments_raise_synbench_error(kwargs, match):
    with pytest.raises(SynbenchError, match=match):
        fastest(_small_conn(), **{"backend": "numpy", "budget_s": 1.0, **kwargs})


@pytest.mark.parametrize("conn, kwargs, match", [
    (([0, 1, 2], [0, 1]), {}, "same length"),
    (([0, -1], [0, 1]), {}, "negative index"),
    (([0, 5], [0, 1]), dict(n_pre=3), "only 3 neurons"),
    (([0.5, 1], [0, 1]), {}, "integer neuron indices"),
    (([], []), {}, "cannot infer n_pre"),
    (([0, 0], [1, 1]), {}, "more than once"),
    ("conn.npz", {}, "cannot use a str as connectivity"),
    (np.ones((3, 3)), {}, "cannot use a ndarray"),
])
def test_bad_connectivity_raises_synbench_error(conn, kwargs, match):
    with pytest.raises(SynbenchError, match=match):
        fastest(conn, backend="numpy", budget_s=1.0, **kwargs)


def test_sparse_matrix_and_weight_together_is_refused():
    matrix = scipy.sparse.random(5, 4, density=0.5, random_state=0, format="csr")
    with pytest.raises(SynbenchError, match="weights as its values"):
        fastest(matrix, backend="numpy", weight=1.0, budget_s=1.0)
    with pytest.raises(SynbenchError, match="does not match"):
        fastest(matrix, backend="numpy", n_pre=6, budget_s=1.0)
    with pytest.raises(SynbenchError, match="does not match"):
        fastest(Connectivity(2, 2, [0], [1]), backend="numpy", n_post=3, budget_s=1.0)


# --- the package export and `synbench autotune` (pass once cli.py/__init__.py have them) ---


def test_package_exports_fastest():
    assert synbench.fastest is fm.fastest
    assert synbench.fastest.clear_cache is fm.clear_cache
    assert synbench.clear_fastest_cache is fm.clear_cache


def test_cli_autotune_prints_ranking_and_usage(tmp_path, capsys):
    from synbench.cli import main

    path = FixedProb(0.05, seed=0).build(300, 200).save(tmp_path / "conn.npz")
    argv = ["--backend", "numpy", "--rate", "10,50", "--budget", "2"]
    assert main(["autotune", "--conn", str(path), *argv]) == 0
    captured = capsys.readouterr()
    assert "rank" in captured.out and "10 Hz" in captured.out and "50 Hz" in captured.out
    assert "timing" in captured.err
    usage = captured.out.strip().splitlines()[-1]
    assert usage.startswith("use it: entry = synbench.registry.get(")
    namespace = {"synbench": synbench}
    exec(usage.removeprefix("use it: "), namespace)
    assert namespace["entry"].backend == "numpy"
    # --p builds FixedProb(p, seed=0): the same synapses as the file, so a cache hit.
    assert main(["autotune", "--n-pre", "300", "--n-post", "200", "--p", "0.05", *argv]) == 0
    assert "from the cache" in capsys.readouterr().out


@pytest.mark.parametrize("argv, match", [
    (["--n-pre", "100"], "one of the arguments --p --conn is required"),
    (["--p", "0.1"], "--p needs --n-pre"),
    (["--n-pre", "100", "--p", "1.5"], "probability"),
    (["--n-pre", "100", "--p", "0.1", "--rate", "-1"], "rate_hz must be between 0"),
    (["--n-pre", "100", "--p", "0.1", "--rate", "fast"], "comma-separated"),
    (["--n-pre", "100", "--p", "0.1", "--backend", "numbaa"], "did you mean 'numba'"),
    (["--conn", "{tmp}/missing.npz"], "cannot read connectivity"),
    (["--conn", "{tmp}/missing.npz", "--n-pre", "5"], "leave them out"),
])
def test_cli_autotune_bad_input_prints_one_line(argv, match, tmp_path, capsys):
    from synbench.cli import main

    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(["autotune", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("synbench: error:") and match in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
