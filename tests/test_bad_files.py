"""Issue 17: no crash, no silent wrong number, nothing lost.

Damaged or hostile connectivity files and cache entries, sizes that would need terabytes,
NaN in a connectivity matrix, and per-synapse weights given in another order than the
canonical one. Every bad input must end in one SynbenchError (or, for the cache, a
warning and a fresh tuning); every number is checked against a dense matrix built here
by hand, or the independent reference.
"""

import importlib
import json
import math
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from synbench.core import registry
from synbench.core.connect import Connectivity, FixedProb, GaussianProb, IJConn, MatConn
from synbench.core.connect import structures as structures_module
from synbench.core.errors import SynbenchError
from synbench.core.reference import reference_conductances

fm = importlib.import_module("synbench.fastest")

DECAY = math.exp(-0.1 / 5.0)


def _dense_conductance(n_pre, n_post, pre, post, weight, spikes):
    """g = W^T s with W filled pair by pair from the user's own lists: no sorting at all."""
    w = np.zeros((n_pre, n_post))
    w[pre, post] = weight
    return w.T @ spikes.astype(float)


def _one_step(entry, conn, weight, spikes):
    data = entry.prepare(conn, weight, "float64")
    state = entry.step(data, entry.init_state(data), spikes, DECAY)
    return np.asarray(entry.conductance(data, state))


# --- connectivity files ----------------------------------------------------------------


def _arrays(**changes):
    good = dict(format_version=np.array(1), pre_size=np.array([4]), post_size=np.array([3]),
                pre_ids=np.array([0, 1, 3], dtype=np.int32),
                post_ids=np.array([2, 0, 1], dtype=np.int32))
    good.update(changes)
    return {k: v for k, v in good.items() if v is not None}


def _member_start(raw: bytes, name: str) -> int:
    """Offset of the stored bytes of zip member ``name`` (after its local header)."""
    at = raw.rindex(b"PK\x03\x04", 0, raw.index(name.encode()))
    name_len, extra_len = struct.unpack("<HH", raw[at + 26:at + 30])
    return at + 30 + name_len + extra_len


def _corrupt_deflate(path):
    """A compressed save whose pre_ids stream no longer inflates (zlib.error before)."""
    Connectivity(4, 3, [0, 1, 3], [2, 0, 1]).save(path, compressed=True)
    raw = bytearray(path.read_bytes())
    start = _member_start(bytes(raw), "pre_ids.npy")
    raw[start:start + 4] = b"\xff\xff\xff\xff"  # an invalid deflate block type
    path.write_bytes(raw)


def _flip_stored_byte(path):
    Connectivity(4, 3, [0, 1, 3], [2, 0, 1]).save(path)
    raw = bytearray(path.read_bytes())
    raw[_member_start(bytes(raw), "post_ids.npy") + 130] ^= 0xFF  # inside the data
    path.write_bytes(raw)


def _lying_header(path):
    """pre_ids.npy whose header promises 10**12 ids: read naively, that is 8 TB."""
    header = {"descr": "<i8", "fortran_order": False, "shape": (10**12,)}
    with zipfile.ZipFile(path, "w") as z:
        for k, v in _arrays().items():
            if k == "pre_ids":
                with z.open("pre_ids.npy", "w") as f:
                    np.lib.format.write_array_header_1_0(f, header)
                    f.write(np.arange(3, dtype="<i8").tobytes())
            else:
                with z.open(k + ".npy", "w") as f:
                    np.lib.format.write_array(f, np.asarray(v))


def _savez(**changes):
    return lambda path: np.savez(path, **_arrays(**changes))


