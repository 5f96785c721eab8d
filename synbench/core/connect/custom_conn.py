"""Connectors from user data: IJConn (index pairs) and MatConn (a dense matrix)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import SynbenchError
from .base import Connector


def _as_index_array(values, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise SynbenchError(
            f"IJConn's {what} must be a 1-D sequence of neuron indices, not shape {arr.shape}"
        )
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise SynbenchError(
            f"IJConn's {what} must hold integer neuron indices, not {arr.dtype} values"
        )
    if arr.min() < 0:
        raise SynbenchError(f"IJConn's {what} must be non-negative; found {arr.min()}")
    return arr


@dataclass(frozen=True, eq=False)
class IJConn(Connector):
    """Synapse k connects pre ``i[k]`` to post ``j[k]``; pairs may come in any order.

    Each pair may appear once, unless ``multapses=True``: then a pair may have several
    synapses (each with its own weight and delay), which keep the order they were given
    in among themselves. Indices must lie within the sizes given to ``build``.
    Pairs out of canonical order are sorted, and the Connectivity keeps the permutation
    (``order``): per-synapse weights in the order of i, j go through
    ``conn, w = conn.canonical(w)``.

    >>> IJConn([2, 0], [1, 1]).build(3, 2).pre_ids.tolist()
    [0, 2]
    >>> IJConn([1, 0, 1], [0, 1, 0], multapses=True).build(2).order.tolist()
    [1, 0, 2]
    """

    callers_order = True
    i: np.ndarray = field(repr=False)
    j: np.ndarray = field(repr=False)
    multapses: bool = False

    def __post_init__(self):
        i, j = _as_index_array(self.i, "i"), _as_index_array(self.j, "j")
        if len(i) != len(j):
            raise SynbenchError(
                f"IJConn needs one pre index i and one post index j per synapse: "
                f"got {len(i)} i and {len(j)} j"
            )
        if not isinstance(self.multapses, (bool, np.bool_)):
            raise SynbenchError(f"IJConn's multapses must be True or False, not "
                                f"{self.multapses!r}")
        object.__setattr__(self, "i", i)
        object.__setattr__(self, "j", j)
        object.__setattr__(self, "multapses", bool(self.multapses))

    def __repr__(self) -> str:
        return f"IJConn(<{len(self.i)} pairs>{', multapses=True' if self.multapses else ''})"

    def build_coo(self, pre_size, post_size):
        sides = ((self.i, pre_size, "i", "pre"), (self.j, post_size, "j", "post"))
        for ids, size, what, side in sides:
            n = math.prod(size)
            if ids.size and ids.max() >= n:
                raise SynbenchError(
                    f"IJConn's {what} holds index {ids.max()}, out of range for a {side} group "
                    f"of {n} neurons (valid: 0 to {n - 1}); build with a larger {side}_size"
                )
        return self.i, self.j


@dataclass(frozen=True, eq=False)
class MatConn(Connector):
    """Synapses where the (n_pre, n_post) matrix ``mat`` is non-zero (or True).

    >>> MatConn(np.eye(3, dtype=bool)).build(3).n_syn
    3
    """

    mat: np.ndarray = field(repr=False)

    def __post_init__(self):
        mat = np.asarray(self.mat)
        if mat.ndim != 2:
            raise SynbenchError(
                f"MatConn needs a 2-D (n_pre, n_post) matrix, not shape {mat.shape}"
            )
        if mat.dtype.kind not in "biuf":
            raise SynbenchError(f"MatConn needs a bool or numeric matrix, not {mat.dtype}")
        if mat.dtype.kind == "f" and not np.isfinite(mat).all():
            i, j = np.argwhere(~np.isfinite(mat))[0].tolist()
            raise SynbenchError(
                f"MatConn's matrix holds {mat[i, j]} at ({i}, {j}): NaN or inf says neither "
                "synapse nor none; use 0 (or False) for no synapse and a finite non-zero value "
                "for a synapse"
            )
        object.__setattr__(self, "mat", mat)

    def __repr__(self) -> str:
        return f"MatConn(<{self.mat.shape[0]} x {self.mat.shape[1]} matrix>)"

    def build_coo(self, pre_size, post_size):
        shape = (math.prod(pre_size), math.prod(post_size))
        if self.mat.shape != shape:
            raise SynbenchError(
                f"MatConn's matrix has shape {self.mat.shape} but the groups need {shape} "
                f"(n_pre, n_post); build with pre_size={self.mat.shape[0]}, "
                f"post_size={self.mat.shape[1]}"
            )
        return np.nonzero(self.mat)  # row-major: already in canonical order
