"""Skewed-degree and weighted connectors (SmallWorld, ScaleFreeBA, ScaleFreeBADual,
PowerLaw, GaussianWeight, DOG) against their definitions and networkx, per-synapse weights
through Connectivity (sort, save/load, canonical), and projections that use them."""

import dataclasses
import math
import zipfile

import numpy as np
import pytest
from scipy import stats

from synbench import run
from synbench.core.connect import (
    DOG,
    Connectivity,
    Connector,
    FixedProb,
    GaussianWeight,
    PowerLaw,
    ScaleFreeBA,
    ScaleFreeBADual,
    SmallWorld,
)
from synbench.core.errors import SynbenchError
from synbench.core.networks import Projection, driven
from synbench.run import with_weights


def pairs(conn):
    return set(zip(conn.pre_ids.tolist(), conn.post_ids.tolist(), strict=True))


def degrees(conn):
    """Undirected degree of each neuron (synapses are symmetric: the out-degree)."""
    return np.bincount(conn.pre_ids, minlength=conn.n_pre)


def earlier_links(conn):
    """For each neuron s, how many synapses s -> t with t < s (its edges when it arrived)."""
    down = conn.pre_ids > conn.post_ids
    return np.bincount(conn.pre_ids[down], minlength=conn.n_pre)


def networkx_pairs(graph):
    return {(a, b) for a, b in graph.edges()} | {(b, a) for a, b in graph.edges()}


# --- SmallWorld ---------------------------------------------------------------------------


