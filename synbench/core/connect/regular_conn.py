"""Deterministic connectors: All2All, One2One and the grid neighbourhoods."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import SynbenchError
from .base import (
    Connector,
    all_pairs,
    check_count,
    check_fits,
    excludes_self,
    grid_shape,
    n_pairs,
    offset_pairs,
)


@dataclass(frozen=True, eq=False)
class All2All(Connector):
    """Every pre neuron connects to every post neuron.

    ``include_self=False`` drops pre i -> post i (when both groups have the same size).

    >>> All2All(include_self=False).build(3).n_syn
    6
    """

    include_self: bool = True

    def build_coo(self, pre_size, post_size):
        n_pre, n_post = math.prod(pre_size), math.prod(post_size)
        drop = excludes_self(self.include_self, n_pre, n_post)
        check_fits(n_pairs(n_pre, n_post, drop), "All2All", n_pre, n_post)
        return all_pairs(n_pre, n_post, drop)


@dataclass(frozen=True, eq=False)
class One2One(Connector):
    """Pre neuron i connects to post neuron i; both groups must have the same size.

    >>> One2One().build(4).post_ids.tolist()
    [0, 1, 2, 3]
    """

    def build_coo(self, pre_size, post_size):
        n_pre, n_post = math.prod(pre_size), math.prod(post_size)
        if n_pre != n_post:
            raise SynbenchError(
                f"One2One needs groups of the same size, not {n_pre} pre and {n_post} post "
                "neurons; use IJConn for a partial one-to-one map"
            )
        ids = np.arange(n_pre)
        return ids, ids


class _Grid(Connector):
    """Neighbourhoods on one 2-D grid; subclasses say which offsets are neighbours.

    Subclasses hold ``include_self`` and ``periodic_boundary``. A 1-D size ``n`` is read
    as a (1, n) grid (a chain, a ring when periodic).
    """

    def neighbours(self) -> list[tuple[int, int]]:
        raise NotImplementedError

    def build_coo(self, pre_size, post_size):
        height, width = grid_shape(pre_size, post_size, type(self).__name__)
        offsets = set(self.neighbours()) | {(0, 0)}
        if self.periodic_boundary:
            # On a small torus two offsets can reach the same neighbour: keep one.
            offsets = {(dy % height, dx % width) for dy, dx in offsets}
        if not self.include_self:
            offsets.discard((0, 0))
        offsets = sorted(offsets)
        return offset_pairs(
            (height, width), offsets, [1.0] * len(offsets), self.periodic_boundary
        )


@dataclass(frozen=True, eq=False)
class GridFour(_Grid):
    """Each neuron connects to its 4 nearest grid neighbours (up, down, left, right).

    >>> GridFour().build((3, 3)).require("pre2post")[4].tolist()
    [1, 3, 5, 7]
    """

    include_self: bool = False
    periodic_boundary: bool = False

    def neighbours(self):
        return [(-1, 0), (1, 0), (0, -1), (0, 1)]


@dataclass(frozen=True, eq=False)
class GridEight(_Grid):
    """Each neuron connects to its 8 surrounding grid neighbours (a 3 x 3 block).

    >>> GridEight().build((3, 3)).require("pre2post")[4].size
    8
    """

    include_self: bool = False
    periodic_boundary: bool = False

    def neighbours(self):
        return [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]


@dataclass(frozen=True, eq=False)
class GridN(_Grid):
    """Each neuron connects to the (2N+1) x (2N+1) block around it (radius N).

    >>> GridN(N=2).build((5, 5)).require("pre2post")[12].size
    24
    """

    N: int = 1
    include_self: bool = False
    periodic_boundary: bool = False

    def __post_init__(self):
        if check_count(self.N, "GridN's N") == 0:
            raise SynbenchError("GridN's N must be a positive integer radius, not 0")

    def neighbours(self):
        r = range(-self.N, self.N + 1)
        return [(dy, dx) for dy in r for dx in r]
