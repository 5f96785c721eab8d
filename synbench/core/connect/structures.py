"""The structure vocabulary and :class:`Connectivity`.

A connectivity is stored once, as COO in pre-major order (``pre_ids``, ``post_ids``
sorted by (pre, post)). Every other structure is derived on request by walking
``CONVERTERS``, a table of small pure functions (one per edge of the derivation graph),
and cached. Cached arrays are read-only, so a kernel cannot corrupt a structure that
another kernel shares.
"""

from __future__ import annotations

import copy
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
BITMASK = "bitmask"

#: Every structure a :class:`Connectivity` can provide, in the order of DESIGN section 2.
STRUCTURES = (
    CONN_MAT, PRE_IDS, POST_IDS, PRE2SYN, POST2SYN, PRE2POST, POST2PRE,
    PRE_SLICE, POST_SLICE, POST_ORDER, CSR, CSC, ELL, BITMASK,
)

_INT32_MAX = np.iinfo(np.int32).max
#: The most neurons one group may have: every index, and the pad value n_post, fits int64.
MAX_NEURONS = 2**62
_CHUNK = 1 << 20  # elements per chunk when scanning large arrays, to bound temporaries
#: File formats: 1 holds the synapses (``_FILE_KEYS``), 2 also their weights (``weights``,
#: one float per synapse in canonical order), 3 their delays (``delays``, ms, canonical
#: order) and weights if they have any. ``save`` writes the lowest format that holds
#: what the connectivity carries, so an older file stays what it always was.
_FILE_KEYS = ("format_version", "pre_size", "post_size", "pre_ids", "post_ids")
#: Per format: (the per-synapse arrays it must hold, those it may hold).
_FORMAT_ARRAYS = {1: ((), ()), 2: (("weights",), ()), 3: (("delays",), ("weights",))}
_PER_SYNAPSE = ("weights", "delays")


# --- memory ---------------------------------------------------------------------------


def available_memory() -> int:
    """Bytes of memory this process can still allocate, as far as the OS says.

    ``MemAvailable`` from ``/proc/meminfo``, else ``os.sysconf`` free pages, capped by
    a cgroup v2 limit when one applies (containers) and by the address-space limit
    (``ulimit -v``, RLIMIT_AS) less what the process has mapped already, since past
    either an allocation fails however much memory is free. ``sys.maxsize`` when unknown.

    >>> available_memory() > 0
    True
    """
    avail = _meminfo_available() or _sysconf_available() or sys.maxsize
    caps = [c for c in (_cgroup_available(), _address_space_available()) if c is not None]
    return min([avail, *caps])


def require_memory(need: int, what: str, advice: str) -> None:
    """Refuse, before allocating, ``need`` bytes for ``what`` when they are not available."""
    free = available_memory()
    if need > free:
        raise SynbenchError(
            f"{what} needs {format_bytes(need)} ({need} bytes) but only {format_bytes(free)} "
            f"of memory is available; {advice}"
        )


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


