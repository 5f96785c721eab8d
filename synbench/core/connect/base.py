"""The connector base class and the checks every connector shares.

A connector implements one method, :meth:`Connector.build_coo`, returning
``(pre_ids, post_ids)`` or ``(pre_ids, post_ids, weights)`` in any order (the weights
alongside their synapses); :meth:`Connector.build` validates the sizes and wraps the
result in a :class:`Connectivity`, which sorts it and derives every other structure.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import SynbenchError
from .structures import Connectivity, as_size, available_memory, format_bytes, index_dtype


class Connector:
    """Base class of every connector: subclasses implement :meth:`build_coo` only."""

    #: Whether build_coo returns the synapses in an order the caller chose (IJConn's i, j),
    #: so that the Connectivity records it (``order``); other connectors' order is their own.
    callers_order = False
    #: Whether build_coo may return several synapses between one (pre, post) pair
    #: (multapses); the Connectivity refuses repeated pairs otherwise.
    multapses = False

    def build(self, pre_size, post_size=None) -> Connectivity:
        """Connect ``pre_size`` to ``post_size`` neurons (``post_size`` defaults to ``pre_size``).

        A size is an int or a geometry tuple such as ``(height, width)``.

        >>> from synbench.core.connect import FixedProb
        >>> conn = FixedProb(0.1, seed=0).build(100, 50)
        >>> conn.n_pre, conn.n_post
        (100, 50)
        """
        pre = as_size(pre_size, "pre_size")
        post = pre if post_size is None else as_size(post_size, "post_size")
        coo = self.build_coo(pre, post)
        if not isinstance(coo, (tuple, list)) or len(coo) not in (2, 3):
            raise SynbenchError(
                f"{type(self).__name__}.build_coo must return (pre_ids, post_ids) or "
                f"(pre_ids, post_ids, weights), not {type(coo).__name__}"
                + (f" of length {len(coo)}" if isinstance(coo, (tuple, list)) else "")
            )
        weights = coo[2] if len(coo) == 3 else None
        return Connectivity(pre, post, coo[0], coo[1], weights, copy=False,
                            record_order=self.callers_order, multapses=self.multapses)

    def build_coo(self, pre_size: tuple[int, ...], post_size: tuple[int, ...]):
        """``(pre_ids, post_ids)`` of every synapse, each pair once (unless the connector
        allows ``multapses``), in any order, or
        ``(pre_ids, post_ids, weights)`` with one weight per synapse in the same order."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_coo")


# --- shared checks and helpers ---------------------------------------------------------


def check_prob(p, what: str = "prob") -> float:
    """``p`` as a float in [0, 1], else a SynbenchError."""
    ok = isinstance(p, numbers.Real) and not isinstance(p, bool) and 0.0 <= float(p) <= 1.0
    if not ok:  # NaN fails the comparison too
        raise SynbenchError(f"{what} must be a probability in [0, 1], not {p!r}")
    return float(p)


def check_count(num, what: str = "num") -> int:
    """``num`` as a non-negative int, else a SynbenchError."""
    if not isinstance(num, numbers.Integral) or isinstance(num, bool) or num < 0:
        raise SynbenchError(f"{what} must be a non-negative integer, not {num!r}")
    return int(num)


def check_rng(seed, who: str):
    """Fail early (at construction, not build) on a seed default_rng cannot use."""
    try:
        np.random.default_rng(seed)
    except (TypeError, ValueError) as e:
        raise SynbenchError(
            f"{who}: seed must be None, a non-negative int, a SeedSequence or a Generator, "
            f"not {seed!r}"
        ) from e


def excludes_self(include_self: bool, n_pre: int, n_post: int) -> bool:
    """Whether to drop pre i -> post i. Only when both groups have the same size:
    between groups of different sizes no neuron can meet itself, so include_self is moot."""
    return not include_self and n_pre == n_post


def check_fits(n_syn: int, who: str, n_pre: int, n_post: int) -> None:
    """Refuse, before allocating, a synapse count whose COO would not fit in memory."""
    need = 2 * n_syn * index_dtype(n_pre, n_post, n_syn).itemsize
    free = available_memory()
    if need > free:
        raise SynbenchError(
            f"{who} between {n_pre} and {n_post} neurons makes {n_syn} synapses, which need "
            f"{format_bytes(need)} but only {format_bytes(free)} is available; use fewer "
            "neurons or a sparser connector"
        )


