"""Connectors with skewed degrees or per-synapse weights.

* :class:`SmallWorld`: Watts-Strogatz, a k-ring lattice with rewired edges;
* :class:`ScaleFreeBA`, :class:`ScaleFreeBADual`, :class:`PowerLaw`: preferential
  attachment (Barabasi-Albert, its dual version, Holme-Kim with triad formation);
* :class:`GaussianWeight`, :class:`DOG`: every pair within a distance on a 2-D grid, each
  synapse with its own weight (a Gaussian, a difference of Gaussians), so the
  :class:`Connectivity` they build carries ``weights``.

The random ones are reproducible from ``seed`` (``np.random.default_rng(seed)`` at every
build) and cost O(n_syn) time and memory. Growing a preferential-attachment graph is
sequential (each new node's choice depends on every earlier one), so that loop is
compiled with Numba (a dependency of synbench, imported on the first build), drawing
from the connector's own generator.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SynbenchError
from .base import (
    Connector,
    check_count,
    check_fits,
    check_prob,
    check_rng,
    empty_coo,
    grid_shape,
    offset_pairs,
)
from .structures import index_dtype

#: Rounds of redrawing rewired targets that collide before SmallWorld keeps the
#: lattice edge (only reached when a neuron has no free target left: tiny, dense rings).
_REWIRE_ROUNDS = 64


def _one_group(pre_size, post_size, who: str) -> int:
    """The size n of a connector that links a group to itself (pre and post alike)."""
    n_pre, n_post = math.prod(pre_size), math.prod(post_size)
    if n_pre != n_post:
        raise SynbenchError(
            f"{who} builds a graph on one group of neurons: pre and post must have the same "
            f"size, not {n_pre} and {n_post}"
        )
    return n_pre


def _positive_count(value, what: str) -> int:
    if check_count(value, what) < 1:
        raise SynbenchError(f"{what} must be a positive integer, not {value!r}")
    return int(value)


def _real(value, what: str, *, positive: bool = False, nonzero: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and positive:
        ok = value > 0
    if ok and nonzero:
        ok = value != 0
    if not ok:
        kind = "a positive finite number" if positive else (
            "a finite non-zero number" if nonzero else "a finite number")
        raise SynbenchError(f"{what} must be {kind}, not {value!r}")
    return float(value)


def _both_ways(src, dst, directed: bool, n: int):
    """Synapses of edges src -> dst: as they are when directed, else both directions."""
    dtype = index_dtype(n, n, (1 if directed else 2) * len(src))
    if directed:
        return src.astype(dtype), dst.astype(dtype)
    return np.concatenate([src, dst]).astype(dtype), np.concatenate([dst, src]).astype(dtype)


# --- Watts-Strogatz --------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SmallWorld(Connector):
    """Watts-Strogatz small-world graph on a ring of n neurons (pre and post the same group).

    Every neuron u starts linked to its ``num_neighbor`` nearest neighbours on the ring,
    ``num_neighbor // 2`` on each side (an odd ``num_neighbor`` counts as one less, as in
    networkx and BrainPy). Then each lattice edge (u, u + j) is rewired with probability
    ``prob``: its far end becomes a neuron w drawn uniformly among those that are
    neither u, nor a lattice neighbour of u, nor already linked to u by a rewired edge
    (``include_self=True`` allows w = u). Undirected (default): each edge is two
    synapses, u -> w and w -> u. ``directed=True`` (BrainPy's): the lattice holds both
    u -> u + j and u + j -> u, and each is rewired on its own, keeping u (the pre of the
    first, the post of the second).

    networkx.watts_strogatz_graph and BrainPy rewire the edges one by one, each avoiding
    the edges present at that moment; here all are drawn at once, avoiding the lattice
    edges and the other rewired ones, which changes the chance of a given target by
    O(num_neighbor / n). The number of edges is kept exactly, and ``prob=0`` is exactly
    the lattice. Cost: O(n num_neighbor).

    >>> conn = SmallWorld(4, 0.0).build(6)
    >>> conn.require("pre2post")[0].tolist()
    [1, 2, 4, 5]
    >>> SmallWorld(10, 0.3, seed=0).build(1000).n_syn  # 1000 x 5 edges, both directions
    10000
    """

    num_neighbor: int
    prob: float
    directed: bool = False
    include_self: bool = False
    seed: Any = None

    def __post_init__(self):
        object.__setattr__(self, "num_neighbor",
                           check_count(self.num_neighbor, "SmallWorld's num_neighbor"))
        object.__setattr__(self, "prob", check_prob(self.prob, "SmallWorld's prob"))
        check_rng(self.seed, "SmallWorld")

    def build_coo(self, pre_size, post_size):
        n = _one_group(pre_size, post_size, "SmallWorld")
        if self.num_neighbor >= n:
            raise SynbenchError(
                f"SmallWorld(num_neighbor={self.num_neighbor}) needs num_neighbor < n, the "
                f"number of neurons ({n}); for every pair use All2All"
            )
        half = self.num_neighbor // 2
        n_edges = n * half
        check_fits(2 * n_edges, "SmallWorld", n, n)
        if n_edges == 0:
            return empty_coo()
        # Lattice edge e = (u, u + j), j outer and u inner as networkx orders them.
        u = np.tile(np.arange(n, dtype=np.int64), half)
        v = (u + np.repeat(np.arange(1, half + 1, dtype=np.int64), n)) % n
        if self.directed:  # u -> v keeps its pre u, v -> u keeps its post u
            fixed, free = np.concatenate([u, u]), np.concatenate([v, v])
            keeps_pre = np.arange(2 * n_edges) < n_edges
            lattice = np.concatenate([u * n + v, v * n + u])
        else:
            fixed, free, keeps_pre = u, v, None
            lattice = np.minimum(u, v) * n + np.maximum(u, v)
        rng = np.random.default_rng(self.seed)
        rewired = np.flatnonzero(rng.random(len(fixed)) < self.prob)
        # With no other neuron free of a lattice edge to u, nothing can be rewired.
        if rewired.size and n - 1 - 2 * half + int(self.include_self) > 0:
            free = free.copy()
            self._rewire(rng, n, fixed, free, keeps_pre, np.sort(lattice), rewired)
        if self.directed:
            pre = np.where(keeps_pre, fixed, free)
            post = np.where(keeps_pre, free, fixed)
            return _both_ways(pre, post, True, n)
        back = fixed != free  # a self-loop (include_self) is one synapse, not two
        if back.all():
            return _both_ways(fixed, free, False, n)
        return _both_ways(np.concatenate([fixed, free[back]]),
                          np.concatenate([free, fixed[back]]), True, n)

    def _rewire(self, rng, n, fixed, free, keeps_pre, taken, rewired):
        """Give each edge of ``rewired`` a new free end, in place: uniform among those
        making a pair that no lattice edge and no other rewired edge holds."""
        pending = rewired
        for _ in range(_REWIRE_ROUNDS):
            f = fixed[pending]
            if self.include_self:
                w = rng.integers(0, n, size=len(pending), dtype=np.int64)
            else:  # uniform over the n - 1 others: skip f itself
                w = rng.integers(0, n - 1, size=len(pending), dtype=np.int64)
                w += w >= f
            if keeps_pre is None:
                keys = np.minimum(f, w) * n + np.maximum(f, w)
            else:
                keys = np.where(keeps_pre[pending], f * n + w, w * n + f)
            at = np.minimum(np.searchsorted(taken, keys), len(taken) - 1)
            ok = np.flatnonzero(taken[at] != keys)
            # Of several draws of one pair this round, the first keeps it.
            _, first = np.unique(keys[ok], return_index=True)
            won = ok[first]
            free[pending[won]] = w[won]
            new = np.sort(keys[won])  # distinct, and none in taken: merge them in
            taken = np.insert(taken, np.searchsorted(taken, new), new)
            lost = np.ones(len(pending), dtype=bool)
            lost[won] = False
            pending = pending[lost]
            if not pending.size:
                return
        # Edges still colliding keep their lattice end (``free`` still holds it), which no
        # rewired edge can have taken: the number of edges stays exact.


# --- preferential attachment ------------------------------------------------------------
# The loops below are compiled with Numba on first use. Every node id, count and index is
# an int64; they draw from the connector's np.random.Generator (Numba reads it natively).


def _attach_loop(n, m0, ms, rng):  # pragma: no cover - runs compiled
    """Barabasi-Albert growth: node m0 links to nodes 0 .. m0-1 (networkx's initial star);
    then each node s > m0 links to ms[s - m0 - 1] distinct earlier nodes, each drawn
    uniformly from the list holding every node once per edge it has (so with probability
    proportional to its degree). Returns (src, dst): new node -> earlier node."""
    total = m0
    for s in range(ms.size):
        total += ms[s]
    src = np.empty(total, np.int64)
    dst = np.empty(total, np.int64)
    repeated = np.empty(2 * total, np.int64)
    mark = np.full(n, -1, np.int64)  # mark[v] == s: v is already a target of s
    k = 0
    size = 0
    for t in range(m0):
        src[k] = m0
        dst[k] = t
        k += 1
        repeated[size] = t
        repeated[size + 1] = m0
        size += 2
    for s in range(m0 + 1, n):
        start = k
        m = ms[s - m0 - 1]
        while k - start < m:
            v = repeated[rng.integers(0, size)]
            if mark[v] != s:
                mark[v] = s
                src[k] = s
                dst[k] = v
                k += 1
        for i in range(start, k):  # the list grows after the choice, as in networkx
            repeated[size] = dst[i]
            repeated[size + 1] = s
            size += 2
    return src, dst


def _holme_kim_loop(n, m, p, rng):  # pragma: no cover - runs compiled
    """Holme-Kim growth (networkx.powerlaw_cluster_graph): from m isolated nodes, each
    new node s draws m distinct preferential candidates, links to the first, then adds
    m - 1 more links: with probability p a triad step (a uniform neighbour of the last
    preferential target, not yet linked to s), else (or when there is none) the next
    candidate not yet linked (a fresh preferential draw once the candidates run out).
    Every new node brings exactly m edges. Returns (src, dst): new node -> earlier."""
    total = m * (n - m)
    src = np.empty(total, np.int64)
    dst = np.empty(total, np.int64)
    repeated = np.empty(m + 2 * total, np.int64)
    for t in range(m):
        repeated[t] = t
    size = m
    head = np.full(n, -1, np.int64)  # adjacency as linked lists: head, nxt, to
    nxt = np.empty(2 * total, np.int64)
    to = np.empty(2 * total, np.int64)
    linked = np.full(n, -1, np.int64)  # linked[v] == s: v is a neighbour of s
    drawn = np.full(n, -1, np.int64)  # drawn[v] == s: v is a candidate of s
    candidates = np.empty(m, np.int64)
    k = 0
    for s in range(m, n):
        c = 0
        while c < m:
            v = repeated[rng.integers(0, size)]
            if drawn[v] != s:
                drawn[v] = s
                candidates[c] = v
                c += 1
        next_candidate = 0
        target = -1
        count = 0
        while count < m:
            new = -1
            if count > 0 and rng.random() < p:
                n_free = 0
                e = head[target]
                while e != -1:
                    if to[e] != s and linked[to[e]] != s:
                        n_free += 1
                    e = nxt[e]
                if n_free > 0:
                    r = rng.integers(0, n_free)
                    e = head[target]
                    while True:
                        if to[e] != s and linked[to[e]] != s:
                            if r == 0:
                                new = to[e]
                                break
                            r -= 1
                        e = nxt[e]
            if new == -1:  # preferential attachment
                while next_candidate < m and linked[candidates[next_candidate]] == s:
                    next_candidate += 1
                if next_candidate < m:
                    new = candidates[next_candidate]
                    next_candidate += 1
                else:
                    while True:
                        v = repeated[rng.integers(0, size)]
                        if v != s and linked[v] != s:
                            new = v
                            break
                target = new
            linked[new] = s
            src[k] = s
            dst[k] = new
            nxt[2 * k] = head[s]
            to[2 * k] = new
            head[s] = 2 * k
            nxt[2 * k + 1] = head[new]
            to[2 * k + 1] = s
            head[new] = 2 * k + 1
            repeated[size] = new
            size += 1
            k += 1
            count += 1
        for _ in range(m):
            repeated[size] = s
            size += 1
    return src, dst


@functools.cache
def _compiled(name: str):
    import numba

    return numba.njit(cache=True, nogil=True)(globals()[name])


def _grow(who, name, n, *args):
    try:
        return _compiled(name)(n, *args)
    except ImportError as e:  # pragma: no cover - numba is a dependency
        raise SynbenchError(f"{who} needs Numba to grow its graph: {e}") from e


def _check_attach(who: str, ms: dict, n: int) -> None:
    for name, m in ms.items():
        if m >= n:
            raise SynbenchError(
                f"{who}({name}={m}) needs {name} < n, the number of neurons ({n}): a new "
                f"neuron links to {m} distinct earlier ones"
            )


@dataclass(frozen=True, eq=False)
class ScaleFreeBA(Connector):
    """Barabasi-Albert preferential attachment on one group of n neurons.

    Neuron m links to neurons 0 .. m-1 (networkx's initial star on m + 1 nodes); each
    later neuron s links to ``m`` distinct earlier neurons, each chosen with probability
    proportional to its degree (the repeated-nodes list: every node once per edge).
    So there are m (n - m) edges and the degrees have a power-law tail, P(k) ~ k**-3.
    Undirected (default): each edge is two synapses; ``directed=True``: only new ->
    earlier. Cost: O(n m).

    >>> conn = ScaleFreeBA(3, seed=0).build(1000)
    >>> conn.n_syn == 2 * 3 * (1000 - 3)
    True
    """

    m: int
    directed: bool = False
    seed: Any = None

    def __post_init__(self):
        object.__setattr__(self, "m", _positive_count(self.m, "ScaleFreeBA's m"))
        check_rng(self.seed, "ScaleFreeBA")

    def build_coo(self, pre_size, post_size):
        n = _one_group(pre_size, post_size, "ScaleFreeBA")
        _check_attach("ScaleFreeBA", {"m": self.m}, n)
        check_fits(2 * self.m * (n - self.m), "ScaleFreeBA", n, n)
        ms = np.full(n - self.m - 1, self.m, dtype=np.int64)
        rng = np.random.default_rng(self.seed)
        src, dst = _grow("ScaleFreeBA", "_attach_loop", n, self.m, ms, rng)
        return _both_ways(src, dst, self.directed, n)


@dataclass(frozen=True, eq=False)
class ScaleFreeBADual(Connector):
    """The dual Barabasi-Albert model (networkx.dual_barabasi_albert_graph): as
    :class:`ScaleFreeBA`, but each new neuron brings ``m1`` edges with probability
    ``p``, else ``m2``.

    Neuron M = max(m1, m2) links to neurons 0 .. M-1 (networkx's initial star on M + 1
    nodes); each later neuron draws its m1 or m2 independently. Undirected (default):
    each edge is two synapses; ``directed=True``: only new -> earlier. Cost: O(n m).

    >>> conn = ScaleFreeBADual(1, 4, 0.5, seed=0).build(500)
    >>> 2 * (4 + 1 * 495) <= conn.n_syn <= 2 * (4 + 4 * 495)
    True
    """

    m1: int
    m2: int
    p: float
    directed: bool = False
    seed: Any = None

    def __post_init__(self):
        object.__setattr__(self, "m1", _positive_count(self.m1, "ScaleFreeBADual's m1"))
        object.__setattr__(self, "m2", _positive_count(self.m2, "ScaleFreeBADual's m2"))
        object.__setattr__(self, "p", check_prob(self.p, "ScaleFreeBADual's p"))
        check_rng(self.seed, "ScaleFreeBADual")

    def build_coo(self, pre_size, post_size):
        n = _one_group(pre_size, post_size, "ScaleFreeBADual")
        _check_attach("ScaleFreeBADual", {"m1": self.m1, "m2": self.m2}, n)
        first = max(self.m1, self.m2)
        check_fits(2 * first * (n - first), "ScaleFreeBADual", n, n)
        rng = np.random.default_rng(self.seed)
        ms = np.where(rng.random(n - first - 1) < self.p, self.m1, self.m2).astype(np.int64)
        src, dst = _grow("ScaleFreeBADual", "_attach_loop", n, first, ms, rng)
        return _both_ways(src, dst, self.directed, n)


@dataclass(frozen=True, eq=False)
class PowerLaw(Connector):
    """Holme-Kim power-law graph with clustering (networkx.powerlaw_cluster_graph).

    Barabasi-Albert growth from ``m`` isolated neurons in which, after its first
    preferential edge, each of a new neuron's other m - 1 edges is with probability
    ``p`` a triad step: to a random neighbour of the neuron it last attached to
    preferentially (closing a triangle), when one is not linked to it yet. Every new
    neuron brings exactly m edges, m (n - m) in all (networkx can lose one when a triad
    edge meets a later preferential candidate; here the next candidate is taken).
    Undirected (default): each edge is two synapses; ``directed=True``: only new ->
    earlier. Cost: O(n m) plus the neighbours scanned by triad steps.

    >>> PowerLaw(3, 0.5, seed=0).build(1000).n_syn == 2 * 3 * (1000 - 3)
    True
    """

    m: int
    p: float
    directed: bool = False
    seed: Any = None

    def __post_init__(self):
        object.__setattr__(self, "m", _positive_count(self.m, "PowerLaw's m"))
        object.__setattr__(self, "p", check_prob(self.p, "PowerLaw's p"))
        check_rng(self.seed, "PowerLaw")

    def build_coo(self, pre_size, post_size):
        n = _one_group(pre_size, post_size, "PowerLaw")
        _check_attach("PowerLaw", {"m": self.m}, n)
        check_fits(2 * self.m * (n - self.m), "PowerLaw", n, n)
        rng = np.random.default_rng(self.seed)
        src, dst = _grow("PowerLaw", "_holme_kim_loop", n, self.m, self.p, rng)
        return _both_ways(src, dst, self.directed, n)


# --- weights from distances on a grid --------------------------------------------------


def _grid_weights(who, pre_size, post_size, profile, reach, w_min, normalize, include_self,
                  periodic):
    """(pre, post, weights) of every pair on one grid whose ``profile(d2)`` is at least
    ``w_min`` in absolute value; ``reach`` bounds the distance where it can be."""
    height, width = grid_shape(pre_size, post_size, who)
    # One grid step along an axis: 1, or 1 / (cells - 1) on coordinates normalized to [0, 1].
    steps = [1.0 / (c - 1) if normalize and c > 1 else (0.0 if normalize else 1.0)
             for c in (height, width)]
    axes = []
    for cells, step in zip((height, width), steps, strict=True):
        if periodic:  # residues 0..cells-1, each at its shorter way round
            d = np.arange(cells)
            d = np.where(d <= cells // 2, d, d - cells)
        else:
            d = np.arange(-(cells - 1), cells)
        axes.append(d[np.abs(d) * step <= reach * (1 + 1e-12) + 1e-300] if step else d)
    dy, dx = (a.ravel() for a in np.meshgrid(*axes, indexing="ij"))
    d2 = (dy * steps[0]) ** 2 + (dx * steps[1]) ** 2
    w = profile(d2)
    keep = (np.abs(w) >= w_min) & ((d2 > 0) | include_self if normalize else
                                   ((dy != 0) | (dx != 0)) | include_self)
    dy, dx, w = dy[keep], dx[keep], w[keep]
    if periodic:
        dy, dx = dy % height, dx % width
    offsets = list(zip(dy.tolist(), dx.tolist(), strict=True))
    counts = []
    for oy, ox in offsets:  # the pairs offset_pairs makes for each offset, in its order
        if periodic:
            counts.append(height * width)
        else:
            counts.append(max(0, height - abs(oy)) * max(0, width - abs(ox)))
    n = height * width
    check_fits(int(sum(counts)), who, n, n)
    pre, post = offset_pairs((height, width), offsets, [1.0] * len(offsets), periodic)
    return pre, post, np.repeat(w, counts)


def _check_w_min(who, w_min, default):
    if w_min is None:
        return default
    return _real(w_min, f"{who}'s w_min", positive=True)


@dataclass(frozen=True, eq=False)
class GaussianWeight(Connector):
    """Every pair on one 2-D grid within reach, with weight ``w_max * exp(-d**2 / (2
    sigma**2))`` at grid distance d; pairs whose weight falls below ``w_min`` in absolute
    value (default ``0.01 * |w_max|``, BrainPy's) are not connected.

    ``normalize`` (default, BrainPy's): positions are scaled to [0, 1] on each axis
    (row / (height - 1), column / (width - 1)), so ``sigma`` is a fraction of the grid;
    else d is in grid steps. ``periodic_boundary`` measures d on a torus (the shorter
    way round along each axis). ``include_self`` keeps each neuron's synapse onto itself
    (weight ``w_max``). A 1-D size n is read as a (1, n) grid. The weights are exact
    (no randomness, hence no seed) and the built :class:`Connectivity` carries them.
    Cost: O(n_syn) plus one vector step per offset within reach.

    >>> conn = GaussianWeight(sigma=1.0, w_max=2.0, w_min=0.5, normalize=False).build((5, 5))
    >>> conn.require("pre2post")[0].tolist()  # neuron 0 at (0, 0): itself, (0, 1), (1, 0), (1, 1)
    [0, 1, 5, 6]
    >>> conn.weights[:4].round(3).tolist()  # 2 exp(-d**2 / 2) at d**2 = 0, 1, 1, 2
    [2.0, 1.213, 1.213, 0.736]
    """

    sigma: float
    w_max: float
    w_min: float | None = None
    normalize: bool = True
    include_self: bool = True
    periodic_boundary: bool = False

    def __post_init__(self):
        object.__setattr__(self, "sigma", _real(self.sigma, "GaussianWeight's sigma",
                                                positive=True))
        object.__setattr__(self, "w_max", _real(self.w_max, "GaussianWeight's w_max",
                                                nonzero=True))
        object.__setattr__(self, "w_min", _check_w_min("GaussianWeight", self.w_min,
                                                       0.01 * abs(self.w_max)))

    def build_coo(self, pre_size, post_size):
        if self.w_min > abs(self.w_max):
            return (*empty_coo(), np.empty(0))
        reach = self.sigma * math.sqrt(2 * math.log(abs(self.w_max) / self.w_min))
        s2 = 2 * self.sigma**2

        def profile(d2):
            return self.w_max * np.exp(-d2 / s2)

        return _grid_weights("GaussianWeight", pre_size, post_size, profile, reach,
                             self.w_min, self.normalize, self.include_self,
                             self.periodic_boundary)


@dataclass(frozen=True, eq=False)
class DOG(Connector):
    """Difference of Gaussians on one 2-D grid (BrainPy's DOG): the weight at distance d is
    ``w_exc * exp(-d**2 / (2 s_exc**2)) - w_inh * exp(-d**2 / (2 s_inh**2))`` with
    ``sigmas = (s_exc, s_inh)`` and ``ws_max = (w_exc, w_inh)``; pairs whose weight is
    below ``w_min`` in absolute value (default ``0.01 * |w_exc - w_inh|``, BrainPy's)
    are not connected. With ``w_exc > w_inh`` and ``s_exc < s_inh`` the centre is
    excitatory and the surround inhibitory (a Mexican hat).

    ``normalize``, ``include_self`` and ``periodic_boundary`` are as for
    :class:`GaussianWeight`. The built :class:`Connectivity` carries the weights.

    >>> conn = DOG((1.0, 3.0), (2.0, 1.0), w_min=0.05, normalize=False).build((15, 15))
    >>> w = conn.weights[conn.pre_ids == 112]  # the centre neuron's synapses
    >>> bool(w.max() > 0 > w.min())
    True
    """

    sigmas: tuple[float, float]
    ws_max: tuple[float, float]
    w_min: float | None = None
    normalize: bool = True
    include_self: bool = True
    periodic_boundary: bool = False

    def __post_init__(self):
        pairs = {}
        for name in ("sigmas", "ws_max"):
            value = getattr(self, name)
            if not isinstance(value, (tuple, list)) or len(value) != 2:
                raise SynbenchError(f"DOG's {name} must be a pair (excitatory, inhibitory), "
                                    f"not {value!r}")
            positive = name == "sigmas"
            pairs[name] = tuple(_real(v, f"DOG's {name}[{i}]", positive=positive)
                                for i, v in enumerate(value))
            object.__setattr__(self, name, pairs[name])
        w_exc, w_inh = pairs["ws_max"]
        default = 0.01 * abs(w_exc - w_inh)
        if self.w_min is None and default == 0:
            raise SynbenchError(
                f"DOG's w_min defaults to 0.01 * |w_exc - w_inh|, which is 0 for ws_max "
                f"{self.ws_max}: every pair would connect; pass a positive w_min"
            )
        object.__setattr__(self, "w_min", _check_w_min("DOG", self.w_min, default))

    def build_coo(self, pre_size, post_size):
        (s_exc, s_inh), (w_exc, w_inh) = self.sigmas, self.ws_max
        bound = abs(w_exc) + abs(w_inh)  # |weight| <= bound * exp(-d**2 / (2 s_max**2))
        if self.w_min > bound:
            return (*empty_coo(), np.empty(0))
        reach = max(s_exc, s_inh) * math.sqrt(2 * math.log(bound / self.w_min))

        def profile(d2):
            return w_exc * np.exp(-d2 / (2 * s_exc**2)) - w_inh * np.exp(-d2 / (2 * s_inh**2))

        return _grid_weights("DOG", pre_size, post_size, profile, reach, self.w_min,
                             self.normalize, self.include_self, self.periodic_boundary)