def _address_space_available() -> int | None:
    """Bytes left under RLIMIT_AS: the limit less the current virtual size (None: no limit)."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):  # no resource module (Windows)
        return None
    if limit == resource.RLIM_INFINITY or limit < 0:
        return None
    try:
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return limit  # the size mapped so far is unknown: the limit is still a cap
    return max(limit - used, 0)


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
    dims = tuple(int(d) for d in dims)
    if math.prod(dims) > MAX_NEURONS:
        raise SynbenchError(
            f"{what} {size!r} is too large: a group holds at most 2**62 neurons "
            "(neuron indices are int64)"
        )
    return dims


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


def coo_to_bitmask(pre_ids, post_ids, n_pre: int, n_post: int) -> np.ndarray:
    """One bit per (pre, post) pair, set where a synapse exists: uint8 (n_pre,
    ceil(n_post / 8)), post j in bit j % 8 (least significant first) of byte j // 8.

    Built a chunk of synapses at a time (the bits of each byte OR-ed together, so the
    several synapses of one pair, multapses, set its bit once), and no n_pre x n_post
    bool matrix is ever made. A bit stands for a pair, not a synapse: it cannot say how
    many synapses a pair has.
    """
    out = np.zeros((n_pre, -(-n_post // 8)), dtype=np.uint8)
    flat = out.reshape(-1)
    for a in range(0, len(pre_ids), _CHUNK):
        pre = pre_ids[a:a + _CHUNK].astype(np.int64)
        post = post_ids[a:a + _CHUNK].astype(np.int64)
        byte = pre * out.shape[1] + post // 8  # non-decreasing: the ids are canonical
        runs = np.flatnonzero(np.diff(byte, prepend=-1))
        flat[byte[runs]] |= np.bitwise_or.reduceat(np.left_shift(1, post % 8),
                                                   runs).astype(np.uint8)
    return out


def coo_to_conn_mat(pre_ids, post_ids, n_pre: int, n_post: int) -> np.ndarray:
    """Dense bool (n_pre, n_post) matrix, True where a synapse exists (where a pair has
    several, multapses, it cannot say how many: see :func:`weight_matrix`)."""
    mat = np.zeros((n_pre, n_post), dtype=bool)
    mat[pre_ids, post_ids] = True
    return mat


def weight_matrix(conn, weight, dtype) -> np.ndarray:
    """The (n_pre, n_post) weight matrix of ``conn``: ``weight`` (one value, or one per
    synapse in canonical order) at each synapse's (pre, post) element, 0 elsewhere.

    The synapses of a pair that has several (multapses) add up in its element: W^T s
    then gives each post neuron the weight of every synapse, as the strategies that hold
    a matrix need. ``weight`` is used as given: validate it first (``registry.as_weight``).

    >>> weight_matrix(Connectivity(2, 2, [0, 0, 1], [1, 1, 0], multapses=True),
    ...               np.array([1.0, 2.0, 4.0]), "float64").tolist()
    [[0.0, 3.0], [4.0, 0.0]]
    """
    pre, post = conn.require(PRE_IDS, POST_IDS)
    out = np.zeros((conn.n_pre, conn.n_post), dtype=dtype)
    if conn.has_multapses:  # fancy assignment would keep the last synapse of a pair only
        np.add.at(out, (pre, post), np.broadcast_to(np.asarray(weight, dtype), pre.shape))
    else:
        out[pre, post] = weight
    return out


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
    BITMASK: ((PRE_IDS, POST_IDS, "n_pre", "n_post"), coo_to_bitmask),
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
    BITMASK: lambda c, b: c.n_pre * (-(-c.n_post // 8)),
}

_ADVICE = {
    CONN_MAT: "use a sparse strategy instead (pre_slice or csr, which need only O(n_syn))",
    ELL: "one neuron's large fan-out pads every row; use pre_slice or csr instead",
    BITMASK: "a bit per neuron pair is still n_pre x n_post / 8 bytes; use pre_slice or csr",
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
        if they are not already; a repeated pair is an error unless ``multapses``.
    weights : array_like of float, [n_syn], optional
        One weight per synapse, in the order of the ids given (sorted with them into
        canonical order), finite; exposed read-only as ``weights`` (None: none). A
        projection whose weight is None uses them.
    delays : array_like of float, [n_syn], optional
        One transmission delay per synapse in ms (>= 0, finite), in the order of the ids
        given; exposed read-only as ``delays`` in canonical order (None: none). A
        projection whose delay is None uses them (DESIGN section 4c).
    copy : bool
        Copy the id (and weight) arrays (default). With ``copy=False`` the arrays are used as they
        are when already canonical and of the index dtype: do not modify them after.
    record_order : bool
        Keep ``order``, the permutation that sorted the ids (default). Connectors pass
        False: the order their ids came in is their own, not the caller's.
    multapses : bool
        Allow several synapses between the same (pre, post) pair (default False: a
        repeated pair is refused). Each is a synapse of its own, with its own weight and
        delay; sorting is stable, so the synapses of one pair keep the order they were
        given in. ``has_multapses`` says whether any pair has several.

    Notes
    -----
    Indices are int32 while ``n_pre``, ``n_post`` and ``n_syn`` fit, else int64. Every
    structure (see ``STRUCTURES``) is returned read-only and cached after its first
    build; ``cached`` lists those built so far.

    Per-synapse weights are read in canonical order, that of ``pre_ids``. When the ids
    were given in another order, a per-synapse weight could be meant in either, so
    :meth:`check_weight_order` refuses it: ``conn, w = conn.canonical(w)`` sorts a
    weight given in the order of the ids alike.

    Examples
    --------
    >>> conn = Connectivity(3, 2, [2, 0, 0], [1, 1, 0])
    >>> conn.pre_ids, conn.post_ids
    (array([0, 0, 2], dtype=int32), array([0, 1, 1], dtype=int32))
    >>> conn.require("pre_slice").tolist()
    [[0, 2], [2, 2], [2, 3]]
    >>> conn.order.tolist()  # canonical synapse k is given synapse order[k]
    [2, 1, 0]
    >>> conn, w = conn.canonical([0.2, 0.1, 0.0])  # weights in the order of the ids given
    >>> w.tolist(), conn.order
    ([0.0, 0.1, 0.2], None)
    >>> two = Connectivity(2, 2, [1, 0, 1], [0, 1, 0], delays=[2.0, 1.0, 0.5], multapses=True)
    >>> two.pre_ids.tolist(), two.post_ids.tolist(), two.delays.tolist(), two.has_multapses
    ([0, 1, 1], [1, 0, 0], [1.0, 2.0, 0.5], True)
    """

    def __init__(self, n_pre, n_post, pre_ids, post_ids, weights=None, *, delays=None,
                 copy: bool = True, record_order: bool = True, multapses: bool = False):
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
        self._order = None
        self._multapses = bool(multapses)
        w = None if weights is None else _check_weights(weights, self.n_syn)
        d = None if delays is None else _check_weights(delays, self.n_syn, "delays")
        in_order, repeats = _scan_order(pre, post)
        if in_order and repeats and not self._multapses:
            _refuse_repeats(pre, post)
        if in_order:
            pre = np.array(pre, dtype=self.index_dtype, copy=copy or None)
            post = np.array(post, dtype=self.index_dtype, copy=copy or None)
            w, d = (None if a is None else np.array(a, copy=copy or None) for a in (w, d))
        else:
            carried = w is not None or d is not None
            pre, post, order, repeats = _sort_unique(
                pre, post, self.n_pre, self.n_post, self.index_dtype,
                record_order or carried, multapses=self._multapses)
            # The weights and delays follow their synapses.
            w, d = (None if a is None else a[order] for a in (w, d))
            if record_order:
                self._order = _readonly(order)
        self._has_multapses = repeats
        self._weights = None if w is None else _readonly(w)
        self._delays = None if d is None else _readonly(d)
        self._cache = {PRE_IDS: _readonly(pre), POST_IDS: _readonly(post)}

    #: Per-synapse weights and delays (canonical order) or None; a generated connectivity
    #: has none.
    _weights = _delays = None
    #: Whether repeated pairs were allowed, and whether there are some: a generated
    #: connectivity has none.
    _multapses = _has_multapses = False

    @property
    def multapses(self) -> bool:
        """Whether this connectivity was allowed several synapses per (pre, post) pair
        (``multapses=True``); ``has_multapses`` says whether it has some.

        >>> Connectivity(2, 2, [0, 0], [1, 1], multapses=True).multapses
        True
        """
        return self._multapses

    @property
    def has_multapses(self) -> bool:
        """Whether some (pre, post) pair has several synapses (multapses). A strategy
        that keeps one bit or one element per pair sums them (a weight matrix) or
        refuses them (``bitmask``).

        >>> Connectivity(2, 2, [0, 1], [1, 1], multapses=True).has_multapses
        False
        """
        return self._has_multapses

    @property
    def delays(self) -> np.ndarray | None:
        """One delay per synapse in ms, canonical order (that of ``pre_ids``), read-only,
        or None when the synapses carry no delays.

        >>> Connectivity(2, 2, [1, 0], [0, 1], delays=[1.5, 0.1]).delays.tolist()
        [0.1, 1.5]
        """
        return self._delays

    @property
    def weights(self) -> np.ndarray | None:
        """One weight per synapse in canonical order (that of ``pre_ids``), read-only,
        or None when the synapses carry no weights.

        >>> Connectivity(2, 2, [1, 0], [0, 1], weights=[0.5, 2.0]).weights.tolist()
        [2.0, 0.5]
        """
        return self._weights

    #: The counter-based generator of a connectivity built by one (None when the synapses
    #: were given or drawn as a whole): it regenerates any row from (seed, row) alone.
    generator = None

    @classmethod
    def generated(cls, pre_size, post_size, generator) -> Connectivity:
        """The synapses of ``generator`` (a counter-based connector's), built only when a
        structure is required: until then it holds the row counts alone, O(n_pre)."""
        self = cls.__new__(cls)
        self.pre_size = as_size(pre_size, "n_pre")
        self.post_size = as_size(post_size, "n_post")
        self.n_pre, self.n_post = math.prod(self.pre_size), math.prod(self.post_size)
        self.generator = generator
        self.n_syn = generator.n_syn
        self.index_dtype = index_dtype(self.n_pre, self.n_post, self.n_syn)
        self._order = None
        self._cache = {}
        return self

    # --- the order of the ids given, and per-synapse weights ---

    @property
    def order(self) -> np.ndarray | None:
        """None when the ids were given in canonical order, else the permutation that
        sorted them: canonical synapse k is given synapse ``order[k]``, so an array
        ``a`` in the order of the ids given is ``a[order]`` in canonical order."""
        return self._order

    def canonical(self, weight=None):
        """``(conn, weight)`` with ``weight`` given in the order of the ids, sorted alike.

        ``conn`` has the same synapses and no ``order``, so ``prepare(conn, weight, dtype)``
        reads the sorted weight as meant. A scalar weight (or None) is returned as is.

        >>> conn, w = Connectivity(2, 2, [1, 0], [0, 1]).canonical([0.5, 2.0])
        >>> conn.pre_ids.tolist(), w.tolist()
        ([0, 1], [2.0, 0.5])
        """
        if self._order is None:
            return self, weight
        if weight is not None and np.ndim(weight) > 0 and np.size(weight) > 1:
            w = np.asarray(weight)
            if w.shape != (self.n_syn,):
                raise SynbenchError(
                    f"weight must be a scalar or one value per synapse ({self.n_syn}), "
                    f"not shape {w.shape}"
                )
            weight = w[self._order]
        conn = copy.copy(self)  # shares the arrays and the cache of structures
        conn._order = None
        return conn, weight

    def check_weight_order(self, weight):
        """``weight`` when its order is unambiguous, else a SynbenchError saying how to fix it.

        A per-synapse weight is read in canonical order; for a connectivity built from
        ids in another order it could be meant in either, so it is refused. ``prepare``
        calls this before it reads a weight.
        """
        if weight is self._weights:  # the connectivity's own weights: canonical already
            return weight
        if self._order is not None and np.ndim(weight) > 0 and np.size(weight) > 1:
            raise SynbenchError(
                "per-synapse weights are read in canonical (pre, post) order, but this "
                "Connectivity was built from ids in another order, so it cannot tell which "
                "order the weights are in. Weights in the order of the ids you gave: "
                "conn, w = conn.canonical(w). Weights in canonical order (that of "
                "conn.pre_ids): conn, _ = conn.canonical()"
            )
        return weight

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
        if name in (PRE_IDS, POST_IDS) and name not in self._cache:
            require_memory(2 * self.structure_nbytes(PRE_IDS), f"the synapses of {self!r}",
                           "use the procedural strategy, which stores none")
            pre, post = self.generator.coo(self.index_dtype)
            self._cache.update({PRE_IDS: _readonly(pre), POST_IDS: _readonly(post)})
        if name not in self._cache:
            self._check_fits(name)
            inputs, convert = CONVERTERS[name]
            value = convert(*(self._get(i) for i in inputs))
            self._cache[name] = _freeze(value)
        return self._cache[name]

    @property
    def cached(self) -> tuple[str, ...]:
        """Names of the structures built so far (pre_ids and post_ids from the start,
        except for a generated connectivity)."""
        return tuple(s for s in STRUCTURES if s in self._cache)

    def out_degrees(self) -> np.ndarray:
        """The number of synapses of each pre neuron, int64 (n_pre,): a generated
        connectivity's row counts (no synapse is built), else from pre_slice."""
        if self.generator is not None and PRE_SLICE not in self._cache:
            return self.generator.counts()
        slices = self.require(PRE_SLICE)
        return (slices[:, 1] - slices[:, 0]).astype(np.int64)

    @property
    def max_fanout(self) -> int:
        """The largest number of synapses of one pre neuron (0 with no synapses)."""
        return int(self.out_degrees().max(initial=0))

    def structure_nbytes(self, name: str) -> int:
        """Bytes structure ``name`` takes, without building it.

        >>> Connectivity(1000, 1000, [0], [0]).structure_nbytes("conn_mat")
        1000000
        """
        if name not in _NBYTES:
            raise _unknown(name)
        return int(_NBYTES[name](self, self.index_dtype.itemsize))

    def _check_fits(self, name: str) -> None:
        require_memory(self.structure_nbytes(name), f"{name} for {self.n_pre} x {self.n_post} "
                       "neurons", _ADVICE.get(name, "free memory or use smaller groups"))

    # --- files ---

    def save(self, path, *, compressed: bool = False) -> Path:
        """Write to ``path`` as .npz (no pickle); returns the path written.

        ``.npz`` is appended when missing. The file is written to a temporary name
        first, so an interrupted save leaves no half-written file. It holds the canonical
        order only: ``order`` (the order the ids were given in) is not saved. Per-synapse
        ``weights`` and ``delays`` are saved with the synapses (formats 2 and 3; format 1
        without either). The synapses of a pair with several (multapses) are saved side
        by side in their canonical order, and :meth:`load` allows them again.

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
            "format_version": np.array(3 if self.delays is not None else
                                       2 if self.weights is not None else 1, dtype=np.int64),
            "pre_size": np.array(self.pre_size, dtype=np.int64),
            "post_size": np.array(self.post_size, dtype=np.int64),
            "pre_ids": self.pre_ids,
            "post_ids": self.post_ids,
        }
        for name in _PER_SYNAPSE:
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
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

        Nothing in the file is trusted: no pickle, array sizes checked against the
        archive and free memory before anything is allocated, and the values checked
        (sizes, index ranges, canonical order, one finite weight and delay per synapse) as for a new
        Connectivity. Any problem is one SynbenchError naming the file. A pair that
        repeats in the file is a saved multapse: the connectivity is loaded with
        ``multapses=True`` (a file without repeats, with ``multapses=False``).

        >>> conn = Connectivity.load("e2e.npz")  # doctest: +SKIP
        """
        try:
            arrays = _read_npz(path)  # checks format_version too
            sizes = [arrays[k] for k in ("pre_size", "post_size")]
            if any(s.ndim != 1 for s in sizes):
                raise SynbenchError("pre_size and post_size must be 1-D integer arrays")
            pre_size = as_size(tuple(sizes[0].tolist()), "pre_size")
            post_size = as_size(tuple(sizes[1].tolist()), "post_size")
            pre = _check_ids(arrays["pre_ids"], "pre_ids", math.prod(pre_size), "n_pre")
            post = _check_ids(arrays["post_ids"], "post_ids", math.prod(post_size), "n_post")
            in_order, repeats = (_scan_order(pre, post) if len(pre) == len(post)
                                 else (True, False))  # the constructor says why
            if not in_order:
                raise SynbenchError(
                    "its synapses are not in canonical order (sorted by (pre, post), the "
                    "synapses of a pair side by side), as Connectivity.save writes them"
                )
            # A pair repeated in the file is a multapse that was saved: allowed again.
            return cls(pre_size, post_size, pre, post, arrays.get("weights"),
                       delays=arrays.get("delays"), copy=False, multapses=bool(repeats))
        except SynbenchError as e:
            raise SynbenchError(f"cannot read connectivity from {path}: {e}") from None
        except OSError as e:
            raise SynbenchError(f"cannot read connectivity from {path}: {e}") from e
        except Exception as e:  # a damaged file fails in any layer: zip, zlib, npy header
            kind = type(e).__qualname__
            if type(e).__module__ != "builtins":
                kind = f"{type(e).__module__}.{kind}"
            raise SynbenchError(
                f"cannot read connectivity from {path}: the file is damaged ({kind}: {e}); "
                "expected an .npz written by Connectivity.save"
            ) from e

    # --- comparison and display ---

    def __eq__(self, other):
        if not isinstance(other, Connectivity):
            return NotImplemented
        return (
            self.pre_size == other.pre_size
            and self.post_size == other.post_size
            and np.array_equal(self.pre_ids, other.pre_ids)
            and np.array_equal(self.post_ids, other.post_ids)
            and (self.weights is None) == (other.weights is None)
            and all(_same_or_none(getattr(self, a), getattr(other, a)) for a in _PER_SYNAPSE)
        )

    __hash__ = None

    def __repr__(self) -> str:
        return (
            f"Connectivity(pre_size={self.pre_size}, post_size={self.post_size}, "
            f"n_syn={self.n_syn}, dtype={self.index_dtype}"
            f"{'' if self.weights is None else ', weighted'}"
            f"{'' if self.delays is None else ', delayed'}"
            f"{', multapses' if self.has_multapses else ''})"
        )


