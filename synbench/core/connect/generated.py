"""Counter-based connectivity: the targets of pre neuron i from (key, i) alone.

A random connector usually draws all its synapses from one stream of random numbers,
so the targets of pre neuron i depend on every draw before them. Here they depend on
(key, i) only, through integer arithmetic that every backend computes identically. The
same synapses can then be stored (``Connectivity.require``) or regenerated on the fly
for each spike and never stored (the ``procedural`` strategy, GeNN's procedural
connectivity), and the two cross-checked.

Row i of a :class:`RowGenerator`, exactly (every backend's kernel follows these lines;
``mix`` is a 32-bit integer hash, all arithmetic modulo 2**32):

1. its key: ``row_key = mix(mix(i ^ key0) ^ key1)``;
2. its synapse count: a fixed ``num`` (FixedPostNum), or (FixedProb) the binomial count
   looked up by inverse CDF: ``u = mix(row_key ^ COUNT_STREAM)``, count = ``count_lo``
   plus the number of entries of ``count_table`` (the binomial CDF times 2**32, from
   ``count_lo`` on) that are <= u;
3. its targets: the first ``count`` values of a pseudo-random permutation of the
   ``n_avail`` candidates (``n_post``, less one without self-connections): k -> a
   4-round Feistel network on ``2 * half_bits`` bits keyed by ``row_key`` (round r
   adds ``mix(row_key + r * GOLDEN)``), applied again while the value is >= n_avail
   (cycle walking, which keeps it a permutation of [0, n_avail));
4. without self-connections a target t >= i moves up by one.

A binomial count and then a uniform subset of that size is FixedProb's distribution
(each pair independently with probability p), up to the count's tails below 2**-32;
a fixed count and a uniform subset is FixedPostNum's. Cost per row: O(count) hashes.
"""

from __future__ import annotations

import numpy as np

from ..errors import SynbenchError

MASK32 = 0xFFFFFFFF
MIX_MULTIPLIERS = (0x21F0AAAD, 0x735A2D97)
COUNT_STREAM = 0x68E31DA4
GOLDEN = 0x9E3779B9
ROUNDS = 4
#: Rows of generated synapses per chunk when building the stored form.
_ROW_CHUNK = 1 << 14


def mix(x):
    """A 32-bit integer hash (low-bias xor-shift-multiply), on uint64 arrays or ints."""
    x = x ^ (x >> 16)
    x = (x * MIX_MULTIPLIERS[0]) & MASK32
    x = x ^ (x >> 15)
    x = (x * MIX_MULTIPLIERS[1]) & MASK32
    return x ^ (x >> 15)


