"""Connectors and Connectivity: every structure against an independent construction,
connector statistics, save/load, and one clear error for each kind of bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from synbench.core.connect import (
    STRUCTURES,
    All2All,
    Connectivity,
    FixedPostNum,
    FixedPreNum,
    FixedProb,
    GaussianProb,
    GridEight,
    GridFour,
    GridN,
    IJConn,
    MatConn,
    One2One,
    available_memory,
    index_dtype,
)
from synbench.core.connect import structures as structures_module
from synbench.core.connect.base import bernoulli_chunks
from synbench.core.errors import SynbenchError

ARRAY_STRUCTURES = ("conn_mat", "pre_ids", "post_ids", "pre_slice", "post_slice",
                    "post_order", "csr", "csc", "ell")
LIST_STRUCTURES = ("pre2syn", "post2syn", "pre2post", "post2pre")


# --- every structure against the canonical COO ---------------------------------------


def assert_structures_agree(conn, pairs):
    """Check every structure of ``conn`` against the set ``pairs`` with plain Python."""
    n_pre, n_post = conn.n_pre, conn.n_post
    pairs = sorted(pairs)
    pre = [p for p, _ in pairs]
    post = [q for _, q in pairs]
    n_syn = len(pairs)
    assert conn.n_syn == n_syn
    assert conn.pre_ids.tolist() == pre
    assert conn.post_ids.tolist() == post

    values = dict(zip(STRUCTURES, conn.require(*STRUCTURES), strict=True))
    dtype = conn.index_dtype
    for name in ARRAY_STRUCTURES:
        arrays = values[name] if isinstance(values[name], tuple) else (values[name],)
        assert sum(a.nbytes for a in arrays) == conn.structure_nbytes(name), name
        assert all(a.dtype == (bool if name == "conn_mat" else dtype) for a in arrays), name
    for name in LIST_STRUCTURES:
        assert all(a.dtype == dtype for a in values[name]), name
        assert conn.structure_nbytes(name) >= sum(a.nbytes for a in values[name])

    pre_slice, pre2post, pre2syn = values["pre_slice"], values["pre2post"], values["pre2syn"]
    indptr, indices = values["csr"]
    ell = values["ell"]
    width = max([pre.count(i) for i in range(n_pre)])
    assert pre_slice.shape == (n_pre, 2) and indptr.shape == (n_pre + 1,)
    assert ell.shape == (n_pre, width)
    assert len(pre2post) == len(pre2syn) == n_pre
    for i in range(n_pre):
        ks = [k for k in range(n_syn) if pre[k] == i]
        posts = [post[k] for k in ks]
        start, end = pre_slice[i].tolist()
        assert list(range(start, end)) == ks
        assert pre2post[i].tolist() == posts
        assert pre2syn[i].tolist() == ks
        assert indices[indptr[i]:indptr[i + 1]].tolist() == posts
        assert ell[i].tolist() == posts + [n_post] * (width - len(posts))

    by_post = sorted(range(n_syn), key=lambda k: (post[k], pre[k]))
    post_slice, post2pre, post2syn = values["post_slice"], values["post2pre"], values["post2syn"]
    cindptr, cindices = values["csc"]
    assert values["post_order"].tolist() == by_post
    assert post_slice.shape == (n_post, 2) and cindptr.shape == (n_post + 1,)
    assert len(post2pre) == len(post2syn) == n_post
    for j in range(n_post):
        ks = [k for k in by_post if post[k] == j]
        pres = [pre[k] for k in ks]
        start, end = post_slice[j].tolist()
        assert by_post[start:end] == ks
        assert post2syn[j].tolist() == ks
        assert post2pre[j].tolist() == pres
        assert cindices[cindptr[j]:cindptr[j + 1]].tolist() == pres

    mat = values["conn_mat"]
    assert mat.shape == (n_pre, n_post) and mat.sum() == n_syn
    assert mat[conn.pre_ids, conn.post_ids].all()

    # And against scipy's own compressed forms.
    coo = sparse.coo_array((np.ones(n_syn), (pre, post)), shape=(n_pre, n_post))
    assert np.array_equal(coo.tocsr().indptr, indptr)
    assert np.array_equal(coo.tocsc().indptr, cindptr)


sizes = st.integers(1, 40)
SETTINGS = settings(max_examples=50, deadline=None)


@SETTINGS
@given(n_pre=sizes, n_post=sizes,
       prob=st.sampled_from([0.0, 1.0]) | st.floats(0.0, 1.0),
       include_self=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_fixedprob_structures_agree(n_pre, n_post, prob, include_self, seed):
    conn = FixedProb(prob, include_self=include_self, seed=seed).build(n_pre, n_post)
    pairs = list(zip(conn.pre_ids.tolist(), conn.post_ids.tolist(), strict=True))
    assert len(set(pairs)) == len(pairs)
    if not include_self and n_pre == n_post:
        assert all(i != j for i, j in pairs)
    assert_structures_agree(conn, pairs)


@SETTINGS
@given(data=st.data(), n_pre=sizes, n_post=sizes)
def test_ijconn_structures_agree(data, n_pre, n_post):
    pair = st.tuples(st.integers(0, n_pre - 1), st.integers(0, n_post - 1))
    pairs = data.draw(st.lists(pair, unique=True, max_size=80))
    shuffled = data.draw(st.permutations(pairs))
    i = [p for p, _ in shuffled]
    j = [q for _, q in shuffled]
    conn = IJConn(i, j).build(n_pre, n_post)
    assert_structures_agree(conn, pairs)


def test_structures_of_an_empty_connectivity():
    conn = IJConn([], []).build(3, 5)
    assert conn.n_syn == 0
    assert conn.require("ell").shape == (3, 0)
    assert conn.require("pre_slice").tolist() == [[0, 0]] * 3
    assert [len(a) for a in conn.require("post2pre")] == [0] * 5
    assert_structures_agree(conn, [])


def test_require_returns_one_value_or_a_tuple_and_caches():
    conn = FixedProb(0.3, seed=0).build(20, 10)
    pre_slice = conn.require("pre_slice")
    assert isinstance(pre_slice, np.ndarray)
    both = conn.require("pre_slice", "post_ids")
    assert isinstance(both, tuple) and both[0] is pre_slice
    assert conn.pre_slice is pre_slice
    assert "pre_slice" in conn.cached and "csc" not in conn.cached


def test_structure_nbytes_builds_nothing():
    conn = FixedProb(0.3, seed=0).build(20, 10)
    for name in ("post_order", "csc", "conn_mat", "pre2syn"):
        conn.structure_nbytes(name)
    assert conn.cached == ("pre_ids", "post_ids")


def test_structures_are_read_only():
    conn = FixedProb(0.3, seed=0).build(20, 10)
    for name in ("post_ids", "pre_slice", "post_order", "ell"):
        with pytest.raises(ValueError, match="read-only"):
            conn.require(name)[0] = 1
    with pytest.raises(ValueError, match="read-only"):
        conn.require("pre2post")[0][:] = 0


def test_constructor_sorts_and_does_not_touch_the_callers_arrays():
    pre = np.array([2, 0, 1, 0], dtype=np.int64)
    post = np.array([0, 3, 1, 1], dtype=np.int64)
    conn = Connectivity(3, 4, pre, post)
    assert conn.pre_ids.tolist() == [0, 0, 1, 2] and conn.post_ids.tolist() == [1, 3, 1, 0]
    assert pre.flags.writeable and pre.tolist() == [2, 0, 1, 0]
    sorted_pre = np.array([0, 1], dtype=np.int32)
    conn = Connectivity(2, 2, sorted_pre, np.array([1, 0], dtype=np.int32))
    sorted_pre[0] = 1  # copy=True (the default): the connectivity keeps its own copy
    assert conn.pre_ids.tolist() == [0, 1] and sorted_pre.flags.writeable


def test_geometry_and_index_dtype():
    conn = GridFour().build((3, 4))
    assert conn.pre_size == conn.post_size == (3, 4) and conn.n_pre == 12
    assert FixedProb(0.5, seed=0).build(7, (2, 3)).post_size == (2, 3)
    assert index_dtype(10, 10, 100) == np.int32
    assert index_dtype(2**31 - 1, 5, 5) == np.int32
    assert index_dtype(2**31, 5, 5) == np.int64
    assert index_dtype(5, 5, 2**31) == np.int64
    big = Connectivity(2**31, 3, [2**31 - 1], [1])
    assert big.post_ids.dtype == np.int64 and big.require("post_slice").dtype == np.int64
    assert big.structure_nbytes("pre_slice") == 2**31 * 2 * 8


def test_conn_mat_refuses_when_it_would_not_fit(monkeypatch):
    huge = IJConn([0], [0]).build(10**6, 10**6)  # a 1 TB dense matrix
    assert huge.structure_nbytes("conn_mat") == 10**12
    need = r"conn_mat .* needs .*\(1000000000000 bytes\).*pre_slice"
    with pytest.raises(SynbenchError, match=need):
        huge.require("conn_mat")
    conn = FixedProb(0.5, seed=0).build(20, 20)
    monkeypatch.setattr(structures_module, "available_memory", lambda: 100)
    with pytest.raises(SynbenchError, match="400 bytes"):
        conn.require("conn_mat")


def test_available_memory_is_positive():
    assert isinstance(available_memory(), int) and available_memory() > 0


# --- connectors ---------------------------------------------------------------------


def within(observed, mean, sd, k=4.0):
    return abs(observed - mean) <= k * sd


def test_fixedprob_count_is_binomial():
    n_pre, n_post, p = 300, 200, 0.1
    conn = FixedProb(p, seed=0).build(n_pre, n_post)
    m = n_pre * n_post
    assert within(conn.n_syn, p * m, math.sqrt(m * p * (1 - p)))
    # Each half of the flattened pair space holds its share (no chunking artefact).
    flat = conn.pre_ids.astype(np.int64) * n_post + conn.post_ids
    first = int((flat < m // 2).sum())
    assert within(first, p * m / 2, math.sqrt(m / 2 * p * (1 - p)))


def test_fixedprob_include_self_and_extremes():
    n, p = 200, 0.2
    conn = FixedProb(p, include_self=False, seed=1).build(n)
    assert not (conn.pre_ids == conn.post_ids).any()
    m = n * n - n
    assert within(conn.n_syn, p * m, math.sqrt(m * p * (1 - p)))
    assert FixedProb(0.0, seed=0).build(10, 7).n_syn == 0
    assert FixedProb(1.0).build(10, 7).n_syn == 70
    assert FixedProb(1.0, include_self=False).build(10).n_syn == 90
    assert FixedProb(1.0, include_self=False).build(10, 7).n_syn == 70  # different groups


def test_bernoulli_chunks_do_not_depend_on_chunk_size():
    def positions(chunk):
        rng = np.random.default_rng(5)
        return np.concatenate(list(bernoulli_chunks(rng, 100_003, 0.01, chunk=chunk)))

    reference = positions(1 << 20)
    assert np.array_equal(positions(7), reference)
    assert (np.diff(reference) > 0).all() and reference[-1] < 100_003


def test_fixedprob_tiny_probability_does_not_overflow():
    conn = FixedProb(1e-300, seed=0).build(1000, 1000)
    assert conn.n_syn == 0


@pytest.mark.parametrize("cls", [FixedPreNum, FixedPostNum])
def test_fixed_num_exact_degree(cls):
    n_pre, n_post = 50, 300
    for num in (5, 40):  # few (redraw repeats) and many (random keys) picks per row
        conn = cls(num, seed=2).build(n_pre, n_post) if cls is FixedPreNum else \
            cls(num, seed=2).build(n_post, n_pre)
        side = conn.post_ids if cls is FixedPreNum else conn.pre_ids
        n_rows = conn.n_post if cls is FixedPreNum else conn.n_pre
        assert np.array_equal(np.bincount(side, minlength=n_rows), np.full(n_rows, num))


@pytest.mark.parametrize("cls", [FixedPreNum, FixedPostNum])
@pytest.mark.parametrize(("num", "n_src"), [(2, 4), (2, 3)])  # redraw regime, key regime
def test_fixed_num_subsets_are_uniform(cls, num, n_src):
    n_rows = 3000 * math.comb(n_src, num) // 3
    if cls is FixedPreNum:
        conn = cls(num, seed=3).build(n_src, n_rows)
        rows = conn.require("post2pre")
    else:
        conn = cls(num, seed=3).build(n_rows, n_src)
        rows = conn.require("pre2post")
    subsets = {}
    for r in rows:
        subsets[tuple(r.tolist())] = subsets.get(tuple(r.tolist()), 0) + 1
    k = math.comb(n_src, num)
    assert len(subsets) == k
    mean = n_rows / k
    assert all(within(c, mean, math.sqrt(mean * (1 - 1 / k))) for c in subsets.values())


@pytest.mark.parametrize("cls", [FixedPreNum, FixedPostNum])
def test_fixed_num_include_self(cls):
    conn = cls(3, include_self=False, seed=0).build(10)
    assert not (conn.pre_ids == conn.post_ids).any() and conn.n_syn == 30
    full = cls(9, include_self=False, seed=0).build(10)
    assert full == All2All(include_self=False).build(10)
    assert cls(0, seed=0).build(4, 6).n_syn == 0


RANDOM_CONNECTORS = {
    "fixedprob": lambda s: FixedProb(0.1, seed=s).build(60, 50),
    "fixedprenum": lambda s: FixedPreNum(5, seed=s).build(60, 50),
    "fixedpostnum": lambda s: FixedPostNum(5, seed=s).build(60, 50),
    "gaussian": lambda s: GaussianProb(2.0, p_min=0.01, seed=s).build((8, 8)),
}


@pytest.mark.parametrize("build", RANDOM_CONNECTORS.values(), ids=RANDOM_CONNECTORS.keys())
def test_seeds_reproduce(build):
    assert build(7) == build(7)
    assert build(7) != build(8)
    assert build(None) != build(None)


def test_all2all_and_one2one():
    conn = All2All().build(4, 3)
    assert conn.n_syn == 12 and conn.require("conn_mat").all()
    with_self = All2All().build(5)
    assert with_self.require("conn_mat").diagonal().all()
    without = All2All(include_self=False).build(5)
    assert without.n_syn == 20 and not without.require("conn_mat").diagonal().any()
    one = One2One().build(6)
    assert one.pre_ids.tolist() == one.post_ids.tolist() == list(range(6))
    assert np.array_equal(one.require("conn_mat"), np.eye(6, dtype=bool))


def _degrees(conn):
    return np.diff(conn.require("pre_slice"), axis=1)[:, 0].reshape(conn.pre_size)


def test_grid_neighbour_counts():
    assert _degrees(GridFour().build((4, 5))).tolist() == [
        [2, 3, 3, 3, 2],
        [3, 4, 4, 4, 3],
        [3, 4, 4, 4, 3],
        [2, 3, 3, 3, 2],
    ]
    assert _degrees(GridEight().build((4, 5))).tolist() == [
        [3, 5, 5, 5, 3],
        [5, 8, 8, 8, 5],
        [5, 8, 8, 8, 5],
        [3, 5, 5, 5, 3],
    ]
    assert _degrees(GridN(2).build((5, 6))).tolist() == [
        [8, 11, 14, 14, 11, 8],
        [11, 15, 19, 19, 15, 11],
        [14, 19, 24, 24, 19, 14],
        [11, 15, 19, 19, 15, 11],
        [8, 11, 14, 14, 11, 8],
    ]
    assert (_degrees(GridEight(include_self=True).build((4, 5))) == [
        [4, 6, 6, 6, 4], [6, 9, 9, 9, 6], [6, 9, 9, 9, 6], [4, 6, 6, 6, 4]]).all()


def test_grid_neighbours_by_name_and_periodic():
    assert GridFour().build((3, 3)).require("pre2post")[0].tolist() == [1, 3]
    assert GridFour().build((3, 3)).require("pre2post")[4].tolist() == [1, 3, 5, 7]
    torus = GridFour(periodic_boundary=True).build((3, 3))
    assert torus.require("pre2post")[0].tolist() == [1, 2, 3, 6]
    for connector, k in ((GridFour, 4), (GridEight, 8)):
        assert (_degrees(connector(periodic_boundary=True).build((5, 5))) == k).all()
    assert (_degrees(GridN(2, periodic_boundary=True).build((5, 6))) == 24).all()
    # On a 2 x 2 torus up and down (and left and right) reach the same neighbour.
    assert (_degrees(GridFour(periodic_boundary=True).build((2, 2))) == 2).all()
    assert _degrees(GridFour().build(5)).tolist() == [1, 2, 2, 2, 1]  # int n: a chain
    assert (_degrees(GridFour(periodic_boundary=True).build(5)) == 2).all()  # a ring
    conn = GridN(1, include_self=True).build((4, 4))
    assert conn == GridEight(include_self=True).build((4, 4))
    mat = conn.require("conn_mat")
    assert np.array_equal(mat, mat.T)


def _gaussian_oracle(shape, sigma, p_min, periodic):
    """Connection probability of every (pre, post) pair, computed densely."""
    h, w = shape
    r, c = np.divmod(np.arange(h * w), w)
    dr = np.abs(r[:, None] - r[None, :])
    dc = np.abs(c[:, None] - c[None, :])
    if periodic:
        dr, dc = np.minimum(dr, h - dr), np.minimum(dc, w - dc)
    prob = np.exp(-(dr**2 + dc**2) / (2 * sigma**2))
    return np.where(prob >= p_min, prob, 0.0), dr**2 + dc**2


@pytest.mark.parametrize("periodic", [False, True])
def test_gaussianprob_matches_its_probabilities(periodic):
    shape, sigma, p_min = (20, 20), 2.0, 0.01
    prob, d2 = _gaussian_oracle(shape, sigma, p_min, periodic)
    mat = GaussianProb(sigma, p_min=p_min, periodic_boundary=periodic, seed=0) \
        .build(shape).require("conn_mat")
    assert not mat[prob == 0].any()
    assert mat.diagonal().all()
    for d in np.unique(d2[prob > 0]):
        cls = (d2 == d) & (d2 > 0)
        if cls.sum() >= 200:
            p = prob[cls]
            assert within(mat[cls].sum(), p.sum(), math.sqrt((p * (1 - p)).sum()), k=5)


@pytest.mark.parametrize("periodic", [False, True])
def test_gaussianprob_limits(periodic):
    shape = (6, 7)
    narrow = GaussianProb(1.0, p_min=0.99, periodic_boundary=periodic, seed=0).build(shape)
    assert narrow == One2One().build(shape)
    assert GaussianProb(1.0, p_min=1.0, seed=0).build(shape) == narrow  # p = p_min is kept
    assert GaussianProb(1.0, p_min=0.99, include_self=False, seed=0).build(shape).n_syn == 0
    wide = GaussianProb(1e6, periodic_boundary=periodic, seed=0).build(shape)
    assert wide == All2All().build(shape)
    sigma = 1e4  # p ~ 1 out to distance 1, cut just beyond it: the four neighbours
    cut = math.exp(-1.5 / (2 * sigma**2))
    near = GaussianProb(sigma, p_min=cut, periodic_boundary=periodic, seed=0).build(shape)
    assert near == GridFour(include_self=True, periodic_boundary=periodic).build(shape)
    # Cut just beyond distance 2: 13 neighbours (self included) away from the border,
    # and everywhere on an odd torus, where the offset 2 is nearer than 5 - 2 = 3.
    cut = math.exp(-4.5 / (2 * sigma**2))
    degrees = _degrees(GaussianProb(sigma, p_min=cut, periodic_boundary=periodic).build((5, 5)))
    assert degrees[2, 2] == 13 and (degrees == 13).all() == periodic


def test_ijconn_and_matconn_round_trip():
    conn = FixedProb(0.3, seed=4).build(15, 12)
    order = np.random.default_rng(0).permutation(conn.n_syn)
    assert IJConn(conn.pre_ids[order], conn.post_ids[order]).build(15, 12) == conn
    mat = conn.require("conn_mat")
    assert MatConn(mat).build(15, 12) == conn
    assert MatConn(mat.astype(float) * 0.5).build(15, 12) == conn
    assert IJConn([], []).build(4, 3).n_syn == 0


# --- save / load --------------------------------------------------------------------


@pytest.mark.parametrize("conn", [
    FixedProb(0.2, seed=0).build((4, 5), (3, 7)),
    IJConn([], []).build(4, 3),
    One2One().build(1),
], ids=["fixedprob", "empty", "single"])
def test_save_load_round_trip(conn, tmp_path):
    path = conn.save(tmp_path / "conn")
    assert path.name == "conn.npz" and path.exists()
    back = Connectivity.load(path)
    assert back == conn
    assert back.pre_size == conn.pre_size and back.post_size == conn.post_size
    assert back.pre_ids.dtype == conn.pre_ids.dtype and back.post_ids.dtype == conn.post_ids.dtype
    assert not list(tmp_path.glob("*.part"))
    assert Connectivity.load(conn.save(tmp_path / "c.npz", compressed=True)) == conn


def _good_arrays():
    return dict(format_version=np.array(1), pre_size=np.array([3]), post_size=np.array([3]),
                pre_ids=np.array([0, 1]), post_ids=np.array([1, 2]))


def test_load_refuses_bad_files(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, **_good_arrays())
    assert Connectivity.load(good).n_syn == 2

    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{**_good_arrays(), "pre_ids": np.array([0, None], dtype=object)})
    missing = tmp_path / "missing.npz"
    np.savez(missing, **{k: v for k, v in _good_arrays().items() if k != "post_ids"})
    version = tmp_path / "version.npz"
    np.savez(version, **{**_good_arrays(), "format_version": np.array(99)})
    text = tmp_path / "text.npz"
    text.write_text("not an archive")
    npy = tmp_path / "array.npy"
    np.save(npy, np.arange(3))
    out_of_range = tmp_path / "range.npz"
    np.savez(out_of_range, **{**_good_arrays(), "post_ids": np.array([1, 3])})
    cases = [(pickled, "pickle"), (missing, "missing post_ids"), (version, "format"),
             (text, "cannot read"), (npy, "not an .npz"), (tmp_path / "absent.npz", "cannot read"),
             (out_of_range, "post_ids must lie in")]
    for path, match in cases:
        with pytest.raises(SynbenchError, match=match):
            Connectivity.load(path)


# --- bad input ----------------------------------------------------------------------

BAD_INPUT = {
    "prob>1": (lambda: FixedProb(1.5), "prob must be a probability in \\[0, 1\\]"),
    "prob<0": (lambda: FixedProb(-0.1), "prob must be a probability"),
    "prob nan": (lambda: FixedProb(float("nan")), "prob must be a probability"),
    "prob str": (lambda: FixedProb("0.5"), "prob must be a probability"),
    "p_min>1": (lambda: GaussianProb(1.0, p_min=2.0), "p_min must be a probability"),
    "size 0": (lambda: FixedProb(0.1).build(0), "pre_size must be a positive integer"),
    "size <0": (lambda: FixedProb(0.1).build(-3), "pre_size must be a positive integer"),
    "geometry 0": (lambda: FixedProb(0.1).build(4, (3, 0)), "post_size must be a positive"),
    "size float": (lambda: FixedProb(0.1).build(2.5), "pre_size must be a positive integer"),
    "size bool": (lambda: FixedProb(0.1).build(True), "pre_size must be a positive integer"),
    "size ()": (lambda: FixedProb(0.1).build(()), "pre_size must be a positive integer"),
    "prenum > n_pre": (lambda: FixedPreNum(6).build(5, 5), "only 5 are available"),
    "prenum no self": (lambda: FixedPreNum(5, include_self=False).build(5),
                       "only 4 are available .*less itself"),
    "postnum > n_post": (lambda: FixedPostNum(8).build(10, 7), "only 7 are available"),
    "num < 0": (lambda: FixedPreNum(-1), "num must be a non-negative integer"),
    "num float": (lambda: FixedPostNum(2.5), "num must be a non-negative integer"),
    "one2one sizes": (lambda: One2One().build(3, 4), "One2One needs groups of the same size"),
    "ij lengths": (lambda: IJConn([0, 1], [0]), "got 2 i and 1 j"),
    "ij pre range": (lambda: IJConn([5], [0]).build(3, 3), "i holds index 5, out of range"),
    "ij post range": (lambda: IJConn([0], [7]).build(3, 3), "j holds index 7, out of range"),
    "ij negative": (lambda: IJConn([-1], [0]), "must be non-negative"),
    "ij float": (lambda: IJConn([0.5], [1]), "must hold integer neuron indices"),
    "ij 2-D": (lambda: IJConn([[0]], [[1]]), "must be a 1-D sequence"),
    "ij repeats": (lambda: IJConn([1, 0, 1], [2, 0, 2]).build(3),
                   "synapse 1 -> 2 appears more than once"),
    "mat 1-D": (lambda: MatConn(np.ones(3)), "needs a 2-D"),
    "mat shape": (lambda: MatConn(np.ones((3, 4))).build(3, 5), "has shape \\(3, 4\\)"),
    "mat object": (lambda: MatConn(np.array([[None]])), "bool or numeric"),
    "sigma 0": (lambda: GaussianProb(0.0), "sigma must be a positive"),
    "sigma <0": (lambda: GaussianProb(-1.0), "sigma must be a positive"),
    "sigma inf": (lambda: GaussianProb(math.inf), "sigma must be a positive"),
    "grid 3-D": (lambda: GridFour().build((2, 3, 4)), "needs 2-D geometries"),
    "grid mismatch": (lambda: GridEight().build((3, 4), (4, 3)), "must be the same geometry"),
    "gauss mismatch": (lambda: GaussianProb(1.0).build((3, 4), 10), "must be the same geometry"),
    "gridn 0": (lambda: GridN(0), "positive integer radius"),
    "seed": (lambda: FixedProb(0.1, seed=-1), "seed must be"),
    "seed str": (lambda: FixedPreNum(2, seed="abc"), "seed must be"),
    "all2all memory": (lambda: All2All().build(10**7), "All2All between .* need .* available"),
    "fixedprob memory": (lambda: FixedProb(0.5, seed=0).build(10**7), "FixedProb between .* need"),
    "conn lengths": (lambda: Connectivity(3, 3, [0, 1], [0]), "same length"),
    "conn range": (lambda: Connectivity(3, 3, [0, 3], [0, 0]), "pre_ids must lie in \\[0, 3\\)"),
    "conn floats": (lambda: Connectivity(3, 3, [0.0], [1.0]), "must hold integer"),
    "conn 2-D": (lambda: Connectivity(3, 3, [[0]], [[1]]), "must be a 1-D array"),
    "conn repeats": (lambda: Connectivity(3, 3, [0, 0], [1, 1]), "0 -> 1 appears more than once"),
    "unknown structure": (lambda: FixedProb(0.1, seed=0).build(5).require("pre_slices"),
                          "unknown structure 'pre_slices'; did you mean 'pre_slice'"),
    "unknown nbytes": (lambda: FixedProb(0.1, seed=0).build(5).structure_nbytes("csx"),
                       "did you mean 'csr' or 'csc'"),
    "require nothing": (lambda: FixedProb(0.1, seed=0).build(5).require(), "at least one"),
}


@pytest.mark.parametrize(("make", "match"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_raises_one_clear_error(make, match):
    with pytest.raises(SynbenchError, match=match):
        make()


def test_connector_repr_names_its_parameters():
    assert repr(FixedProb(0.1, seed=3)) == ("FixedProb(prob=0.1, include_self=True, seed=3, "
                                            "counter_based=False)")
    assert repr(GridN(2)) == "GridN(N=2, include_self=False, periodic_boundary=False)"
    assert repr(IJConn([0, 1], [1, 0])) == "IJConn(<2 pairs>)"


# --- scale ----------------------------------------------------------------------------


@pytest.mark.slow
def test_fixedprob_at_scale():
    n = 200_000
    p = 80 / n
    conn = FixedProb(p, seed=0).build(n, n)
    assert within(conn.n_syn, p * n * n, math.sqrt(n * n * p * (1 - p)))
    assert conn.pre_ids.dtype == np.int32
    pre_slice, post_slice, (indptr, indices) = conn.require("pre_slice", "post_slice", "csr")
    assert pre_slice.shape == post_slice.shape == (n, 2)
    assert indptr[-1] == pre_slice[-1, 1] == post_slice[-1, 1] == len(indices) == conn.n_syn
    assert np.array_equal(indptr[:-1], pre_slice[:, 0])
    assert (np.diff(post_slice, axis=1) >= 0).all()