def _same_or_none(a, b) -> bool:
    return (a is None) == (b is None) and (a is None or np.array_equal(a, b))


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


def _read_npz(path) -> dict[str, np.ndarray]:
    """The arrays of an .npz written by ``save``, read without pickle, sizes checked first:
    ``_FILE_KEYS``, and the per-synapse arrays of its format (``_FORMAT_ARRAYS``)."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise SynbenchError(f"not an .npz archive ({e})") from None
    with archive:
        stored = archive.namelist()
        keys = [name.removesuffix(".npy") for name in stored]
        missing = [k for k in _FILE_KEYS if k not in keys]
        if missing:
            raise SynbenchError(f"missing {', '.join(missing)}")
        extra = sorted(set(stored) - {k + ".npy" for k in (*_FILE_KEYS, *_PER_SYNAPSE)})
        if extra:
            raise SynbenchError(f"unexpected entries {', '.join(extra)} (not a connectivity)")
        require_memory(sum(archive.getinfo(name).file_size for name in stored),
                       "reading its arrays", "free memory or use a machine with more")
        version = _read_npy(archive, archive.getinfo("format_version.npy"))
        if version.shape != () or int(version) not in _FORMAT_ARRAYS:
            raise SynbenchError(
                f"it has connectivity format_version {version.tolist()!r}; this synbench "
                f"reads formats {', '.join(map(str, _FORMAT_ARRAYS))}"
            )
        must, may = _FORMAT_ARRAYS[int(version)]
        for name in _PER_SYNAPSE:
            if name + ".npy" in stored and name not in must + may:
                holds = [v for v, (m, o) in _FORMAT_ARRAYS.items() if name in m + o]
                raise SynbenchError(f"unexpected entries {name}.npy: a format_version "
                                    f"{int(version)} file holds no {name} (format "
                                    f"{' or '.join(map(str, holds))} does)")
            if name + ".npy" not in stored and name in must:
                raise SynbenchError(f"missing {name}, which a format_version {int(version)} "
                                    "file holds (format 1 has none)")
        names = (*_FILE_KEYS, *(k for k in _PER_SYNAPSE if k + ".npy" in stored))
        return {k: _read_npy(archive, archive.getinfo(k + ".npy"),
                             "f" if k in _PER_SYNAPSE else "iu") for k in names}


def _read_npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, kinds: str = "iu") -> np.ndarray:
    """One member: its header is checked against the bytes stored before reading them;
    its dtype must be of ``kinds`` (integers, or "f" floats)."""
    name = info.filename
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise SynbenchError(f"{name} is in .npy format {version}, not 1.0 or 2.0")
        shape, fortran, dtype = read_header(f)
        if dtype.hasobject:
            raise SynbenchError(f"{name} holds Python objects (pickled data), which synbench "
                                "never loads")
        if dtype.kind not in kinds or dtype.fields is not None:
            raise SynbenchError(f"{name} holds {dtype} values, not "
                                f"{'floats' if kinds == 'f' else 'integers'}")
        nbytes = math.prod(shape) * dtype.itemsize
        data = f.read()
        if len(data) != nbytes:
            raise SynbenchError(f"{name} is damaged: its header promises {nbytes} bytes but "
                                f"{len(data)} follow")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _check_weights(weights, n_syn: int, what: str = "weights") -> np.ndarray:
    """``weights`` (or ``delays``, ms, also >= 0) as a float array of shape (n_syn,), all
    finite, else a SynbenchError. Integers become float64; floats keep their dtype."""
    w = np.asarray(weights)
    if w.dtype.kind in "iu":
        w = w.astype(np.float64)
    elif w.dtype.kind != "f":
        raise SynbenchError(f"{what} must be real numbers, one per synapse, not {w.dtype} "
                            "values")
    one = "weight" if what == "weights" else "delay"
    if w.shape != (n_syn,):
        raise SynbenchError(
            f"{what} must hold one value per synapse, shape ({n_syn},), not shape {w.shape}"
            + (f"; a single {one} for every synapse is the projection's {one}" if w.ndim == 0
               else "")
        )
    for a in range(0, n_syn, _CHUNK):  # chunks bound the temporary of isfinite
        ok = np.isfinite(w[a:a + _CHUNK]) & (what == "weights" or w[a:a + _CHUNK] >= 0)
        if not ok.all():
            k = a + int(np.argmin(ok))
            rule = "finite" if what == "weights" else "finite and >= 0 ms"
            raise SynbenchError(f"{what} must be {rule}; synapse {k} has {w[k]}")
    return w


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


def _scan_order(pre: np.ndarray, post: np.ndarray) -> tuple[bool, bool]:
    """``(in_order, repeats)``: whether (pre, post) is non-decreasing, and if so whether a
    pair repeats (``repeats`` is meaningless when not in order). Scanned in chunks."""
    # Signed ids are non-negative, so their differences cannot overflow; unsigned ones can.
    signed = np.int64 if pre.dtype.kind == "u" or post.dtype.kind == "u" else None
    repeats = False
    for a in range(0, max(len(pre) - 1, 0), _CHUNK):
        b = min(a + _CHUNK + 1, len(pre))
        dp = np.diff(pre[a:b].astype(signed or pre.dtype, copy=False))
        dq = np.diff(post[a:b].astype(signed or post.dtype, copy=False))
        same_pre = dp == 0
        if not ((dp > 0) | (same_pre & (dq >= 0))).all():
            return False, False
        repeats = repeats or bool((same_pre & (dq == 0)).any())
    return True, repeats


def _is_canonical(pre: np.ndarray, post: np.ndarray, multapses: bool = False) -> bool:
    """Sorted by (pre, post): strictly increasing (each pair once), or, with
    ``multapses``, non-decreasing (a pair's synapses side by side)."""
    in_order, repeats = _scan_order(pre, post)
    return in_order and (multapses or not repeats)


def _sort_unique(pre, post, n_pre, n_post, dtype, want_order=True, multapses=False):
    """``(pre, post, order, repeats)`` sorted into (pre, post) order; a repeated pair is an
    error unless ``multapses``, when the sort is stable: the synapses of one pair keep
    the order they were given in. ``repeats``: whether some pair has several synapses.

    ``order`` is the permutation applied (None unless ``want_order``): sorted synapse k
    was synapse order[k]. Two counting sorts (scipy's COO -> CSR, then each row sorted)
    take O(n_syn + n_pre); with more pre neurons than synapses a comparison sort,
    O(n_syn log n_syn), costs less.
    """
    n_syn = len(pre)
    if n_pre > n_syn:
        require_memory(8 * 5 * n_syn, f"sorting {n_syn} synapses", "use fewer synapses")
        order = np.lexsort((post, pre))  # stable
        pre, post = pre[order], post[order]
        repeats = _scan_order(pre, post)[1]
        if repeats and not multapses:
            _refuse_repeats(pre, post)
        order = order.astype(dtype) if want_order else None
        return pre.astype(dtype), post.astype(dtype), order, repeats

    from scipy import sparse

    require_memory(8 * (6 * n_syn + 2 * n_pre + 1), f"sorting {n_syn} synapses",
                   "use fewer synapses")
    if multapses:
        pre, post, order = _stable_sort(pre, post, n_pre, n_post, dtype, want_order)
        return pre, post, order, _scan_order(pre, post)[1]
    # coo -> csr counts rows; sum_duplicates sorts each row and merges repeats, so a
    # lost entry means a repeated pair. The data carry each synapse's given position.
    data = np.arange(n_syn, dtype=dtype) if want_order else np.ones(n_syn, dtype=np.int8)
    mat = sparse.coo_array((data, (pre, post)), shape=(n_pre, n_post)).tocsr()
    mat.sum_duplicates()
    if mat.nnz != n_syn:
        order = np.lexsort((post, pre))
        _refuse_repeats(pre[order], post[order])
    counts = np.diff(mat.indptr)
    pre = np.repeat(np.arange(n_pre, dtype=dtype), counts)
    order = mat.data.astype(dtype, copy=False) if want_order else None
    return pre, mat.indices.astype(dtype, copy=False), order, False


def _stable_sort(pre, post, n_pre, n_post, dtype, want_order=True):
    """``(pre, post, order)`` sorted by (pre, post), ties (the synapses of one pair) in
    the order given: two stable counting sorts, by post then by pre, in O(n_syn + n_pre
    + n_post). Each is scipy's CSR -> CSC conversion of a one-row matrix, which moves
    the entries of each column in their row order and never merges repeats."""
    from scipy import sparse

    n_syn = len(pre)
    order = np.arange(n_syn, dtype=dtype)
    for keys, n in ((post, n_post), (pre, n_pre)):
        one_row = sparse.csr_array((order, keys[order].astype(dtype), np.array([0, n_syn])),
                                   shape=(1, n))
        order = one_row.tocsc().data.astype(dtype, copy=False)
    return pre[order].astype(dtype), post[order].astype(dtype), order if want_order else None


def _refuse_repeats(pre, post) -> None:
    """A SynbenchError naming the first pair that repeats in ids sorted by (pre, post)."""
    same = (pre[1:] == pre[:-1]) & (post[1:] == post[:-1])
    if same.any():
        k = int(np.argmax(same))
        raise SynbenchError(
            f"synapse {pre[k]} -> {post[k]} appears more than once ({int(same.sum())} repeated "
            "pairs); each (pre, post) pair may appear once: remove repeats, e.g. with "
            "np.unique, or allow several synapses per pair (multapses) with multapses=True "
            "(IJConn(i, j, multapses=True), Connectivity(..., multapses=True))"
        )