BAD_FILES = {
    "corrupt deflate": (_corrupt_deflate, "damaged .*zlib"),
    "bad crc": (_flip_stored_byte, "damaged .*CRC"),
    "random bytes": (lambda p: p.write_bytes(np.random.default_rng(0).bytes(600)),
                     "not an .npz archive"),
    "pickle": (lambda p: p.write_bytes(pickle.dumps({"pre_ids": [0]})), "not an .npz archive"),
    "object array": (_savez(pre_ids=np.array([0, None], dtype=object)),
                     "pre_ids.npy holds Python objects"),
    "truncated": (lambda p: p.write_bytes(Connectivity(4, 3, [0], [1]).save(
        p.with_name("whole.npz")).read_bytes()[:200]), "not an .npz archive"),
    "lying header": (_lying_header, "pre_ids.npy is damaged: its header promises"),
    "missing key": (_savez(post_ids=None), "missing post_ids"),
    "extra key": (_savez(weights=np.ones(3)), "unexpected entries weights.npy"),
    "float ids": (_savez(pre_ids=np.array([0.0, 1.0, 3.0])), "pre_ids.npy holds float64"),
    "string version": (_savez(format_version=np.array("1")), "format_version.npy holds <U1"),
    "float size": (_savez(pre_size=np.array([4.0])), "pre_size.npy holds float64"),
    "2-D size": (_savez(pre_size=np.array([[4]])), "must be 1-D integer arrays"),
    "future version": (_savez(format_version=np.array(2)), "format_version 2"),
    "version array": (_savez(format_version=np.array([1, 1])), "format_version \\[1, 1\\]"),
    "negative size": (_savez(post_size=np.array([-3])), "post_size must be a positive"),
    "zero size": (_savez(pre_size=np.array([0])), "pre_size must be a positive"),
    "size beyond int64": (_savez(pre_size=np.array([2**32, 2**32], dtype=np.uint64)),
                          "at most 2\\*\\*62"),
    "negative id": (_savez(pre_ids=np.array([0, -1, 3])), "pre_ids must lie in \\[0, 4\\)"),
    "id out of range": (_savez(post_ids=np.array([2, 0, 3])), "post_ids must lie in \\[0, 3\\)"),
    "2-D ids": (_savez(pre_ids=np.array([[0, 1, 3]])), "pre_ids must be a 1-D array"),
    "lengths differ": (_savez(post_ids=np.array([2, 0])), "same length"),
    "unsorted": (_savez(pre_ids=np.array([1, 0, 3])), "not in canonical order"),
    # A pair repeated side by side is a saved multapse (test_multapses.py); apart, the
    # synapses are out of order.
    "repeated pair apart": (_savez(pre_ids=np.array([0, 0, 0]), post_ids=np.array([2, 1, 2])),
                            "not in canonical order"),
}


