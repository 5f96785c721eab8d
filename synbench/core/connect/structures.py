"""The structure vocabulary and :class:`Connectivity`.

A connectivity is stored once, as COO in pre-major order (``pre_ids``, ``post_ids``
sorted by (pre, post)). Every other structure is derived on request by walking
``CONVERTERS``, a table of small pure functions (one per edge of the derivation graph),
and cached. Cached arrays are read-only, so a kernel cannot corrupt a structure that
another kernel shares.
"""

from __future__ import annotations

import difflib
import math
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

from ..errors import SynbenchError

CONN_MAT = "conn_mat"
PRE_IDS = "pre_ids"
POST_IDS = "post_ids"
PRE2SYN = "pre2syn"
POST2SYN = "post2syn"
PRE2POST = "pre2post"
POST2PRE = "post2pre"
PRE_SLICE = "pre_slice"
POST_SLICE = "post_slice"
POST_ORDER = "post_order"
CSR = "csr"
CSC = "csc"
ELL = "ell"

#: Every structure a :class:`Connectivity` can provide, in the order of DESIGN section 2.
STRUCTURES = (
    CONN_MAT, PRE_IDS, POST_IDS, PRE2SYN, POST2SYN, PRE2POST, POST2PRE,
    PRE_SLICE, POST_SLICE, POST_ORDER, CSR, CSC, ELL,
)

_INT32_MAX = np.iinfo(np.int32).max
_CHUNK = 1 << 20  # elements per chunk when scanning large arrays, to bound temporaries
_FORMAT_VERSION = 1
_FILE_KEYS = ("format_version", "pre_size", "post_size", "pre_ids", "post_ids")


# --- memory ---------------------------------------------------------------------------


def available_memory() -> int:
    """Bytes of memory this process can still allocate, as far as the OS says.

    ``MemAvailable`` from ``/proc/meminfo``, else ``os.sysconf`` free pages, capped by
    a cgroup v2 limit when one applies (containers). ``sys.maxsize`` when unknown.

    >>> available_memory() > 0
    True
    """
    avail = _meminfo_available() or _sysconf_available() or sys.maxsize
    cgroup = _cgroup_available()
    return min(avail, cgroup) if cgroup is not None else avail


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _sysconf_available() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def _cgroup_available() -> int | None:
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        return max(int(limit) - used, 0)
    except (OSError, ValueError):
        return None


def format_bytes(n: int) -> str:
    """``n`` bytes in human units, e.g. ``'1.5 GB'``."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


# --- sizes and index dtype ------------------------------------------------------------


def as_size(size, what: str = "size") -> tuple[int, ...]:
    """A neuron-group size as a geometry tuple: ``5 -> (5,)``, ``(4, 5) -> (4, 5)``.

    Raises :class:`SynbenchError` unless every entry is a positive integer.

    >>> as_size((4, 5))
    (4, 5)
    """
    dims = size if isinstance(size, (tuple, list)) else (size,)
    ok = len(dims) > 0 and all(
        isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_)) and d > 0
        for d in dims
    )
    if not ok:
        raise SynbenchError(
            f"{what} must be a positive integer or a tuple of positive integers "
            f"(a geometry such as (height, width)), not {size!r}"
        )
    return tuple(int(d) for d in dims)


def index_dtype(n_pre: int, n_post: int, n_syn: int) -> np.dtype:
    """int32 while every neuron and synapse index (and the pad value n_post) fits, else int64."""
    return np.dtype(np.int32 if max(n_pre, n_post, n_syn) <= _INT32_MAX else np.int64)


def _readonly(a: np.ndarray) -> np.ndarray:
    # A read-only *view*, so the caller's own array keeps its flags.
    view = a.view()
    view.flags.writeable = False
    return view


# --- converters: one small pure function per edge -------------------------------------


def sorted_ids_to_slice(ids: np.ndarray, n: int) -> np.ndarray:
    """[start, end) of each id's run in ``ids`` sorted ascending: (n, 2)."""
    # searchsorted on sorted ids avoids bincount's int64 copy of all n_syn ids.
    out = np.empty((n, 2), dtype=ids.dtype)
    out[:, 0] = np.searchsorted(ids, np.arange(n, dtype=ids.dtype))
    out[:-1, 1] = out[1:, 0]
    out[-1, 1] = len(ids)
    return out