def grid_shape(pre_size, post_size, who: str) -> tuple[int, int]:
    """The (height, width) shared by pre and post; a 1-D size n is read as (1, n)."""
    shapes = [(1, *s) if len(s) == 1 else s for s in (pre_size, post_size)]
    if any(len(s) != 2 for s in shapes):
        raise SynbenchError(
            f"{who} needs 2-D geometries (height, width) or an int n (read as (1, n)); "
            f"got pre_size {pre_size} and post_size {post_size}"
        )
    if shapes[0] != shapes[1]:
        raise SynbenchError(
            f"{who} connects neurons on one grid: pre_size {pre_size} and post_size "
            f"{post_size} must be the same geometry"
        )
    return shapes[0]


def all_pairs(n_pre: int, n_post: int, drop_self: bool):
    """Every (pre, post) pair in canonical order, optionally without pre == post."""
    dtype = index_dtype(n_pre, n_post, n_pre * n_post)
    pre = np.repeat(np.arange(n_pre, dtype=dtype), n_post)
    post = np.tile(np.arange(n_post, dtype=dtype), n_pre)
    if drop_self:
        keep = pre != post
        pre, post = pre[keep], post[keep]
    return pre, post


def n_pairs(n_pre: int, n_post: int, drop_self: bool) -> int:
    return n_pre * n_post - (min(n_pre, n_post) if drop_self else 0)


def empty_coo():
    return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int32)


# --- random and geometric building blocks ----------------------------------------------

CHUNK = 1 << 20  # draws per chunk: small temporaries stay in cache and avoid fresh mmaps


def bernoulli_chunks(rng, m: int, p: float, chunk: int = CHUNK):
    """Yield sorted int64 chunks of the positions in [0, m) kept by iid Bernoulli(p).

    The gaps between kept positions are iid Geometric(p), so drawing gaps and summing
    them costs O(kept) time and memory, not O(m). The gap stream is the same whatever
    the chunk size, so the result depends on the seed alone.
    """
    if m <= 0 or p <= 0.0:
        return
    if p >= 1.0:
        for a in range(0, m, chunk):
            yield np.arange(a, min(a + chunk, m), dtype=np.int64)
        return
    # A gap is clipped to m + 1 (still past the end) so a chunk's sum stays below 2**63.
    max_draws = max(1, (1 << 62) // (m + 1))
    last = -1
    while True:
        expected = (m - 1 - last) * p
        gaps = rng.geometric(p, int(min(chunk, max_draws, expected + 6 * math.sqrt(expected) + 16)))
        np.minimum(gaps, m + 1, out=gaps)
        pos = np.cumsum(gaps, out=gaps)
        pos += last
        if pos[-1] >= m:
            yield pos[: np.searchsorted(pos, m)]
            return
        yield pos
        last = int(pos[-1])


def offset_pairs(shape, offsets, probs, periodic: bool, rng=None):
    """(pre, post) on one (height, width) grid, post = pre displaced by an offset.

    Each (dy, dx) in ``offsets`` links every neuron at (r, c) to (r + dy, c + dx): wrapped
    around when ``periodic``, else only where the target lies on the grid; each such
    pair is kept with probability ``probs[k]``. Distinct offsets (distinct modulo the
    shape when periodic) give distinct pairs.
    """
    height, width = shape
    pres, posts = [], []
    for (dy, dx), q in zip(offsets, probs, strict=True):
        if periodic:
            r0, r1, c0, c1 = 0, height, 0, width
        else:
            r0, r1 = max(0, -dy), min(height, height - dy)
            c0, c1 = max(0, -dx), min(width, width - dx)
        if r0 >= r1 or c0 >= c1:
            continue
        w = c1 - c0
        chunks = list(bernoulli_chunks(rng, (r1 - r0) * w, float(q)))
        if not chunks:
            continue
        t = np.concatenate(chunks)
        r, c = r0 + t // w, c0 + t % w
        pres.append(r * width + c)
        posts.append(((r + dy) % height) * width + (c + dx) % width)
    if not pres:
        return empty_coo()
    return np.concatenate(pres), np.concatenate(posts)