def ring(n, k):
    return {(u, (u + s * j) % n) for u in range(n) for j in range(1, k // 2 + 1) for s in (1, -1)}


@pytest.mark.parametrize(("n", "k"), [(10, 2), (12, 4), (50, 6), (9, 5), (7, 6), (30, 0)])
def test_small_world_at_prob_0_is_exactly_the_ring(n, k):
    for directed in (False, True):
        conn = SmallWorld(k, 0.0, directed=directed, seed=1).build(n)
        assert pairs(conn) == ring(n, k)
        assert conn.weights is None


def test_small_world_at_prob_0_matches_networkx():
    nx = pytest.importorskip("networkx", reason="networkx is an optional test oracle")
    for n, k in [(20, 4), (101, 10), (15, 3)]:
        conn = SmallWorld(k, 0.0).build(n)
        assert pairs(conn) == networkx_pairs(nx.watts_strogatz_graph(n, k, 0))


@pytest.mark.parametrize("include_self", [False, True])
def test_small_world_rewiring_keeps_every_edge(include_self):
    n, k = 400, 8
    for prob in (0.2, 1.0):
        conn = SmallWorld(k, prob, include_self=include_self, seed=3).build(n)
        p = pairs(conn)
        loops = sum(a == b for a, b in p)
        assert len(p) + loops == n * k  # each edge two synapses, a self-loop one
        assert all((b, a) in p for a, b in p)  # undirected: symmetric
        assert include_self or loops == 0
        assert degrees(conn).sum() + loops == n * k  # the degree sum is preserved
        moved = len(p - ring(n, k))
        assert moved > 0.5 * prob * n * k  # most rewired edges leave the lattice


def test_small_world_directed_rewires_each_direction():
    n, k = 300, 6
    conn = SmallWorld(k, 1.0, directed=True, seed=0).build(n)
    assert conn.n_syn == n * k
    # u -> u + j keeps its pre, u + j -> u its post: k/2 of each per neuron survive.
    assert np.bincount(conn.pre_ids, minlength=n).min() >= k // 2
    assert np.bincount(conn.post_ids, minlength=n).min() >= k // 2
    assert not (conn.pre_ids == conn.post_ids).any()
    assert pairs(conn) != {(b, a) for a, b in pairs(conn)}  # no longer symmetric


def test_small_world_degree_spread_like_networkx():
    nx = pytest.importorskip("networkx", reason="networkx is an optional test oracle")
    n, k, prob = 2000, 10, 0.3
    ours = degrees(SmallWorld(k, prob, seed=0).build(n))
    theirs = np.array([d for _, d in nx.watts_strogatz_graph(n, k, prob, seed=0).degree()])
    assert ours.mean() == theirs.mean() == k
    assert abs(ours.std() - theirs.std()) < 0.15 * theirs.std()


# --- Barabasi-Albert ----------------------------------------------------------------------


@pytest.mark.parametrize("m", [1, 2, 5])
def test_ba_every_new_neuron_brings_m_edges(m):
    n = 600
    conn = ScaleFreeBA(m, seed=2).build(n)
    assert conn.n_syn == 2 * m * (n - m)
    assert pairs(conn) == {(b, a) for a, b in pairs(conn)}
    links = earlier_links(conn)
    assert (links[:m] == 0).all() and (links[m:] == m).all()
    first = conn.post_ids[(conn.pre_ids == m) & (conn.post_ids < m)]
    assert first.tolist() == list(range(m))  # the initial star
    directed = ScaleFreeBA(m, directed=True, seed=2).build(n)
    assert directed.n_syn == m * (n - m)
    assert (directed.pre_ids > directed.post_ids).all()
    assert pairs(directed) == {(a, b) for a, b in pairs(conn) if a > b}


def test_ba_degrees_have_a_heavy_tail():
    n, m = 2000, 3
    deg = degrees(ScaleFreeBA(m, seed=0).build(n))
    assert deg.mean() == pytest.approx(2 * m * (n - m) / n)
    assert deg.min() >= m
    assert deg.max() > 5 * deg.mean()
    # P(k >= 6m) is about 1/36 for BA, ~1e-4 for a Poisson degree with the same mean.
    tail = (deg >= 6 * m).mean()
    assert tail > 0.01
    assert tail > 20 * stats.poisson.sf(6 * m - 1, deg.mean())


def test_ba_degree_statistics_like_networkx():
    nx = pytest.importorskip("networkx", reason="networkx is an optional test oracle")
    n, m = 2000, 3
    ours = degrees(ScaleFreeBA(m, seed=0).build(n))
    theirs = np.array([d for _, d in nx.barabasi_albert_graph(n, m, seed=0).degree()])
    assert ours.sum() == theirs.sum()  # the same number of edges: mean degree equal
    assert 1 / 3 < ours.max() / theirs.max() < 3
    assert abs(np.median(ours) - np.median(theirs)) <= 1


def test_dual_ba_new_neurons_bring_m1_or_m2_edges():
    n, m1, m2, p = 3000, 1, 4, 0.3
    conn = ScaleFreeBADual(m1, m2, p, seed=5).build(n)
    first = max(m1, m2)
    links = earlier_links(conn)
    assert (links[:first] == 0).all() and links[first] == first
    later = links[first + 1:]
    assert set(np.unique(later).tolist()) == {m1, m2}
    assert conn.n_syn == 2 * links.sum()
    share = (later == m1).mean()
    assert abs(share - p) < 5 * math.sqrt(p * (1 - p) / later.size)
    for p_all, m in ((1.0, m1), (0.0, m2)):
        one = ScaleFreeBADual(m1, m2, p_all, seed=5).build(n)
        assert one.n_syn == 2 * (first + m * (n - first - 1))


def test_dual_ba_mean_degree_like_networkx():
    nx = pytest.importorskip("networkx", reason="networkx is an optional test oracle")
    n, m1, m2, p = 3000, 1, 4, 0.3
    ours = degrees(ScaleFreeBADual(m1, m2, p, seed=1).build(n))
    theirs = np.array([d for _, d in nx.dual_barabasi_albert_graph(n, m1, m2, p,
                                                                    seed=1).degree()])
    assert abs(ours.mean() - theirs.mean()) < 0.1 * theirs.mean()
    assert 1 / 3 < ours.max() / theirs.max() < 3


def transitivity(conn):
    """3 x triangles / connected triples of an undirected synapse set."""
    from scipy import sparse

    a = sparse.csr_array((np.ones(conn.n_syn), (conn.pre_ids, conn.post_ids)),
                         shape=(conn.n_pre, conn.n_post))
    triangles = (a @ a).multiply(a).sum() / 6
    deg = degrees(conn).astype(float)
    return 3 * triangles / (deg * (deg - 1) / 2).sum()


def test_powerlaw_edges_and_clustering():
    n, m = 2000, 3
    for p in (0.0, 0.5, 1.0):
        conn = PowerLaw(m, p, seed=4).build(n)
        assert conn.n_syn == 2 * m * (n - m)
        links = earlier_links(conn)
        assert (links[:m] == 0).all() and (links[m:] == m).all()
    low = transitivity(PowerLaw(m, 0.0, seed=4).build(n))
    high = transitivity(PowerLaw(m, 1.0, seed=4).build(n))
    assert high > 3 * low  # the triad steps close triangles


def test_powerlaw_like_networkx():
    nx = pytest.importorskip("networkx", reason="networkx is an optional test oracle")
    n, m, p = 2000, 3, 0.7
    conn = PowerLaw(m, p, seed=0).build(n)
    graph = nx.powerlaw_cluster_graph(n, m, p, seed=0)
    ours = nx.Graph(list(zip(conn.pre_ids.tolist(), conn.post_ids.tolist(), strict=True)))
    assert ours.number_of_edges() == m * (n - m) >= graph.number_of_edges()
    assert 0.7 < nx.transitivity(ours) / nx.transitivity(graph) < 1.4
    assert 1 / 3 < max(d for _, d in ours.degree()) / max(d for _, d in graph.degree()) < 3


# --- seeds ------------------------------------------------------------------------------

SEEDED = [
    lambda seed: SmallWorld(6, 0.3, seed=seed),
    lambda seed: SmallWorld(6, 0.3, directed=True, seed=seed),
    lambda seed: ScaleFreeBA(2, seed=seed),
    lambda seed: ScaleFreeBADual(1, 3, 0.5, seed=seed),
    lambda seed: PowerLaw(2, 0.5, seed=seed),
]


@pytest.mark.parametrize("make", SEEDED, ids=["sw", "sw-directed", "ba", "dual", "powerlaw"])
def test_seeds_reproduce(make):
    a, b, c = (make(s).build(300) for s in (7, 7, 8))
    assert a == b and a != c
    g1, g2 = (make(np.random.default_rng(3)).build(300) for _ in range(2))
    assert g1 == g2
    assert make(np.random.SeedSequence(3)).build(300) == make(np.random.SeedSequence(3)).build(300)
    assert make(None).build(50).n_pre == 50


# --- GaussianWeight and DOG: against all pairs by hand ----------------------------------


def brute_force(shape, profile, w_min, normalize, include_self, periodic):
    """{(pre, post): weight} over all pairs of the grid, the definition written out."""
    height, width = shape
    out = {}
    for i in range(height * width):
        for j in range(height * width):
            if i == j and not include_self:
                continue
            d = []
            for a, b, cells in ((i // width, j // width, height), (i % width, j % width, width)):
                delta = abs(a - b)
                if periodic:
                    delta = min(delta, cells - delta)
                scale = (1 / (cells - 1) if cells > 1 else 0.0) if normalize else 1.0
                d.append(delta * scale)
            w = profile(d[0] ** 2 + d[1] ** 2)
            if abs(w) >= w_min:
                out[(i, j)] = w
    return out


def as_dict(conn):
    return dict(zip(zip(conn.pre_ids.tolist(), conn.post_ids.tolist(), strict=True),
                    conn.weights.tolist(), strict=True))


def assert_same_weights(conn, expected):
    got = as_dict(conn)
    assert got.keys() == expected.keys()
    for key, w in expected.items():
        assert got[key] == pytest.approx(w, rel=1e-12, abs=1e-300)


OPTIONS = [dict(normalize=n, include_self=s, periodic=p)
           for n in (False, True) for s in (True, False) for p in (False, True)]


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(k for k, v in o.items() if v))
@pytest.mark.parametrize("shape", [(6, 7), (1, 9), (4, 4)])
def test_gaussian_weight_is_the_formula_on_every_pair(shape, opts):
    sigma = 0.3 if opts["normalize"] else 1.5
    w_max, w_min = 2.0, 0.1
    conn = GaussianWeight(sigma, w_max, w_min, normalize=opts["normalize"],
                          include_self=opts["include_self"],
                          periodic_boundary=opts["periodic"]).build(shape)
    expected = brute_force(shape, lambda d2: w_max * math.exp(-d2 / (2 * sigma**2)), w_min,
                           **opts)
    assert_same_weights(conn, expected)
    w = as_dict(conn)
    assert all(w[(b, a)] == w[(a, b)] for a, b in w)  # symmetric


def test_gaussian_weight_by_hand():
    # A 5 x 5 grid in grid steps: neuron 12 is the centre (2, 2).
    conn = GaussianWeight(sigma=1.0, w_max=3.0, w_min=0.01, normalize=False).build((5, 5))
    w = as_dict(conn)
    assert w[(12, 12)] == 3.0
    assert w[(12, 13)] == pytest.approx(3.0 * math.exp(-1 / 2))  # one step right
    assert w[(12, 18)] == pytest.approx(3.0 * math.exp(-2 / 2))  # one step diagonally
    assert w[(12, 22)] == pytest.approx(3.0 * math.exp(-4 / 2))  # two steps down
    assert (0, 24) not in w  # d**2 = 32: 3 exp(-16) < 0.01
    # Normalized: a (3, 5) grid has steps 1/2 down and 1/4 across.
    conn = GaussianWeight(sigma=0.5, w_max=1.0, normalize=True).build((3, 5))
    assert as_dict(conn)[(0, 6)] == pytest.approx(math.exp(-(0.25 + 0.0625) / 0.5))
    # The default w_min is 0.01 w_max: nothing below it, and the cut-off is exact.
    conn = GaussianWeight(sigma=1.0, w_max=1.0, normalize=False).build((1, 40))
    assert conn.weights.min() >= 0.01
    assert conn.require("pre2post")[0].tolist() == [0, 1, 2, 3]  # exp(-9/2) = 0.011


@pytest.mark.parametrize("opts", OPTIONS[:4], ids=lambda o: "-".join(k for k, v in o.items() if v))
def test_dog_is_the_formula_on_every_pair(opts):
    shape = (7, 6)
    sigmas = (0.15, 0.4) if opts["normalize"] else (1.0, 2.5)
    ws = (1.0, 0.6)
    conn = DOG(sigmas, ws, w_min=0.02, normalize=opts["normalize"],
               include_self=opts["include_self"], periodic_boundary=opts["periodic"]).build(shape)

    def profile(d2):
        return ws[0] * math.exp(-d2 / (2 * sigmas[0] ** 2)) - ws[1] * math.exp(
            -d2 / (2 * sigmas[1] ** 2))

    assert_same_weights(conn, brute_force(shape, profile, 0.02, **opts))


def test_dog_centre_excitatory_surround_inhibitory():
    conn = DOG((1.0, 3.0), (2.0, 1.0), normalize=False).build((21, 21))
    centre = 10 * 21 + 10
    w = as_dict(conn)
    r, c = np.divmod(np.arange(21 * 21), 21)
    d = np.hypot(r - 10, c - 10)
    inner = [w[(centre, j)] for j in np.flatnonzero(d <= 1.0)]
    ring_ = [w[(centre, j)] for j in np.flatnonzero((d >= 3.5) & (d <= 5)) if (centre, j) in w]
    assert w[(centre, centre)] == pytest.approx(1.0)  # 2 - 1 at the centre
    assert min(inner) > 0 and ring_ and max(ring_) < 0
    assert np.abs(conn.weights).min() >= 0.01 * abs(2.0 - 1.0)  # the default w_min
    assert (conn.weights > 0).any() and (conn.weights < 0).any()


def test_weighted_grid_connectors_build_large_grids_sparsely():
    conn = GaussianWeight(sigma=1.0, w_max=1.0, normalize=False).build((300, 300))
    assert conn.n_syn < 30 * 300 * 300  # a neighbourhood, never n x n
    assert conn.weights.shape == (conn.n_syn,)


# --- bad parameters ---------------------------------------------------------------------

BAD = {
    "sw negative k": (lambda: SmallWorld(-2, 0.1), "num_neighbor must be a non-negative"),
    "sw prob": (lambda: SmallWorld(4, 1.5), "prob must be a probability"),
    "sw seed": (lambda: SmallWorld(4, 0.1, seed="x"), "SmallWorld: seed must be"),
    "sw k >= n": (lambda: SmallWorld(10, 0.1).build(10), "num_neighbor < n"),
    "sw sizes": (lambda: SmallWorld(2, 0.1).build(10, 12), "same size, not 10 and 12"),
    "ba m 0": (lambda: ScaleFreeBA(0), "m must be a positive integer"),
    "ba m float": (lambda: ScaleFreeBA(2.5), "m must be a non-negative integer"),
    "ba m >= n": (lambda: ScaleFreeBA(5).build(5), "m < n"),
    "ba sizes": (lambda: ScaleFreeBA(2).build(10, 20), "same size"),
    "ba seed": (lambda: ScaleFreeBA(2, seed=-1), "ScaleFreeBA: seed must be"),
    "dual m2": (lambda: ScaleFreeBADual(1, 0, 0.5), "m2 must be a positive integer"),
    "dual p": (lambda: ScaleFreeBADual(1, 2, -0.1), "p must be a probability"),
    "dual m1 >= n": (lambda: ScaleFreeBADual(8, 2, 0.5).build(8), "m1 < n"),
    "powerlaw p": (lambda: PowerLaw(2, 2.0), "p must be a probability"),
    "powerlaw m >= n": (lambda: PowerLaw(3, 0.5).build(3), "m < n"),
    "gw sigma": (lambda: GaussianWeight(0.0, 1.0), "sigma must be a positive finite"),
    "gw sigma nan": (lambda: GaussianWeight(float("nan"), 1.0), "sigma must be a positive"),
    "gw w_max 0": (lambda: GaussianWeight(1.0, 0.0), "w_max must be a finite non-zero"),
    "gw w_min": (lambda: GaussianWeight(1.0, 1.0, w_min=-1.0), "w_min must be a positive"),
    "gw grid": (lambda: GaussianWeight(1.0, 1.0).build((3, 3), (3, 4)), "same geometry"),
    "dog sigmas": (lambda: DOG((1.0,), (1.0, 0.5)), "sigmas must be a pair"),
    "dog sigma <= 0": (lambda: DOG((1.0, -2.0), (1.0, 0.5)), "sigmas\\[1\\] must be a positive"),
    "dog ws": (lambda: DOG((1.0, 2.0), (1.0, "a")), "ws_max\\[1\\] must be a finite"),
    "dog w_min 0": (lambda: DOG((1.0, 2.0), (1.0, 1.0)), "pass a positive w_min"),
}


@pytest.mark.parametrize(("make", "match"), BAD.values(), ids=BAD.keys())
def test_bad_parameters_are_one_clear_error(make, match):
    with pytest.raises(SynbenchError, match=match) as caught:
        make()
    assert type(caught.value) is SynbenchError


# --- per-synapse weights in a Connectivity ----------------------------------------------


def test_weights_follow_their_synapses_when_sorted():
    conn = Connectivity(3, 3, [2, 0, 1, 0], [0, 2, 1, 0], weights=[0.2, 0.02, 0.11, 0.0])
    assert conn.pre_ids.tolist() == [0, 0, 1, 2] and conn.post_ids.tolist() == [0, 2, 1, 0]
    assert conn.weights.tolist() == [0.0, 0.02, 0.11, 0.2]
    assert not conn.weights.flags.writeable
    assert conn.order.tolist() == [3, 1, 2, 0]
    same, _ = conn.canonical()
    assert same.weights is conn.weights and same.order is None and same == conn
    # A connectivity's own weights are canonical: prepare may take them as they are.
    assert conn.check_weight_order(conn.weights) is conn.weights
    with pytest.raises(SynbenchError, match="canonical"):
        conn.check_weight_order(np.array(conn.weights))
    ints = Connectivity(2, 2, [0, 1], [1, 0], weights=[1, 2])
    assert ints.weights.dtype == np.float64
    assert Connectivity(2, 2, [0], [1], weights=np.float32([0.5])).weights.dtype == np.float32


def test_weights_take_part_in_equality():
    a = Connectivity(2, 2, [0, 1], [1, 0], weights=[1.0, 2.0])
    assert a == Connectivity(2, 2, [1, 0], [0, 1], weights=[2.0, 1.0])
    assert a != Connectivity(2, 2, [0, 1], [1, 0], weights=[1.0, 3.0])
    assert a != Connectivity(2, 2, [0, 1], [1, 0])
    assert "weighted" in repr(a)


BAD_WEIGHTS = {
    "shape": ([1.0], "shape \\(2,\\), not shape \\(1,\\)"),
    "scalar": (1.0, "the projection's weight"),
    "2-D": ([[1.0, 2.0]], "not shape \\(1, 2\\)"),
    "nan": ([1.0, float("nan")], "finite; synapse 1 has nan"),
    "inf": ([float("inf"), 1.0], "finite; synapse 0 has inf"),
    "strings": (["a", "b"], "real numbers"),
    "objects": ([1.0, None], "real numbers"),
    "complex": ([1j, 1.0], "real numbers"),
}


@pytest.mark.parametrize(("weights", "match"), BAD_WEIGHTS.values(), ids=BAD_WEIGHTS.keys())
def test_bad_weights_are_refused(weights, match):
    with pytest.raises(SynbenchError, match=match):
        Connectivity(2, 2, [0, 1], [1, 0], weights=weights)


@pytest.mark.parametrize("compressed", [False, True])
def test_weights_round_trip_through_save_and_load(tmp_path, compressed):
    conn = DOG((1.0, 2.0), (1.0, 0.5), w_min=0.01, normalize=False).build((6, 6))
    path = conn.save(tmp_path / "dog", compressed=compressed)
    back = Connectivity.load(path)
    assert back == conn and np.array_equal(back.weights, conn.weights)
    assert back.weights.dtype == conn.weights.dtype
    with np.load(path) as f:
        assert int(f["format_version"]) == 2
    plain = Connectivity(3, 3, [0, 1], [1, 2])
    with np.load(plain.save(tmp_path / "plain")) as f:  # unweighted: still format 1
        assert int(f["format_version"]) == 1 and "weights" not in f.files
    assert Connectivity.load(tmp_path / "plain.npz").weights is None


def _weighted_file(path, **changes):
    arrays = dict(format_version=np.array(2), pre_size=np.array([3]), post_size=np.array([3]),
                  pre_ids=np.array([0, 1]), post_ids=np.array([1, 2]),
                  weights=np.array([0.5, -1.0]))
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


BAD_WEIGHT_FILES = {
    "nan weight": (dict(weights=np.array([0.5, np.nan])), "weights must be finite"),
    "short weights": (dict(weights=np.array([0.5])), "one value per synapse"),
    "int weights": (dict(weights=np.array([1, 2])), "weights.npy holds int64 values, not floats"),
    "object weights": (dict(weights=np.array([0.5, None], dtype=object)), "Python objects"),
    "format 2 without weights": (dict(weights=None), "missing weights"),
    "format 1 with weights": (dict(format_version=np.array(1)), "unexpected entries weights"),
    "format 3": (dict(format_version=np.array(3)), "format_version 3"),
}


@pytest.mark.parametrize(("changes", "match"), BAD_WEIGHT_FILES.values(),
                         ids=BAD_WEIGHT_FILES.keys())
def test_load_trusts_no_weights(tmp_path, changes, match):
    path = _weighted_file(tmp_path / "w.npz", **changes)
    with pytest.raises(SynbenchError, match=match) as caught:
        Connectivity.load(path)
    assert "cannot read connectivity from" in str(caught.value)


def test_load_reads_a_good_weighted_file(tmp_path):
    back = Connectivity.load(_weighted_file(tmp_path / "w.npz"))
    assert back.weights.tolist() == [0.5, -1.0]
    with zipfile.ZipFile(tmp_path / "w.npz") as z:
        assert "weights.npy" in z.namelist()


def test_connector_may_return_weights_or_not():
    @dataclasses.dataclass(frozen=True, eq=False)
    class Three(Connector):
        def build_coo(self, pre_size, post_size):
            return np.array([1, 0]), np.array([0, 1]), np.array([10.0, 20.0])

    @dataclasses.dataclass(frozen=True, eq=False)
    class Four(Connector):
        def build_coo(self, pre_size, post_size):
            return np.array([1]), np.array([0]), np.array([1.0]), None

    conn = Three().build(2)
    assert conn.weights.tolist() == [20.0, 10.0] and conn.order is None
    with pytest.raises(SynbenchError, match="must return \\(pre_ids, post_ids\\) or"):
        Four().build(2)
    assert FixedProb(0.5, seed=0).build(10).weights is None


# --- projections that take the connectivity's weights -----------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Weighted(Connector):
    """The synapses of ``inner`` with weights drawn around ``scale`` (or all equal)."""

    inner: Connector
    scale: float
    spread: bool = True

    def build_coo(self, pre_size, post_size):
        conn = self.inner.build(post_size, pre_size)  # transposed: post-major, not canonical
        w = np.full(conn.n_syn, self.scale)
        if self.spread:
            w *= np.random.default_rng(0).uniform(0.5, 1.5, conn.n_syn)
        return conn.post_ids, conn.pre_ids, w


def _with_projection(spec, connector, weight):
    p = spec.projections[0]
    return dataclasses.replace(spec, projections=(Projection(
        p.name, p.pre, p.post, connector, p.synapse, weight, p.output),))


def test_projection_weight_for():
    conn = GaussianWeight(0.3, 1.0).build((4, 4))
    p = Projection("X", "E", "E", GaussianWeight(0.3, 1.0), 5.0, None, 0.0)
    assert p.weight_for(conn) is conn.weights
    assert dataclasses.replace(p, weight=0.5).weight_for(conn) == 0.5
    with pytest.raises(SynbenchError, match="projection X has weight=None.*gives none"):
        dataclasses.replace(p, connector=FixedProb(0.1)).weight_for(FixedProb(0.1).build(16))


@pytest.mark.parametrize("strategy", ["pre_slice", "csr", "post_slice"])
def test_a_projection_uses_its_connectivitys_weights(strategy):
    spec = driven(n_pre=200, n_post=20, rate_hz=40.0, p=0.2)
    base = spec.projections[0]
    inner = FixedProb(0.2, seed=3)
    weighted = _with_projection(spec, Weighted(inner, 2 * base.weight), None)
    conns = weighted.connectivity()
    w = conns["P2N"].weights
    assert w is not None and conns["P2N"].order is None
    resolved, resolved_conns = with_weights(weighted, conns)
    assert resolved.projections[0].weight is w and weighted.projections[0].weight is None

    # The same synapses with the same per-synapse weights given explicitly: the same run.
    got = run(weighted, strategy, "numpy", duration=100.0)
    explicit = run(_with_projection(spec, Weighted(inner, 2 * base.weight), np.array(w)),
                   strategy, "numpy", duration=100.0, conns=conns)
    assert got.spike_ids.size > 0
    assert np.array_equal(got.spike_steps, explicit.spike_steps)
    assert np.array_equal(got.spike_ids, explicit.spike_ids)
    # Equal weights on every synapse: the same run as that scalar weight.
    flat = run(_with_projection(spec, Weighted(inner, base.weight, spread=False), None),
               strategy, "numpy", duration=100.0)
    scalar = run(_with_projection(spec, Weighted(inner, 7.0, spread=False), base.weight),
                 strategy, "numpy", duration=100.0)
    assert np.array_equal(flat.spike_ids, scalar.spike_ids)
    assert np.array_equal(flat.spike_steps, scalar.spike_steps)
    assert not np.array_equal(flat.spike_ids, got.spike_ids)  # the weights mattered


def test_weight_none_without_weights_is_a_clear_error():
    spec = driven(n_pre=50, n_post=5)
    bad = _with_projection(spec, FixedProb(0.1, seed=0), None)
    with pytest.raises(SynbenchError, match="weight=None.*FixedProb gives none"):
        run(bad, "pre_slice", "numpy", duration=1.0)
    assert run(bad, None, "numpy", duration=1.0).n_steps == 10  # neurons alone need none
