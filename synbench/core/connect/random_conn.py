"""Random connectors: FixedProb, FixedPreNum, FixedPostNum and GaussianProb.

Each is reproducible from ``seed`` (``np.random.default_rng(seed)`` at every build;
``seed=None`` draws fresh entropy) and costs O(n_syn) time and memory: no
n_pre x n_post temporary is ever made for the sparse ones.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SynbenchError
from .base import (
    CHUNK,
    Connector,
    all_pairs,
    bernoulli_chunks,
    check_count,
    check_fits,
    check_prob,
    check_rng,
    empty_coo,
    excludes_self,
    grid_shape,
    n_pairs,
    offset_pairs,
)
from .generated import RowGenerator, key_of
from .structures import Connectivity, as_size, index_dtype, transpose_compressed


@dataclass(frozen=True, eq=False)
class FixedProb(Connector):
    """Each (pre, post) pair is connected independently with probability ``prob``.

    Built from geometric gaps over the flattened pair index ``pre * n_post + post``, so
    time and memory are O(n_syn) and the synapses come out already in canonical order.
    ``include_self=False`` drops pre i -> post i (when both groups have the same size).

    >>> conn = FixedProb(0.02, seed=0).build(4000, 4000)
    >>> abs(conn.n_syn - 0.02 * 4000**2) < 4 * (0.02 * 0.98 * 4000**2) ** 0.5
    True
    """

    prob: float
    include_self: bool = True
    seed: Any = None
    counter_based: bool = False

    def __post_init__(self):
        object.__setattr__(self, "prob", check_prob(self.prob, "FixedProb's prob"))
        check_rng(self.seed, "FixedProb")

    def build(self, pre_size, post_size=None):
        if not self.counter_based:
            return super().build(pre_size, post_size)
        return generated(self, pre_size, post_size, prob=self.prob)

    def build_coo(self, pre_size, post_size):
        n_pre, n_post = math.prod(pre_size), math.prod(post_size)
        m = n_pre * n_post
        if m > 1 << 62:
            raise SynbenchError(f"FixedProb cannot index {n_pre} x {n_post} neuron pairs (> 2**62)")
        drop = excludes_self(self.include_self, n_pre, n_post)
        if self.prob == 0.0:
            return empty_coo()
        if self.prob == 1.0:
            check_fits(n_pairs(n_pre, n_post, drop), "FixedProb(1.0)", n_pre, n_post)
            return all_pairs(n_pre, n_post, drop)
        expected = self.prob * n_pairs(n_pre, n_post, drop)
        check_fits(int(expected), "FixedProb", n_pre, n_post)
        # Room for 8 standard deviations above the mean; growing is a rare fallback.
        capacity = int(min(m, expected + 8 * math.sqrt(expected) + 64))
        out = _Growable(capacity, index_dtype(n_pre, n_post, capacity))
        rng = np.random.default_rng(self.seed)
        for pos in bernoulli_chunks(rng, m, self.prob):
            pre = pos // n_post  # far faster than np.divmod
            post = pos - pre * n_post
            if drop:
                keep = pre != post
                pre, post = pre[keep], post[keep]
            out.extend(pre, post)
        return out.arrays()


class _Growable:
    """Two preallocated index arrays filled chunk by chunk (no list of chunks to join)."""

    def __init__(self, capacity: int, dtype):
        self.pre = np.empty(capacity, dtype=dtype)
        self.post = np.empty(capacity, dtype=dtype)
        self.n = 0

    def extend(self, pre, post):
        end = self.n + len(pre)
        if end > len(self.pre):
            room = np.empty(max(end, 2 * len(self.pre)) - self.n, dtype=self.pre.dtype)
            self.pre = np.concatenate([self.pre[: self.n], room])
            self.post = np.concatenate([self.post[: self.n], room])
        self.pre[self.n:end] = pre
        self.post[self.n:end] = post
        self.n = end

    def arrays(self):
        return self.pre[: self.n], self.post[: self.n]


def distinct_rows(rng, n_rows: int, num: int, n_src: int, skip_diagonal: bool, dtype):
    """(n_rows, num): each row ``num`` distinct values of range(n_src), sorted, uniformly.

    With ``skip_diagonal``, row r never holds r. Few picks per row: draw with
    replacement and redraw repeats until none are left (each round touches only the
    rows that still repeat). Many picks per row: the ``num`` smallest of n_src random
    keys. Both are uniform over subsets: every step treats all values alike.
    """
    n_avail = n_src - int(skip_diagonal)
    if num == 0:
        return np.empty((n_rows, 0), dtype=dtype)
    if 2 * num <= n_avail:
        out = rng.integers(0, n_avail, size=(n_rows, num), dtype=dtype)
        out.sort(axis=1)
        rows = np.flatnonzero((out[:, 1:] == out[:, :-1]).any(axis=1))
        while rows.size:
            sub = out[rows]
            repeat = np.zeros(sub.shape, dtype=bool)
            repeat[:, 1:] = sub[:, 1:] == sub[:, :-1]
            sub[repeat] = rng.integers(0, n_avail, size=int(repeat.sum()), dtype=dtype)
            sub.sort(axis=1)
            out[rows] = sub
            rows = rows[(sub[:, 1:] == sub[:, :-1]).any(axis=1)]
    else:
        out = np.empty((n_rows, num), dtype=dtype)
        block = max(1, CHUNK // n_avail)
        for a in range(0, n_rows, block):
            keys = rng.random((min(block, n_rows - a), n_avail))
            pick = np.argpartition(keys, num - 1, axis=1)[:, :num]
            pick.sort(axis=1)
            out[a:a + block] = pick
    if skip_diagonal:  # values >= r move up by one, skipping r and keeping the order
        out += out >= np.arange(n_rows, dtype=dtype)[:, None]
    return out


def _check_enough(connector, n_src, skip, src_name, rows_name) -> None:
    who, num = type(connector).__name__, connector.num
    n_avail = n_src - int(skip)
    if num > n_avail:
        raise SynbenchError(
            f"{who}(num={num}) needs {num} distinct {src_name} neurons per {rows_name} neuron "
            f"but only {n_avail} are available ({src_name} group of {n_src}"
            f"{', less itself as include_self=False' if skip else ''}); lower num"
        )


def _fixed_num(connector, n_rows, n_src, rows_name, src_name, sizes):
    """Rows of ``connector.num`` distinct sources each, after checking there are enough."""
    who, num = type(connector).__name__, connector.num
    skip = excludes_self(connector.include_self, n_rows, n_src)
    _check_enough(connector, n_src, skip, src_name, rows_name)
    check_fits(n_rows * num, who, *sizes)
    dtype = index_dtype(n_rows, n_src, n_rows * num)
    return distinct_rows(np.random.default_rng(connector.seed), n_rows, num, n_src, skip, dtype)


def generated(connector, pre_size, post_size, **count) -> Connectivity:
    """The connectivity of a counter-based connector: its synapses generated on demand,
    row i from (seed, i) alone (``generated.RowGenerator``)."""
    pre = as_size(pre_size, "pre_size")
    post = pre if post_size is None else as_size(post_size, "post_size")
    n_pre, n_post = math.prod(pre), math.prod(post)
    skip = excludes_self(connector.include_self, n_pre, n_post)
    generator = RowGenerator(n_pre, n_post, key_of(connector.seed), skip,
                             who=type(connector).__name__, **count)
    return Connectivity.generated(pre, post, generator)


@dataclass(frozen=True, eq=False)
class FixedPreNum(Connector):
    """Each post neuron receives exactly ``num`` distinct pre neurons (fixed in-degree).

    >>> conn = FixedPreNum(3, seed=0).build(10, 5)
    >>> np.bincount(conn.post_ids).tolist()
    [3, 3, 3, 3, 3]
    """

    num: int
    include_self: bool = True
    seed: Any = None

    def __post_init__(self):
        object.__setattr__(self, "num", check_count(self.num, "FixedPreNum's num"))
        check_rng(self.seed, "FixedPreNum")

    def build_coo(self, pre_size, post_size):
        n_pre, n_post = math.prod(pre_size), math.prod(post_size)
        rows = _fixed_num(self, n_post, n_pre, "post", "pre", (n_pre, n_post))
        # Rows are posts: a canonical CSC. Transposing it gives the canonical CSR.
        dtype = rows.dtype
        indptr = np.arange(n_post + 1, dtype=np.int64) * self.num
        indptr, post_ids, _ = transpose_compressed(indptr.astype(dtype), rows.ravel(), n_pre)
        return np.repeat(np.arange(n_pre, dtype=dtype), np.diff(indptr)), post_ids


@dataclass(frozen=True, eq=False)
class FixedPostNum(Connector):
    """Each pre neuron projects to exactly ``num`` distinct post neurons (fixed out-degree).

    >>> conn = FixedPostNum(2, seed=0).build(4, 10)
    >>> np.bincount(conn.pre_ids).tolist()
    [2, 2, 2, 2]
    """

    num: int
    include_self: bool = True
    seed: Any = None
    counter_based: bool = False

    def __post_init__(self):
        object.__setattr__(self, "num", check_count(self.num, "FixedPostNum's num"))
        check_rng(self.seed, "FixedPostNum")

    def build(self, pre_size, post_size=None):
        if not self.counter_based:
            return super().build(pre_size, post_size)
        n_pre, n_post = (math.prod(as_size(s)) for s in (pre_size, post_size or pre_size))
        _check_enough(self, n_post, excludes_self(self.include_self, n_pre, n_post), "post", "pre")
        return generated(self, pre_size, post_size, num=self.num)

    def build_coo(self, pre_size, post_size):
        n_pre, n_post = math.prod(pre_size), math.prod(post_size)
        rows = _fixed_num(self, n_pre, n_post, "pre", "post", (n_pre, n_post))
        pre_ids = np.repeat(np.arange(n_pre, dtype=rows.dtype), self.num)
        return pre_ids, rows.ravel()


@dataclass(frozen=True, eq=False)
class GaussianProb(Connector):
    """Distance-dependent connections between neurons on one 2-D grid.

    Neurons at grid distance d connect with probability ``exp(-d**2 / (2 sigma**2))``,
    set to 0 where it falls below ``p_min`` (which bounds the neighbourhood, and so
    the cost). ``periodic_boundary`` measures distances on a torus. A 1-D size n is
    read as a (1, n) grid. Cost: O(n_syn) plus one vector step per offset within
    the cut-off radius.

    >>> conn = GaussianProb(sigma=1.0, p_min=0.5, seed=0).build((10, 10))
    >>> int(conn.require("conn_mat").diagonal().sum())  # p = 1 at distance 0
    100
    """

    sigma: float
    p_min: float = 0.0
    include_self: bool = True
    periodic_boundary: bool = False
    seed: Any = None

    def __post_init__(self):
        s = self.sigma
        if not (isinstance(s, numbers.Real) and not isinstance(s, bool) and 0 < s < math.inf):
            raise SynbenchError(f"GaussianProb's sigma must be a positive finite width, not {s!r}")
        object.__setattr__(self, "sigma", float(s))
        object.__setattr__(self, "p_min", check_prob(self.p_min, "GaussianProb's p_min"))
        check_rng(self.seed, "GaussianProb")

    def build_coo(self, pre_size, post_size):
        shape = grid_shape(pre_size, post_size, "GaussianProb")
        # Beyond this radius p < p_min: never build those offsets at all.
        radius = math.inf
        if self.p_min > 0:
            radius = math.sqrt(-2 * self.sigma**2 * math.log(self.p_min))
        dy, dx = np.meshgrid(*(self._displacements(n, radius) for n in shape), indexing="ij")
        d2 = (dy**2 + dx**2).ravel()
        prob = np.exp(-d2 / (2 * self.sigma**2))
        keep = (prob >= self.p_min) & (prob > 0) & ((d2 > 0) | self.include_self)
        dy, dx = dy.ravel()[keep], dx.ravel()[keep]
        if self.periodic_boundary:
            dy, dx = dy % shape[0], dx % shape[1]
        offsets = list(zip(dy.tolist(), dx.tolist(), strict=True))
        rng = np.random.default_rng(self.seed)
        return offset_pairs(shape, offsets, prob[keep], self.periodic_boundary, rng)

    def _displacements(self, n: int, radius: float) -> np.ndarray:
        """Signed displacements along an axis of n cells: each distinct neighbour once."""
        if self.periodic_boundary:  # residues 0..n-1, each at its shorter way round
            d = np.arange(n)
            d = np.where(d <= n // 2, d, d - n)
        else:
            d = np.arange(-(n - 1), n)
        return d[np.abs(d) <= radius]