def half_bits(n_avail: int) -> int:
    """Half the bits of the Feistel domain: the smallest even width holding n_avail - 1."""
    return max(1, -(-max(int(n_avail) - 1, 1).bit_length() // 2))


class RowGenerator:
    """The synapses of a counter-based FixedProb or FixedPostNum, row by row.

    ``count_table`` is None for a fixed count ``num``. Build one through the connector
    (``FixedProb(p, seed=s).build(n)``), not by hand.
    """

    def __init__(self, n_pre, n_post, key, skip_self, *, num=None, prob=None, who=""):
        if n_pre > MASK32 or n_post > MASK32:
            raise SynbenchError(f"{who} generates synapses for groups of up to 2**32 neurons, "
                                f"not {n_pre} x {n_post}")
        self.n_pre, self.n_post, self.who = int(n_pre), int(n_post), who
        self.key0, self.key1 = int(key[0]) & MASK32, int(key[1]) & MASK32
        self.skip_self = bool(skip_self)
        self.n_avail = self.n_post - int(self.skip_self)
        self.half_bits = half_bits(self.n_avail)
        self.num = num
        self.prob = prob
        self.count_lo, self.count_table = 0, None
        if num is None:
            self.count_lo, self.count_table = binomial_table(self.n_avail, prob)
        self._counts = None

    # --- the arithmetic of the module docstring, vectorised over uint64 arrays ---

    def row_keys(self, rows):
        rows = np.asarray(rows, dtype=np.uint64)
        return mix(mix(rows ^ np.uint64(self.key0)) ^ np.uint64(self.key1))

    def row_counts(self, rows) -> np.ndarray:
        """The synapse count of each of ``rows`` (int64)."""
        if self.num is not None:
            return np.full(len(rows), self.num, dtype=np.int64)
        u = mix(self.row_keys(rows) ^ np.uint64(COUNT_STREAM))
        table = self.count_table.astype(np.uint64)
        return self.count_lo + np.searchsorted(table, u, "right").astype(np.int64)

    def counts(self) -> np.ndarray:
        """The synapse count of every row (int64, read-only; computed once)."""
        if self._counts is None:
            counts = np.empty(self.n_pre, dtype=np.int64)
            for a in range(0, self.n_pre, 1 << 20):
                rows = np.arange(a, min(a + (1 << 20), self.n_pre), dtype=np.uint64)
                counts[a:a + len(rows)] = self.row_counts(rows)
            counts.flags.writeable = False
            self._counts = counts
        return self._counts

    @property
    def n_syn(self) -> int:
        return int(self.counts().sum())

    def targets(self, rows, ks) -> np.ndarray:
        """The k-th target of each row (``rows`` and ``ks`` of one length), int64."""
        rows = np.asarray(rows, dtype=np.uint64)
        row_keys = self.row_keys(rows)
        round_keys = [mix((row_keys + np.uint64(r * GOLDEN)) & np.uint64(MASK32))
                      for r in range(ROUNDS)]
        x = np.asarray(ks, dtype=np.uint64).copy()
        walking = np.ones(len(x), dtype=bool)
        while walking.any():
            idx = np.flatnonzero(walking)
            x[idx] = self._feistel(x[idx], [k[idx] for k in round_keys])
            walking[idx] = x[idx] >= np.uint64(self.n_avail)
        t = x.astype(np.int64)
        if self.skip_self:
            t += t >= rows.astype(np.int64)
        return t

    def _feistel(self, x, round_keys):
        h = np.uint64(self.half_bits)
        half = np.uint64((1 << self.half_bits) - 1)
        left, right = x >> h, x & half
        for k in round_keys:
            left, right = right, left ^ (mix(right ^ k) & half)
        return (left << h) | right

    # --- the stored form ---

    def coo(self, dtype) -> tuple[np.ndarray, np.ndarray]:
        """Every synapse in canonical (pre, post) order, as ``dtype`` index arrays."""
        counts = self.counts()
        n_syn = int(counts.sum())
        pre = np.repeat(np.arange(self.n_pre, dtype=dtype), counts)
        post = np.empty(n_syn, dtype=dtype)
        starts = np.concatenate([[0], np.cumsum(counts)])
        for a in range(0, self.n_pre, _ROW_CHUNK):
            b = min(a + _ROW_CHUNK, self.n_pre)
            s, e = int(starts[a]), int(starts[b])
            rows = pre[s:e]
            ks = np.arange(e - s, dtype=np.int64) - np.repeat(starts[a:b] - s, counts[a:b])
            key = rows.astype(np.int64) * self.n_post + self.targets(rows, ks)
            key.sort()
            post[s:e] = key - rows.astype(np.int64) * self.n_post
        return pre, post

    def __repr__(self) -> str:
        kind = f"num={self.num}" if self.num is not None else f"prob={self.prob}"
        return f"RowGenerator({self.who}, {self.n_pre} x {self.n_post}, {kind})"


def binomial_table(n: int, p: float) -> tuple[int, np.ndarray]:
    """``(lo, table)``: table[c] = floor(2**32 * P(X <= lo + c)) for X ~ Binomial(n, p),
    over the counts whose probability the 32-bit uniform can resolve."""
    from scipy import stats

    if n == 0 or p == 0.0:
        return 0, np.empty(0, dtype=np.uint32)
    if p == 1.0:
        return n, np.empty(0, dtype=np.uint32)
    dist = stats.binom(n, p)
    lo = max(int(dist.ppf(2.0**-40)) - 1, 0)
    hi = min(int(dist.isf(2.0**-40)) + 1, n)
    cdf = dist.cdf(np.arange(lo, hi))
    table = np.minimum(np.floor(cdf * 2.0**32), MASK32).astype(np.uint32)
    # An entry of 0 is counted for every u: the counts below the first nonzero entry
    # never occur, so start there.
    first = int(np.searchsorted(table, 1, "left"))
    lo += first
    return lo, table[first:]


def key_of(seed) -> tuple[int, int]:
    """Two 32-bit keys from a connector's seed (None draws fresh entropy)."""
    words = np.random.default_rng(seed).integers(0, 1 << 32, size=2, dtype=np.uint64)
    return int(words[0]), int(words[1])


def expected_rounds(n_avail: int) -> float:
    """The mean number of Feistel passes per target (the cycle walk's cost factor)."""
    return (1 << (2 * half_bits(n_avail))) / max(n_avail, 1) if n_avail else 0.0


__all__ = ["RowGenerator", "binomial_table", "expected_rounds", "key_of", "mix"]