@pytest.mark.parametrize(("write", "match"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_connectivity_file_is_one_clear_error(tmp_path, write, match):
    path = tmp_path / "conn.npz"
    write(path)
    with pytest.raises(SynbenchError, match=match) as caught:
        Connectivity.load(path)
    message = str(caught.value)
    assert type(caught.value) is SynbenchError
    assert message.startswith(f"cannot read connectivity from {path}: ")
    assert "allow_pickle" not in message  # never numpy's advice to unpickle


def test_the_good_file_of_the_table_loads(tmp_path):
    """The bad files above differ from this one in one thing each."""
    np.savez(tmp_path / "good.npz", **_arrays())
    conn = Connectivity.load(tmp_path / "good.npz")
    assert conn.pre_ids.tolist() == [0, 1, 3] and conn.post_ids.tolist() == [2, 0, 1]
    assert (conn.n_pre, conn.n_post, conn.order) == (4, 3, None)


def test_a_file_larger_than_free_memory_is_refused_before_reading(tmp_path, monkeypatch):
    path = FixedProb(0.5, seed=0).build(40, 30).save(tmp_path / "conn.npz")
    monkeypatch.setattr(structures_module, "available_memory", lambda: 1000)
    with pytest.raises(SynbenchError, match=f"{path}: reading its arrays needs .* only 1.0 kB"):
        Connectivity.load(path)


# --- sizes that would need terabytes ---------------------------------------------------

HUGE = 10**12


def _huge_file(tmp_path):
    path = tmp_path / "huge.npz"
    np.savez(path, **_arrays(pre_size=np.array([HUGE]), post_size=np.array([HUGE])))
    return path


def test_huge_groups_from_a_file_are_refused_before_allocating(tmp_path):
    conn = Connectivity.load(_huge_file(tmp_path))  # three synapses: cheap to hold
    assert (conn.n_pre, conn.n_syn) == (HUGE, 3)
    for use in (lambda: reference_conductances(conn, 1.0, [np.zeros(0)], DECAY),
                lambda: conn.require("pre_slice"),
                lambda: fm.fastest(conn, backend="numpy", rate_hz=10.0, budget_s=1.0)):
        with pytest.raises(SynbenchError, match=r"needs .* TB .* available"):
            use()


def test_huge_groups_from_index_arrays_are_refused_before_allocating():
    with pytest.raises(SynbenchError, match=r"reference for 1000000000001 -> 2 neurons needs"):
        fm.fastest(([HUGE, 0], [1, 0]), backend="numpy", rate_hz=10.0, budget_s=1.0)


def test_few_unsorted_synapses_between_huge_groups_sort_without_a_per_neuron_array():
    conn = Connectivity(HUGE, HUGE, [HUGE - 1, 5, 5], [0, HUGE - 1, 7])
    assert conn.pre_ids.tolist() == [5, 5, HUGE - 1]
    assert conn.post_ids.tolist() == [7, HUGE - 1, 0]
    assert conn.order.tolist() == [2, 1, 0]
    with pytest.raises(SynbenchError, match="synapse 5 -> 7 appears more than once"):
        Connectivity(HUGE, HUGE, [5, HUGE - 1, 5], [7, 0, 7])


def test_group_sizes_beyond_int64_indices_are_refused():
    with pytest.raises(SynbenchError, match="at most 2\\*\\*62"):
        Connectivity((2**40, 2**40), 3, [0], [0])
    with pytest.raises(SynbenchError, match="at most 2\\*\\*62"):
        fm.fastest(([2**63 - 1], [0]), backend="numpy")


def test_available_memory_respects_the_address_space_limit():
    """ulimit -v (RLIMIT_AS): what is left under it caps available_memory, so a structure
    beyond it is refused rather than a MemoryError. In a child process: the limit stays
    there."""
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs /proc/self/statm (Linux)")
    child = textwrap.dedent("""
        import os, resource
        from synbench.core.connect import Connectivity, available_memory
        from synbench.core.connect.structures import _address_space_available
        from synbench.core.errors import SynbenchError

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:
            assert _address_space_available() is None
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        room = 256 * 2**20
        if hard != resource.RLIM_INFINITY and hard < mapped + room:
            raise SystemExit(print("skip: the hard limit leaves no room"))
        resource.setrlimit(resource.RLIMIT_AS, (mapped + room, hard))
        left = _address_space_available()
        assert room // 2 < left <= room, (left, room)
        assert available_memory() <= left
        conn = Connectivity(20_000, 20_000, [0], [0])  # conn_mat: 400 MB
        try:
            conn.require("conn_mat")
        except SynbenchError as e:
            print("refused:", e)
    """)
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    if done.stdout.startswith("skip:"):
        pytest.skip(done.stdout)
    assert done.stdout.startswith("refused: conn_mat for 20000 x 20000 neurons needs 400.0 MB")


# --- NaN in a connectivity matrix ------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_matconn_refuses_nan_and_inf(bad):
    mat = np.zeros((3, 4))
    mat[0, 1], mat[2, 3] = 0.5, bad
    with pytest.raises(SynbenchError, match=f"holds {bad} at \\(2, 3\\)"):
        MatConn(mat)
    mat[2, 3] = 1.0
    assert MatConn(mat).build(3, 4).n_syn == 2


# --- the fastest cache -----------------------------------------------------------------

# A generous budget: a cold process imports every backend inside it, and an incomplete
# tuning is not cached. Two NumPy candidates at one rate take well under a second.
QUICK = dict(backend="numpy", rate_hz=10.0, budget_s=30.0, strategies=("csr", "pre_ids"))


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """One complete tuning's cache file (name, record): each test damages a copy."""
    directory = tmp_path_factory.mktemp("tuned")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNBENCH_CACHE_DIR", str(directory))
        fm.fastest(_cache_conn(), **QUICK)
    (path,) = directory.glob("fastest-*.json")
    return path.name, json.loads(path.read_text())


def _cache_conn():
    return FixedProb(0.1, seed=0).build(200, 150)


def _set(*where, value):
    def damage(record):
        target = record
        for k in where[:-1]:
            target = target[k]
        target[where[-1]] = value
    return damage


def _stray_row(record):
    record["table"].append(list(record["table"][0]))


def _unknown_fastest_strategy(record):
    record["table"] = [["warp_drive", 10.0, 1e-9], *record["table"]]
    record["winner"] = "warp_drive"


BAD_ENTRIES = {
    "seconds beyond float": (_set("table", 0, 2, value=10**400), "bad table row"),
    "seconds NaN": (_set("table", 0, 2, value=math.nan), "bad table row"),
    "seconds inf": (_set("table", 0, 2, value=math.inf), "bad table row"),
    "seconds negative": (_set("table", 0, 2, value=-1.0), "bad table row"),
    "rate a string": (_set("table", 0, 1, value="10"), "bad table row"),
    "rate not asked": (_set("table", 0, 1, value=20.0), "stray or repeated row"),
    "repeated row": (_stray_row, "stray or repeated row"),
    "rates unhashable": (_set("key", "rates_hz", value=[[10.0]]), "another question"),
    "unknown backend": (_set("key", "backend", value="numbaa"), "another question"),
    "another machine": (_set("machine", "node", value="elsewhere"), "another machine"),
    "unknown strategy": (_unknown_fastest_strategy, "'warp_drive', not a numpy strategy"),
    "unknown skipped": (_set("skipped", "warp_drive", value="slow"), "not a strategy"),
    "winner not fastest": (_set("winner", value="nonsense"), "not the fastest row"),
    "budget a string": (_set("budget_s", value="soon"), "bad budget_s"),
    "format true": (_set("format", value=True), "unknown format"),
    "table a dict": (_set("table", value={"csr": 1}), "'table' missing or not a list"),
}


@pytest.mark.parametrize(("damage", "match"), BAD_ENTRIES.values(), ids=BAD_ENTRIES.keys())
def test_a_cache_entry_with_bad_values_is_ignored_and_replaced(cache_dir, tuned, damage, match):
    name, good = tuned
    record = json.loads(json.dumps(good))
    damage(record)
    cache_dir.mkdir()
    path = cache_dir / name
    path.write_text(json.dumps(record))
    conn = _cache_conn()
    count = fm.TIMINGS_RUN
    with pytest.warns(fm.CacheWarning, match=f"corrupted .*{match}"):
        result = fm.fastest(conn, **QUICK)
    assert not result.from_cache and fm.TIMINGS_RUN == count + 1
    replaced = json.loads(path.read_text())
    assert replaced["winner"] == result.entry.name and replaced["table"] == [
        list(t) for t in result.table]
    again = fm.fastest(conn, **QUICK)  # the next call for the key reads the new entry
    assert again.from_cache and fm.TIMINGS_RUN == count + 1


def test_the_undamaged_cache_entry_is_used(cache_dir, tuned):
    """The entries above differ from this one in one value each."""
    name, good = tuned
    cache_dir.mkdir()
    (cache_dir / name).write_text(json.dumps(good))
    count = fm.TIMINGS_RUN
    assert fm.fastest(_cache_conn(), **QUICK).from_cache and fm.TIMINGS_RUN == count


# --- per-synapse weights and the order of the ids --------------------------------------


def _shuffled_synapses(seed=3):
    """A connectivity's synapses in a random order of the user's, with mixed-sign weights."""
    canonical = FixedProb(0.1, seed=seed).build(60, 40)
    rng = np.random.default_rng(seed)
    order = rng.permutation(canonical.n_syn)
    pre, post = canonical.pre_ids[order].copy(), canonical.post_ids[order].copy()
    return pre, post, rng.uniform(-1.0, 2.0, canonical.n_syn), rng.random(60) < 0.4


def test_hand_worked_weights_given_with_unsorted_ids():
    # Synapses as given: 2 -> 1 (w 0.25), 0 -> 1 (w 0.5), 0 -> 0 (w 4.0).
    conn, w = Connectivity(3, 2, [2, 0, 0], [1, 1, 0]).canonical([0.25, 0.5, 4.0])
    assert conn.order is None and w.tolist() == [4.0, 0.5, 0.25]
    # Every pre spikes: post 0 gets 4.0; post 1 gets 0.5 + 0.25.
    (g,) = reference_conductances(conn, w, [np.ones(3, dtype=bool)], DECAY)
    assert g.tolist() == [4.0, 0.75]
    entry = registry.get("pre_slice", "numpy")
    assert _one_step(entry, conn, w, np.ones(3, dtype=bool)).tolist() == [4.0, 0.75]


@pytest.mark.parametrize("n_pre", [60, 10**6], ids=["counting-sort", "comparison-sort"])
def test_order_maps_the_ids_given_to_canonical_order(n_pre):
    pre, post, weight, _ = _shuffled_synapses()
    conn = Connectivity(n_pre, 40, pre, post)
    assert np.array_equal(pre[conn.order], conn.pre_ids)
    assert np.array_equal(post[conn.order], conn.post_ids)
    keys = conn.pre_ids.astype(np.int64) * 40 + conn.post_ids
    assert (np.diff(keys) > 0).all()
    sorted_conn, w = conn.canonical(weight)
    assert np.array_equal(w, weight[conn.order]) and sorted_conn == conn


def test_per_synapse_weights_for_unsorted_ids_are_refused_not_misplaced():
    pre, post, weight, spikes = _shuffled_synapses()
    conn = Connectivity(60, 40, pre, post)
    with pytest.raises(SynbenchError, match="conn, w = conn.canonical\\(w\\)"):
        conn.check_weight_order(weight)
    assert conn.check_weight_order(0.5) == 0.5  # one weight for all: no order to mistake
    with pytest.raises(SynbenchError, match="another order"):
        fm.fastest(conn, weight=weight, **QUICK)
    # The fix the message names gives the numbers of the user's own pairs.
    sorted_conn, w = conn.canonical(weight)
    entry = registry.get("csr", "numpy")
    expected = _dense_conductance(60, 40, pre, post, weight, spikes)
    np.testing.assert_allclose(_one_step(entry, sorted_conn, w, spikes), expected, rtol=1e-12)


def test_prepare_refuses_per_synapse_weights_for_unsorted_ids():
    pre, post, weight, _ = _shuffled_synapses()
    with pytest.raises(SynbenchError, match="another order"):
        registry.get("csr", "numpy").prepare(Connectivity(60, 40, pre, post), weight, "float64")


def test_connectors_keep_no_order_but_ijconn_keeps_the_callers():
    pre, post, weight, _ = _shuffled_synapses()
    assert IJConn(pre, post).build(60, 40).order is not None
    gauss = GaussianProb(1.0, p_min=0.1, seed=0).build((6, 6))  # built out of order inside
    assert gauss.order is None
    assert gauss.check_weight_order(np.ones(gauss.n_syn)).shape == (gauss.n_syn,)


def test_fastest_on_unsorted_ids_exposes_what_it_timed():
    pre, post, weight, spikes = _shuffled_synapses()
    result = fm.fastest((pre, post), weight=weight, n_pre=60, n_post=40, **QUICK)
    conn = result.connectivity
    assert conn.order is None  # ready for prepare, weights already in its order
    assert np.array_equal(pre[result.order], conn.pre_ids)
    assert np.array_equal(weight[result.order], result.weight)
    expected = _dense_conductance(60, 40, pre, post, weight, spikes)
    np.testing.assert_allclose(_one_step(result.entry, conn, result.weight, spikes), expected,
                               rtol=1e-12)
    assert "a[best.order]" in str(result)

    canonical = fm.fastest(conn, weight=result.weight, **QUICK)  # the same question
    assert canonical.from_cache and canonical.order is None
    assert canonical.connectivity is conn and canonical.weight is not None