def ids_to_slice(ids: np.ndarray, n: int) -> np.ndarray:
    """[start, end) of each id's block once ``ids`` is (stably) sorted by id: (n, 2)."""
    counts = np.zeros(n, dtype=np.int64)
    for a in range(0, len(ids), _CHUNK):  # chunks bound bincount's int64 copy of the ids
        counts += np.bincount(ids[a:a + _CHUNK], minlength=n)
    out = np.empty((n, 2), dtype=ids.dtype)
    np.cumsum(counts, out=out[:, 1])
    np.subtract(out[:, 1], counts, out=out[:, 0], casting="unsafe")
    return out


def slice_to_compressed(slices: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, indices) from (n, 2) slices that tile [0, n_syn) in order."""
    indptr = np.append(slices[:, 0], slices[-1, 1]).astype(slices.dtype, copy=False)
    return indptr, indices


def transpose_compressed(indptr, indices, n_cols, data=None):
    """The (indptr, indices, data) of the transpose, in O(n_syn + n) (scipy's counting sort).

    Row indices come out ascending within each new row, so a canonical CSR turns into
    a canonical CSC and back.
    """
    from scipy import sparse

    n_rows = len(indptr) - 1
    if data is None:
        data = np.ones(len(indices), dtype=np.int8)
    t = sparse.csr_array((data, indices, indptr), shape=(n_rows, n_cols), copy=False).tocsc()
    dtype = indices.dtype
    return t.indptr.astype(dtype, copy=False), t.indices.astype(dtype, copy=False), t.data


def csr_to_post_order(csr, n_post: int) -> np.ndarray:
    """Canonical index of each synapse in post-major (post, pre) order."""
    indptr, indices = csr
    order = np.arange(len(indices), dtype=indices.dtype)
    return transpose_compressed(indptr, indices, n_post, data=order)[2]


def post_order_to_csc(post_slice, pre_ids, post_order) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, pre ids in post-major order)."""
    return slice_to_compressed(post_slice, pre_ids[post_order])


def split_by_slice(values: np.ndarray, slices: np.ndarray) -> list[np.ndarray]:
    """``[values[start:end] for each row of slices]``, as views."""
    return [values[s:e] for s, e in slices.tolist()]


def compressed_to_lists(compressed) -> list[np.ndarray]:
    """The indices of each compressed row as a list of views."""
    indptr, indices = compressed
    bounds = indptr.tolist()
    return [indices[s:e] for s, e in zip(bounds[:-1], bounds[1:], strict=True)]


def slice_to_ranges(slices: np.ndarray, n_syn: int) -> list[np.ndarray]:
    """``arange(start, end)`` for each row of slices, as views of one arange."""
    return split_by_slice(_readonly(np.arange(n_syn, dtype=slices.dtype)), slices)


def csr_to_ell(csr, n_post: int) -> np.ndarray:
    """Rows padded with ``n_post`` to the largest fan-out: (n_pre, max_fanout)."""
    indptr, indices = csr
    counts = np.diff(indptr)
    width = int(counts.max()) if len(counts) else 0
    out = np.full((len(counts), width), n_post, dtype=indices.dtype)
    # The row-major order of the mask is exactly the canonical synapse order.
    out[np.arange(width, dtype=indices.dtype) < counts[:, None]] = indices
    return out


def coo_to_conn_mat(pre_ids, post_ids, n_pre: int, n_post: int) -> np.ndarray:
    """Dense bool (n_pre, n_post) matrix, True where a synapse exists."""
    mat = np.zeros((n_pre, n_post), dtype=bool)
    mat[pre_ids, post_ids] = True
    return mat


#: structure -> (inputs, converter). Inputs name other structures or the scalars
#: n_pre, n_post, n_syn; ``require`` walks this table depth-first and caches each node.
CONVERTERS = {
    PRE_SLICE: ((PRE_IDS, "n_pre"), sorted_ids_to_slice),
    POST_SLICE: ((POST_IDS, "n_post"), ids_to_slice),
    CSR: ((PRE_SLICE, POST_IDS), slice_to_compressed),
    POST_ORDER: ((CSR, "n_post"), csr_to_post_order),
    CSC: ((POST_SLICE, PRE_IDS, POST_ORDER), post_order_to_csc),
    PRE2POST: ((CSR,), compressed_to_lists),
    POST2PRE: ((CSC,), compressed_to_lists),
    PRE2SYN: ((PRE_SLICE, "n_syn"), slice_to_ranges),
    POST2SYN: ((POST_ORDER, POST_SLICE), split_by_slice),
    ELL: ((CSR, "n_post"), csr_to_ell),
    CONN_MAT: ((PRE_IDS, POST_IDS, "n_pre", "n_post"), coo_to_conn_mat),
}
_SCALARS = ("n_pre", "n_post", "n_syn")

# A list of n views costs n Python objects on top of the shared data.
_VIEW_BYTES = sys.getsizeof(np.empty(2)[:1]) + 8

#: structure -> bytes it takes, from sizes alone (ell also needs the largest fan-out).
_NBYTES = {
    CONN_MAT: lambda c, b: c.n_pre * c.n_post,
    PRE_IDS: lambda c, b: c.n_syn * b,
    POST_IDS: lambda c, b: c.n_syn * b,
    POST_ORDER: lambda c, b: c.n_syn * b,
    PRE_SLICE: lambda c, b: 2 * c.n_pre * b,
    POST_SLICE: lambda c, b: 2 * c.n_post * b,
    CSR: lambda c, b: (c.n_pre + 1 + c.n_syn) * b,
    CSC: lambda c, b: (c.n_post + 1 + c.n_syn) * b,
    PRE2POST: lambda c, b: c.n_syn * b + c.n_pre * _VIEW_BYTES,
    PRE2SYN: lambda c, b: c.n_syn * b + c.n_pre * _VIEW_BYTES,
    POST2PRE: lambda c, b: c.n_syn * b + c.n_post * _VIEW_BYTES,
    POST2SYN: lambda c, b: c.n_syn * b + c.n_post * _VIEW_BYTES,
    ELL: lambda c, b: c.n_pre * c.max_fanout * b,
}

_ADVICE = {
    CONN_MAT: "use a sparse strategy instead (pre_slice or csr, which need only O(n_syn))",
    ELL: "one neuron's large fan-out pads every row; use pre_slice or csr instead",
}

assert set(CONVERTERS) | {PRE_IDS, POST_IDS} == set(STRUCTURES) == set(_NBYTES)


def _unknown(name) -> SynbenchError:
    close = difflib.get_close_matches(str(name), STRUCTURES, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return SynbenchError(
        f"unknown structure {name!r}{hint} (known: {', '.join(STRUCTURES)})"
    )


# --- Connectivity ---------------------------------------------------------------------


class Connectivity:
    """Synapses between ``n_pre`` and ``n_post`` neurons, every structure on request.

    Parameters
    ----------
    n_pre, n_post : int or tuple of int
        Group sizes, or geometries such as ``(height, width)`` (kept as ``pre_size``
        and ``post_size``; ``n_pre`` is their product).
    pre_ids, post_ids : array_like of int, [n_syn]
        Synapse k connects ``pre_ids[k] -> post_ids[k]``. Sorted by (pre, post) here
        if they are not already; a repeated pair is an error.
    copy : bool
        Copy the id arrays (default). With ``copy=False`` the arrays are used as they
        are when already canonical and of the index dtype: do not modify them after.

    Notes
    -----
    Indices are int32 while ``n_pre``, ``n_post`` and ``n_syn`` fit, else int64. Every
    structure (see ``STRUCTURES``) is returned read-only and cached after its first
    build; ``cached`` lists those built so far.

    Examples
    --------
    >>> conn = Connectivity(3, 2, [2, 0, 0], [1, 1, 0])
    >>> conn.pre_ids, conn.post_ids
    (array([0, 0, 2], dtype=int32), array([0, 1, 1], dtype=int32))
    >>> conn.require("pre_slice").tolist()
    [[0, 2], [2, 2], [2, 3]]
    """

    def __init__(self, n_pre, n_post, pre_ids, post_ids, *, copy: bool = True):
        self.pre_size = as_size(n_pre, "n_pre")
        self.post_size = as_size(n_post, "n_post")
        self.n_pre = math.prod(self.pre_size)
        self.n_post = math.prod(self.post_size)
        pre = _check_ids(pre_ids, "pre_ids", self.n_pre, "n_pre")
        post = _check_ids(post_ids, "post_ids", self.n_post, "n_post")
        if len(pre) != len(post):
            raise SynbenchError(
                f"pre_ids and post_ids must have the same length (one entry per synapse), "
                f"not {len(pre)} and {len(post)}"
            )
        self.n_syn = len(pre)
        self.index_dtype = index_dtype(self.n_pre, self.n_post, self.n_syn)
        if _is_canonical(pre, post):
            pre = np.array(pre, dtype=self.index_dtype, copy=copy or None)
            post = np.array(post, dtype=self.index_dtype, copy=copy or None)
        else:
            pre, post = _sort_unique(pre, post, self.n_pre, self.n_post, self.index_dtype)
        self._cache = {PRE_IDS: _readonly(pre), POST_IDS: _readonly(post)}

    # --- structures ---

    def require(self, *names: str):
        """The structures ``names``: one value for one name, else a tuple in order.

        Each is derived from the canonical COO on first request and cached.

        >>> conn = Connectivity(2, 3, [0, 1], [2, 0])
        >>> indptr, indices = conn.require("csr")
        >>> pre_slice, post_ids = conn.require("pre_slice", "post_ids")
        """
        if not names:
            raise SynbenchError(
                f"require() needs at least one structure name, one of {', '.join(STRUCTURES)}"
            )
        for name in names:
            if name not in STRUCTURES:
                raise _unknown(name)
        values = tuple(self._get(name) for name in names)
        return values[0] if len(values) == 1 else values

    def _get(self, name):
        if name in _SCALARS:
            return getattr(self, name)
        if name not in self._cache:
            self._check_fits(name)
            inputs, convert = CONVERTERS[name]
            value = convert(*(self._get(i) for i in inputs))
            self._cache[name] = _freeze(value)
        return self._cache[name]

    @property
    def cached(self) -> tuple[str, ...]:
        """Names of the structures built so far (always including pre_ids and post_ids)."""
        return tuple(s for s in STRUCTURES if s in self._cache)

    @property
    def max_fanout(self) -> int:
        """The largest number of synapses of one pre neuron (0 with no synapses)."""
        slices = self.require(PRE_SLICE)
        return int((slices[:, 1] - slices[:, 0]).max()) if self.n_syn else 0

    def structure_nbytes(self, name: str) -> int:
        """Bytes structure ``name`` takes, without building it.

        >>> Connectivity(1000, 1000, [0], [0]).structure_nbytes("conn_mat")
        1000000
        """
        if name not in _NBYTES:
            raise _unknown(name)
        return int(_NBYTES[name](self, self.index_dtype.itemsize))

    def _check_fits(self, name: str) -> None:
        need, free = self.structure_nbytes(name), available_memory()
        if need > free:
            advice = _ADVICE.get(name, "free memory or use smaller groups")
            raise SynbenchError(
                f"{name} for {self.n_pre} x {self.n_post} neurons needs {format_bytes(need)} "
                f"({need} bytes) but only {format_bytes(free)} of memory is available; {advice}"
            )

    # --- files ---

    def save(self, path, *, compressed: bool = False) -> Path:
        """Write to ``path`` as .npz (no pickle); returns the path written.

        ``.npz`` is appended when missing. The file is written to a temporary name
        first, so an interrupted save leaves no half-written file.

        >>> import tempfile, os
        >>> conn = Connectivity(3, 3, [0, 1], [1, 2])
        >>> p = conn.save(os.path.join(tempfile.mkdtemp(), "e2e"))
        >>> Connectivity.load(p) == conn
        True
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays = {
            "format_version": np.array(_FORMAT_VERSION, dtype=np.int64),
            "pre_size": np.array(self.pre_size, dtype=np.int64),
            "post_size": np.array(self.post_size, dtype=np.int64),
            "pre_ids": self.pre_ids,
            "post_ids": self.post_ids,
        }
        tmp = path.with_name(path.name + ".part")
        try:
            with open(tmp, "wb") as f:
                (np.savez_compressed if compressed else np.savez)(f, **arrays)
            os.replace(tmp, path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise SynbenchError(f"cannot write connectivity to {path}: {e}") from e
        return path

    @classmethod
    def load(cls, path) -> Connectivity:
        """Read a file written by :meth:`save` (exact round trip).

        >>> conn = Connectivity.load("e2e.npz")  # doctest: +SKIP
        """
        try:
            data = np.load(path, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            with data:
                missing = [k for k in _FILE_KEYS if k not in data.files]
                if missing:
                    raise ValueError(f"missing {', '.join(missing)}")
                arrays = {k: data[k] for k in _FILE_KEYS}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise SynbenchError(
                f"cannot read connectivity from {path}: {e} "
                "(expected an .npz written by Connectivity.save)"
            ) from e
        if arrays["format_version"].shape != () or int(arrays["format_version"]) != 1:
            raise SynbenchError(
                f"{path} has connectivity format {arrays['format_version']!r}; this synbench "
                f"reads format {_FORMAT_VERSION}"
            )
        sizes = [arrays[k] for k in ("pre_size", "post_size")]
        if any(s.ndim != 1 or s.dtype.kind not in "iu" for s in sizes):
            raise SynbenchError(f"{path}: pre_size and post_size must be 1-D integer arrays")
        return cls(
            tuple(sizes[0].tolist()), tuple(sizes[1].tolist()),
            arrays["pre_ids"], arrays["post_ids"], copy=False,
        )

    # --- comparison and display ---

    def __eq__(self, other):
        if not isinstance(other, Connectivity):
            return NotImplemented
        return (
            self.pre_size == other.pre_size
            and self.post_size == other.post_size
            and np.array_equal(self.pre_ids, other.pre_ids)
            and np.array_equal(self.post_ids, other.post_ids)
        )

    __hash__ = None

    def __repr__(self) -> str:
        return (
            f"Connectivity(pre_size={self.pre_size}, post_size={self.post_size}, "
            f"n_syn={self.n_syn}, dtype={self.index_dtype})"
        )


def _structure_property(name: str) -> property:
    return property(lambda self: self.require(name), doc=f"Same as ``require({name!r})``.")


for _name in STRUCTURES:
    setattr(Connectivity, _name, _structure_property(_name))


def _freeze(value):
    if isinstance(value, np.ndarray):
        return _readonly(value)
    if isinstance(value, tuple):
        return tuple(_freeze(v) for v in value)
    return value  # lists hold views of arrays that are already read-only


def _check_ids(ids, what: str, n: int, n_name: str) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise SynbenchError(f"{what} must be a 1-D array of neuron indices, not shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise SynbenchError(f"{what} must hold integer neuron indices, not {arr.dtype} values")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= n:
        raise SynbenchError(
            f"{what} must lie in [0, {n}) ({n_name} = {n}); found {lo if lo < 0 else hi}"
        )
    return arr


def _is_canonical(pre: np.ndarray, post: np.ndarray) -> bool:
    """Strictly increasing in (pre, post): sorted and free of repeats. Scanned in chunks."""
    # Signed ids are non-negative, so their differences cannot overflow; unsigned ones can.
    signed = np.int64 if pre.dtype.kind == "u" or post.dtype.kind == "u" else None
    for a in range(0, max(len(pre) - 1, 0), _CHUNK):
        b = min(a + _CHUNK + 1, len(pre))
        dp = np.diff(pre[a:b].astype(signed or pre.dtype, copy=False))
        dq = np.diff(post[a:b].astype(signed or post.dtype, copy=False))
        if not ((dp > 0) | ((dp == 0) & (dq > 0))).all():
            return False
    return True


def _sort_unique(pre, post, n_pre, n_post, dtype):
    """Sort into (pre, post) order in O(n_syn) via two counting sorts; repeats -> error."""
    from scipy import sparse

    n_syn = len(pre)
    # coo -> csr counts rows; sum_duplicates sorts each row and merges repeats, so a
    # lost entry means a repeated pair.
    mat = sparse.coo_array(
        (np.ones(n_syn, dtype=np.int8), (pre, post)), shape=(n_pre, n_post)
    ).tocsr()
    mat.sum_duplicates()
    if mat.nnz != n_syn:
        keys = np.sort(pre.astype(np.int64) * n_post + post)
        i, j = divmod(int(keys[1:][keys[1:] == keys[:-1]][0]), n_post)
        raise SynbenchError(
            f"synapse {i} -> {j} appears more than once ({n_syn - mat.nnz} repeated pairs); "
            "each (pre, post) pair may appear once: remove repeats, e.g. with np.unique"
        )
    counts = np.diff(mat.indptr)
    pre = np.repeat(np.arange(n_pre, dtype=dtype), counts)
    return pre, mat.indices.astype(dtype, copy=False)
