"""CuPy backend: the eight strategies as CUDA kernels, and a runner that stays on the GPU.

The hand-written kernels live in ``synbench/impls/cuda/*.cu`` as templates over the
float type; :func:`kernel` compiles a source once per dtype (``cupy.RawModule`` with
NVRTC, ``--fmad=false`` so that ``a * b + c`` rounds as NumPy rounds) and returns one
instance. dense's column sums are a cuBLAS mat-vec, csr is cuSPARSE's (through
``cupyx``). Every function takes and returns CuPy arrays, so a kernel can be called
from the user's own CuPy code:

>>> import cupy
>>> from synbench import FixedProb, registry
>>> entry = registry.get("pre_slice", "cupy")
>>> data = entry.prepare(FixedProb(0.1, seed=0).build(100, 50), 0.5, "float32")
>>> g = entry.init_state(data)
>>> for t in range(10):
...     g = entry.step(data, g, cupy.random.random(100) < 0.1, 0.98)
>>> entry.conductance(data, g).shape
(50,)

Kernel API (DESIGN section 4): ``prepare(conn, weight, dtype) -> data``,
``init_state(data) -> state``, ``step(data, state, spikes, decay) -> state`` (in place)
and ``conductance(data, state, out=None) -> g_post``; ``spikes`` is a CuPy bool array of
the pre group. Where the state lives on post neurons the conductance *is* the state.

Atomic additions (pre_ids, pre2post, pre_slice) and the libraries' mat-vecs sum in an
order of their own, so float64 results agree with the NumPy reference to a few ulp,
not bit for bit.

The runner (:class:`Simulation`) keeps the whole network on the GPU: a neuron kernel
generated from the model's SymPy integrator, the strategy's kernels for all four
projections at once, and one kernel that folds the decays into the synaptic currents:
3 launches per step for pre_slice. Chunks of steps replay as a CUDA graph
(``SYNBENCH_CUPY_GRAPHS=0`` or ``Simulation.use_graphs = False`` turns that off;
``SYNBENCH_CUPY_GRAPH_STEPS`` sets the steps per graph), and spikes leave the GPU once
per chunk.

Importing this module imports CuPy (an ImportError without it, which the registry turns
into "cupy is not installed"); :func:`unavailable_reason` says why it cannot run when
CuPy is there but no usable GPU is.
"""

from __future__ import annotations

import ast
import os
import re
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import cupy
import numpy as np

from ..core.errors import SynbenchError
from ..core.integrators import decay_factor
from ..core.neurons import NEVER_SPIKED, neuron_model
from ..core.registry import as_weight, register

CUDA_DIR = Path(__file__).parent / "cuda"
COMPILE_OPTIONS = ("--fmad=false", "--std=c++17")
BLOCK = 256  # threads per block of every hand-written kernel
MAX_BLOCKS = 1 << 16  # grid-stride loops cover the rest
_TEMPLATE = re.compile(r"template\s*<\s*typename\s+T\s*>\s*__global__\s+void\s+(\w+)\s*\(")
_CTYPES = {"float32": "float", "float64": "double"}


def unavailable_reason() -> str | None:
    """None when a CUDA device usable by CuPy is present, else why not."""
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as err:
        return f"no CUDA device ({err})"
    if count == 0:
        return "no CUDA device"
    major = int(cupy.cuda.Device().compute_capability) // 10
    if major < 6:
        return "the GPU predates sm_60, which float64 atomicAdd needs"
    return None


def asarray(x):
    return cupy.asarray(x)


def to_numpy(x):
    return cupy.asnumpy(x)


def synchronize(x):
    """Wait until the current stream, and so ``x``, has finished on the GPU."""
    cupy.cuda.get_current_stream().synchronize()
    return x


def free_memory() -> int:
    """Bytes free on the current GPU, counting what CuPy's pool holds unused."""
    free, _ = cupy.cuda.runtime.memGetInfo()
    return int(free + cupy.get_default_memory_pool().free_bytes())


# --- the CUDA sources ---


def kernel_names(source: str) -> list[str]:
    """The templated ``__global__`` kernels of ``synbench/impls/cuda/<source>``."""
    return _TEMPLATE.findall((CUDA_DIR / source).read_text())


@cache
def _module(source: str, dtype: str) -> cupy.RawModule:
    ctype = _CTYPES[dtype]
    return cupy.RawModule(
        code=(CUDA_DIR / source).read_text(), options=COMPILE_OPTIONS,
        name_expressions=[f"{name}<{ctype}>" for name in kernel_names(source)],
    )


def kernel(name: str, dtype, source: str = "synapses.cu") -> cupy.RawKernel:
    """The compiled instance ``name<T>`` of a kernel in ``cuda/<source>`` for ``dtype``.

    >>> step = kernel("synapse_step", "float64")  # doctest: +SKIP
    >>> step((blocks,), (256,), (g, pre, w, np.int32(0), spikes, np.float64(0.9), n_syn))
    """
    dtype = np.dtype(dtype).name
    if dtype not in _CTYPES:
        raise SynbenchError(f"dtype must be float32 or float64, not {dtype}")
    return _module(source, dtype).get_function(f"{name}<{_CTYPES[dtype]}>")


def _blocks(n: int, per_block: int = BLOCK) -> tuple[int]:
    return (max(1, min(-(-int(n) // per_block), MAX_BLOCKS)),)


def _launch(name, dtype, n, *args, per_block=BLOCK):
    """Launch ``name<T>`` with enough blocks for ``n`` threads (grid-stride beyond)."""
    kernel(name, dtype)(_blocks(n, per_block), (BLOCK,), args)


def _i64(x) -> np.int64:
    return np.int64(x)


def _spikes(spikes):
    """``spikes`` as a contiguous CuPy bool array (no copy when it already is one)."""
    spikes = cupy.asarray(spikes)
    return cupy.ascontiguousarray(spikes if spikes.dtype == np.bool_ else spikes.astype(bool))


# --- prepare / init_state / conductance shared by strategies with the same state ---


def _index(x, dtype=np.int32):
    """An index array on the GPU (int32 ids, int64 offsets), refusing what overflows."""
    x = np.asarray(x)
    if dtype == np.int32 and x.size and x.max() >= 2**31:
        raise SynbenchError("the CuPy kernels index synapses with int32: use fewer than 2**31")
    return cupy.asarray(np.ascontiguousarray(x, dtype=dtype))


def _data(conn, weight, dtype, **arrays):
    """Sizes, the weight (``w`` with ``w_stride`` 0 if shared, 1 if per synapse), arrays."""
    w = as_weight(weight, conn.n_syn, dtype)
    return SimpleNamespace(
        n_pre=conn.n_pre, n_post=conn.n_post, n_syn=conn.n_syn, dtype=np.dtype(dtype),
        w=cupy.asarray(np.atleast_1d(w)), w_stride=np.int32(w.ndim), **arrays,
    )


def _matrix_state(data):
    return cupy.zeros((data.n_pre, data.n_post), dtype=data.dtype)


def _synapse_state(data):
    return cupy.zeros(data.n_syn, dtype=data.dtype)


def _post_state(data):
    return cupy.zeros(data.n_post, dtype=data.dtype)


def _post_is_state(data, g, out=None):
    """The conductance of a post-state strategy: the state itself."""
    if out is not None:
        out[...] = g
        return out
    return g


def _out(data, out):
    return cupy.empty(data.n_post, dtype=data.dtype) if out is None else out


def _pad_lists(lists, pad: int) -> np.ndarray:
    """Ragged int lists as a (len(lists), max length) int32 array filled with ``pad``."""
    lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    width = int(lengths.max(initial=0))
    out = np.full((len(lists), width), pad, dtype=np.int64)
    if lengths.sum():
        rows = np.repeat(np.arange(len(lists)), lengths)
        cols = np.arange(rows.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[rows, cols] = np.concatenate([np.asarray(x) for x in lists])
    return out


# --- dense matrices ---


def _matrix_prepare(conn, weight, dtype):
    w = np.zeros((conn.n_pre, conn.n_post), dtype=dtype)
    # Row-major order of the True elements is canonical (pre-major) synapse order.
    w[conn.require("conn_mat")] = as_weight(weight, conn.n_syn, dtype)
    data = _data(conn, 0.0, dtype, weight_matrix=cupy.asarray(w))
    data.ones = cupy.ones(conn.n_pre, dtype=dtype)
    data.alpha, data.beta = np.ones((), dtype), np.zeros((), dtype)  # host scalars for cuBLAS
    return data


def _column_sums(data, g, out=None):
    """g_post[j] = sum_i g[i, j]: one cuBLAS mat-vec, ``g`` read as (n_post, n_pre) column-major."""
    from cupy_backends.cuda.libs import cublas

    out = _out(data, out)
    if data.n_pre == 0 or data.n_post == 0:
        out.fill(0)
        return out
    handle = cupy.cuda.device.get_cublas_handle()
    cublas.setStream(handle, cupy.cuda.get_current_stream().ptr)
    cublas.setPointerMode(handle, cublas.CUBLAS_POINTER_MODE_HOST)
    gemv = cublas.dgemv if data.dtype == np.float64 else cublas.sgemv
    gemv(handle, cublas.CUBLAS_OP_N, data.n_post, data.n_pre, data.alpha.ctypes.data,
         g.data.ptr, data.n_post, data.ones.data.ptr, 1, data.beta.ctypes.data, out.data.ptr, 1)
    return out


@register("dense", "cupy", needs=("conn_mat",), state="matrix", event_driven=False,
          prepare=_matrix_prepare, init_state=_matrix_state, conductance=_column_sums)
def dense_step(data, g, spikes, decay):
    """Dense matrix ("mat 1"): decay and add on every element, every step.

    Parameters
    ----------
    data : prepared by ``prepare``: ``weight_matrix`` [n_pre, n_post], zero off synapses.
    g : [n_pre, n_post] conductance per matrix element (updated in place).
    spikes : [n_pre] bool; decay : exp(-dt / tau).

    Returns
    -------
    g : [n_pre, n_post], ``g * decay + spikes[:, None] * W``.

    Notes
    -----
    One thread per element (kernel ``dense_step``); g_post_j = sum_i g_ij is a cuBLAS
    mat-vec with a vector of ones. O(n_pre n_post) per step whatever the firing rate.
    """
    spikes = _spikes(spikes)
    _launch("dense_step", data.dtype, g.size, g, data.weight_matrix, spikes,
            data.dtype.type(decay), _i64(data.n_pre), _i64(data.n_post))
    return g


@register("event_dense", "cupy", needs=("conn_mat",), state="matrix", event_driven=True,
          prepare=_matrix_prepare, init_state=_matrix_state, conductance=_column_sums)
def event_dense_step(data, g, spikes, decay):
    """Dense matrix, rows of spiking pre neurons only ("mat 2").

    Parameters as :func:`dense_step`. Returns g [n_pre, n_post].

    Notes
    -----
    For each spiking pre i and every j, g_ij += W_ij. Every element still decays (the
    state is the matrix), but W is read only on spiking rows: one thread per element
    (kernel ``event_dense_step``), branching on its row's spike.
    """
    spikes = _spikes(spikes)
    _launch("event_dense_step", data.dtype, g.size, g, data.weight_matrix, spikes,
            data.dtype.type(decay), _i64(data.n_pre), _i64(data.n_post))
    return g


# --- one value per synapse ---


def _pre_ids_prepare(conn, weight, dtype):
    pre_ids, post_ids = conn.require("pre_ids", "post_ids")
    return _data(conn, weight, dtype, pre_ids=_index(pre_ids), post_ids=_index(post_ids))


def _pre_ids_conductance(data, g, out=None):
    """Scatter-add of every synapse onto its post neuron: one thread each, atomic."""
    out = _out(data, out)
    out.fill(0)
    if data.n_syn:
        _launch("scatter_add", data.dtype, data.n_syn, out, g, data.post_ids, _i64(data.n_syn))
    return out


@register("pre_ids", "cupy", needs=("pre_ids", "post_ids"), state="synapse",
          event_driven=False, prepare=_pre_ids_prepare, init_state=_synapse_state,
          conductance=_pre_ids_conductance)
def pre_ids_step(data, g, spikes, decay):
    """Per-synapse vectors: every synapse decays and gathers its pre neuron's spike.

    Parameters
    ----------
    data : ``pre_ids``, ``post_ids`` [n_syn] int32; weight shared or [n_syn].
    g : [n_syn] conductance per synapse, canonical order; spikes : [n_pre] bool.

    Returns
    -------
    g : [n_syn], ``g * decay + spikes[pre_ids] * w``.

    Notes
    -----
    One thread per synapse (kernel ``synapse_step``); the conductance is a scatter-add
    with one thread per synapse, atomic on the post neuron (kernel ``scatter_add``).
    O(n_syn) per step whatever the firing rate.
    """
    spikes = _spikes(spikes)
    if data.n_syn:
        _launch("synapse_step", data.dtype, data.n_syn, g, data.pre_ids, data.w, data.w_stride,
                spikes, data.dtype.type(decay), _i64(data.n_syn))
    return g


def _pre2syn_prepare(conn, weight, dtype):
    pre2syn, post2syn = conn.require("pre2syn", "post2syn")
    pre2syn, post2syn = _pad_lists(pre2syn, conn.n_syn), _pad_lists(post2syn, conn.n_syn)
    return _data(conn, weight, dtype, pre2syn=_index(pre2syn), post2syn=_index(post2syn))


def _pre2syn_conductance(data, g, out=None):
    """Each post neuron sums the synapses of its padded list (kernel ``rows_sum``)."""
    out = _out(data, out)
    _launch("rows_sum", data.dtype, data.n_post, out, g, data.post2syn,
            _i64(data.post2syn.shape[1]), _i64(data.n_post), _i64(data.n_syn))
    return out


@register("pre2syn", "cupy", needs=("pre2syn", "post2syn"), state="synapse",
          event_driven=True, prepare=_pre2syn_prepare, init_state=_synapse_state,
          conductance=_pre2syn_conductance)
def pre2syn_step(data, g, spikes, decay):
    """Per-neuron synapse lists, padded: decay every synapse, add on the spiking rows.

    Parameters
    ----------
    data : ``pre2syn`` [n_pre, max fan-out] and ``post2syn`` [n_post, max fan-in],
        synapse indices padded with n_syn; weight shared or [n_syn].
    g : [n_syn] conductance per synapse; spikes : [n_pre] bool.

    Returns
    -------
    g : [n_syn].

    Notes
    -----
    For each spiking pre i and each synapse k in pre2syn(i): g_k += w_k. Each synapse
    is in exactly one pre list, so one thread per list entry decays it and adds the
    weight if its row spiked (kernel ``pre2syn_step``): no atomics, no separate decay.
    The conductance sums each post's list (no atomics).
    """
    spikes = _spikes(spikes)
    width = data.pre2syn.shape[1]
    if data.n_syn:
        _launch("pre2syn_step", data.dtype, data.n_pre * width, g, data.pre2syn, _i64(width),
                data.w, data.w_stride, spikes, data.dtype.type(decay), _i64(data.n_pre),
                _i64(data.n_syn))
    return g


def _post_slice_prepare(conn, weight, dtype):
    post_slice, pre_ids, post_order = conn.require("post_slice", "pre_ids", "post_order")
    post_order = np.asarray(post_order)
    w = as_weight(weight, conn.n_syn, dtype)
    data = _data(conn, w[post_order] if w.ndim else w, dtype,
                 post_slice=_index(post_slice, np.int64),
                 pre_by_post=_index(np.asarray(pre_ids)[post_order]))
    return data


def _post_slice_conductance(data, g, out=None):
    """Each post neuron sums its own contiguous slice (kernel ``slice_sum``): no atomics."""
    out = _out(data, out)
    _launch("slice_sum", data.dtype, data.n_post, out, g, data.post_slice, _i64(data.n_post))
    return out


@register("post_slice", "cupy", needs=("post_slice", "pre_ids", "post_order"),
          state="synapse", event_driven=False, prepare=_post_slice_prepare,
          init_state=_synapse_state, conductance=_post_slice_conductance)
def post_slice_step(data, g, spikes, decay):
    """Synapses in post-major order: every post neuron sums its own slice.

    Parameters
    ----------
    data : ``post_slice`` [n_post, 2] int64, ``pre_by_post`` [n_syn] (pre id of each
        synapse, post-major); weight shared or [n_syn] (post-major).
    g : [n_syn] conductance per synapse, post-major; spikes : [n_pre] bool.

    Returns
    -------
    g : [n_syn].

    Notes
    -----
    g_k = g_k * decay + s[pre_k] w_k with one thread per synapse (kernel
    ``synapse_step``); g_post_j = sum of its contiguous slice, one thread per post
    neuron and no atomics (kernel ``slice_sum``). O(n_syn) per step.
    """
    spikes = _spikes(spikes)
    if data.n_syn:
        _launch("synapse_step", data.dtype, data.n_syn, g, data.pre_by_post, data.w,
                data.w_stride, spikes, data.dtype.type(decay), _i64(data.n_syn))
    return g


# --- one value per post neuron ---


def _pre2post_prepare(conn, weight, dtype):
    ell = np.asarray(conn.require("ell"))
    counts = (ell != conn.n_post).sum(axis=1)
    row_start = np.cumsum(counts) - counts  # canonical index of each row's first synapse
    return _data(conn, weight, dtype, ell=_index(ell), row_start=_index(row_start, np.int64))


@register("pre2post", "cupy", needs=("ell",), state="post", event_driven=True,
          prepare=_pre2post_prepare, init_state=_post_state, conductance=_post_is_state)
def pre2post_step(data, g, spikes, decay):
    """Padded post lists (``ell``), state on post neurons: spiking rows add to targets.

    Parameters
    ----------
    data : ``ell`` [n_pre, max fan-out] int32, post ids padded with n_post;
        ``row_start`` [n_pre]; weight shared or [n_syn].
    g : [n_post]; spikes : [n_pre] bool.

    Returns
    -------
    g : [n_post].

    Notes
    -----
    For each spiking pre i and each j in ell[i]: g_j += w. Each warp reads 32 spike
    flags at once (a ballot); the lanes of a spiking row add its weights atomically
    (two rows may share a target). Cost O(n_post) decay + O(n_pre) flags + O(fan-out)
    per spike.
    """
    spikes = _spikes(spikes)
    _launch("scale", data.dtype, data.n_post, g, data.dtype.type(decay), _i64(data.n_post))
    width = data.ell.shape[1]
    if data.n_syn:
        _launch("pre2post_events", data.dtype, data.n_pre, g, data.ell, _i64(width),
                data.row_start, data.w, data.w_stride, spikes, _i64(data.n_pre),
                _i64(data.n_post))
    return g


def _pre_slice_prepare(conn, weight, dtype):
    pre_slice, post_ids = conn.require("pre_slice", "post_ids")
    return _data(conn, weight, dtype, pre_slice=_index(pre_slice, np.int64),
                 post_ids=_index(post_ids), spike_ids=cupy.zeros(max(conn.n_pre, 1), np.int32),
                 counter=cupy.zeros(2, np.int32))


@register("pre_slice", "cupy", needs=("pre_slice", "post_ids"), state="post",
          event_driven=True, prepare=_pre_slice_prepare, init_state=_post_state,
          conductance=_post_is_state)
def pre_slice_step(data, g, spikes, decay):
    """Pre-major slices, state on post neurons: compact the spikes, then one warp each.

    Parameters
    ----------
    data : ``pre_slice`` [n_pre, 2] int64, ``post_ids`` [n_syn] int32; weight shared or
        [n_syn]; ``spike_ids`` [n_pre] and ``counter`` [2], scratch for the compaction.
    g : [n_post]; spikes : [n_pre] bool.

    Returns
    -------
    g : [n_post].

    Notes
    -----
    For each spiking i and k in [start_i, end_i): g[post_ids[k]] += w_k. The first
    kernel decays g and compacts the spiking ids on the GPU (an atomic counter); the
    second gives each spiking row one warp, whose lanes walk the row's contiguous slice
    and add atomically. No host round trip; the grid is sized for every pre neuron
    spiking, and idle warps exit at once.
    """
    spikes = _spikes(spikes)
    _launch("decay_and_compact", data.dtype, max(data.n_post, data.n_pre), g, _i64(data.n_post),
            data.dtype.type(decay), spikes, _i64(data.n_pre), data.spike_ids, data.counter)
    _launch("pre_slice_events", data.dtype, 32 * data.n_pre, g, data.spike_ids, data.counter,
            data.pre_slice, data.post_ids, data.w, data.w_stride)
    return g


def _csr_prepare(conn, weight, dtype):
    import cupyx.scipy.sparse
    import scipy.sparse

    indptr, indices = conn.require("csr")
    values = np.broadcast_to(as_weight(weight, conn.n_syn, dtype), (conn.n_syn,)).astype(dtype)
    # The transpose (rows = post neurons) as CSR, so the step is a plain CSR mat-vec.
    matrix_t = scipy.sparse.csr_matrix(
        (values, indices, indptr), shape=(conn.n_pre, conn.n_post)).T.tocsr()
    matrix_t.sort_indices()
    data = _data(conn, 0.0, dtype)
    data.matrix_t = cupyx.scipy.sparse.csr_matrix(matrix_t)
    data.x = cupy.zeros(conn.n_pre, dtype=dtype)  # the spikes as 0.0 / 1.0
    return data


@register("csr", "cupy", needs=("csr",), state="post", event_driven=False,
          prepare=_csr_prepare, init_state=_post_state, conductance=_post_is_state)
def csr_step(data, g, spikes, decay):
    """Library sparse mat-vec (cuSPARSE SpMV through ``cupyx``): g = W^T s + decay g.

    Parameters
    ----------
    data : ``matrix_t`` (``cupyx.scipy.sparse.csr_matrix`` [n_post, n_pre] holding the
        weights); ``x`` [n_pre] scratch for the spikes as floats.
    g : [n_post]; spikes : [n_pre] bool.

    Returns
    -------
    g : [n_post].

    Notes
    -----
    One SpMV with beta = decay does the decay and the events together. O(n_post + n_syn)
    per step whatever the firing rate.
    """
    import cupyx.cusparse

    if data.n_syn == 0:  # cuSPARSE's SpMV on an empty matrix would zero g
        g *= data.dtype.type(decay)
        return g
    data.x[...] = _spikes(spikes)
    return cupyx.cusparse.spmv(data.matrix_t, data.x, y=g, alpha=1.0, beta=float(decay))


# --- the neuron update, generated from the model's SymPy-derived integrator ---
#
# odeint writes the integrator as Python source (straight-line assignments). Translating
# that source's syntax tree to C keeps NumPy's evaluation order operation by operation,
# and the kinds below keep NumPy 2's dtype promotion (a Python float adopts the array's
# dtype; a NumPy function of a Python float is a float64 scalar), so float64 runs do the
# NumPy runner's arithmetic exactly, up to the last bit of CUDA's exp (and pow).

# Python (as odeint prints it) -> CUDA C, keeping NumPy's evaluation order and dtypes.
_UNARY_FUNCS = {"exp": "exp", "expm1": "expm1", "log": "log", "log1p": "log1p",
                "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan", "asin": "asin",
                "acos": "acos", "atan": "atan", "sinh": "sinh", "cosh": "cosh",
                "tanh": "tanh", "floor": "floor", "ceil": "ceil", "abs": "fabs",
                "sign": "synbench_sign"}
_BINARY_FUNCS = {"minimum": "fmin", "maximum": "fmax", "atan2": "atan2"}
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
# Kinds of value, after NumPy 2's promotion rules (NEP 50): "weak" is a Python float
# (adopts the dtype of the array it meets), "f64" a float64 NumPy scalar or array, "T"
# an array of the run's dtype, "bool" a condition.
_CTYPE = {"weak": "double", "f64": "double", "T": "T", "bool": "bool"}


def _literal(value) -> str:
    """A double literal that reads back exactly (parenthesized when negative)."""
    text = repr(float(value))
    return f"({text})" if text.startswith("-") else text


def _promote(a, b):
    if a == b:
        return a
    if {a, b} == {"weak", "T"}:
        return "T"
    return "f64"


def _cast(code, kind, to):
    if kind == to or to == "bool":
        return code
    return f"(({_CTYPE[to]})({code}))"


# What the printed names call in NumPy, to fold constant subexpressions on the host.
_NUMPY_FUNCS = {**{k: getattr(np, k) for k in ("exp", "expm1", "log", "log1p", "sqrt", "sin",
                                                "cos", "tan", "sinh", "cosh", "tanh", "floor",
                                                "ceil", "abs", "sign", "minimum", "maximum",
                                                "where")},
                "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "atan2": np.arctan2}


class _ToC:
    """Translates expressions; ``values`` holds the host value of every constant name."""

    def __init__(self, kinds, values):
        self.kinds, self.values = dict(kinds), dict(values)

    def expr(self, node):
        """(C code, kind) of a Python expression node.

        A subexpression of constants only (parameters, dt) is evaluated here with NumPy,
        exactly as the NumPy runner evaluates it, and written as a literal.
        """
        code, kind = self._expr(node)
        if kind in ("weak", "f64") and not isinstance(node, ast.Constant):
            try:
                value = eval(compile(ast.Expression(node), "<fold>", "eval"),  # noqa: S307
                             {"__builtins__": {}, **_NUMPY_FUNCS}, self.values)
            except NameError:  # depends on t or on the state
                return code, kind
            return _literal(value), kind
        return code, kind

    def _expr(self, node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            return _literal(node.value), "weak"
        if isinstance(node, ast.Name):
            return node.id, self.kinds[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            code, kind = self.expr(node.operand)
            return (f"(-{code})" if isinstance(node.op, ast.USub) else code), kind
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            return self.power(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            (a, ka), (b, kb) = self.expr(node.left), self.expr(node.right)
            kind = _promote(ka, kb)
            return f"({_cast(a, ka, kind)} {_OPS[type(node.op)]} {_cast(b, kb, kind)})", kind
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMP:
            (a, ka), (b, kb) = self.expr(node.left), self.expr(node.comparators[0])
            kind = _promote(ka, kb)
            return f"({_cast(a, ka, kind)} {_CMP[type(node.ops[0])]} {_cast(b, kb, kind)})", "bool"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            return self.call(node.func.id, [self.expr(a) for a in node.args])
        raise ValueError(f"cannot translate {ast.unparse(node)!r} to CUDA C")

    def power(self, node):
        base, kb = self.expr(node.left)
        right = node.right
        if isinstance(right, ast.Constant) or (
                isinstance(right, ast.UnaryOp) and isinstance(right.operand, ast.Constant)):
            e = float(ast.literal_eval(node.right))
            # NumPy's fast paths for an array to a scalar power (and exact anyway for 2).
            if e == 2:
                return f"({base} * {base})", kb
            if kb != "weak":
                one = _cast("1.0", "weak", kb)
                special = {1: base, 0: one, 0.5: f"sqrt({base})", -1: f"({one} / {base})"}
                if e in special:
                    return special[e], kb
        exp_code, ke = self.expr(node.right)
        kind = _promote(kb, ke)
        return f"pow({_cast(base, kb, kind)}, {_cast(exp_code, ke, kind)})", kind

    def call(self, name, args):
        if name in _UNARY_FUNCS and len(args) == 1:
            code, kind = args[0]
            # NumPy's ufuncs turn a Python float into a float64 scalar.
            return f"{_UNARY_FUNCS[name]}({code})", ("f64" if kind == "weak" else kind)
        if name in _BINARY_FUNCS and len(args) == 2:
            (a, ka), (b, kb) = args
            kind = _promote(ka, kb)
            kind = "f64" if kind == "weak" else kind
            return f"{_BINARY_FUNCS[name]}({_cast(a, ka, kind)}, {_cast(b, kb, kind)})", kind
        if name == "where" and len(args) == 3:
            (c, _), (a, ka), (b, kb) = args
            kind = _promote(ka, kb)
            kind = "f64" if kind == "weak" else kind
            return f"({c} ? {_cast(a, ka, kind)} : {_cast(b, kb, kind)})", kind
        if name in ("logical_and", "logical_or") and len(args) == 2:
            op = "&&" if name == "logical_and" else "||"
            return f"({args[0][0]} {op} {args[1][0]})", "bool"
        if name == "logical_not" and len(args) == 1:
            return f"(!{args[0][0]})", "bool"
        raise ValueError(f"cannot translate a call of {name} to CUDA C")


def step_to_c(step, kinds, values):
    """The body of odeint's ``step`` as CUDA C statements; returns (lines, [(name, kind)]).

    ``kinds`` gives the kind of each argument, ``values`` the value of each constant one.
    Every intermediate is a ``const`` local of its kind's C type.
    """
    tree = ast.parse(step.source)
    fn = tree.body[0]
    t = _ToC(kinds, values)
    lines, results = [], None
    for stmt in fn.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # the docstring
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
                and isinstance(stmt.targets[0], ast.Name):
            code, kind = t.expr(stmt.value)
            name = stmt.targets[0].id
            t.kinds[name] = kind
            t.values.pop(name, None)
            try:  # a constant: later expressions fold it too, with its NumPy type
                value = float(code.strip("()"))
                t.values[name] = value if kind == "weak" else np.float64(value)
            except ValueError:
                pass
            lines.append(f"const {_CTYPE[kind]} {name} = {code};")
        elif isinstance(stmt, ast.Return):
            value = stmt.value
            names = [e.id for e in value.elts] if isinstance(value, ast.Tuple) else [value.id]
            results = [(n, t.kinds[n]) for n in names]
        else:
            raise ValueError(f"cannot translate {ast.unparse(stmt)!r} to CUDA C")
    return lines, results


#: The update rule of each model (``lif_update``, ``hh_update`` in core/neurons.py), in C.
#: ``{store}`` writes the new state; ``spike`` is this step's spike decision.
_UPDATES = {
    "lif": """
        const bool spike = !refractory && {v_new_ge_th};
        {store}
""",
    "hh": """
        const bool spike = !refractory && (v < {v_th_T}) && {v_new_ge_th};
        {store}
""",
}


def _neuron_source(neurons, dtype, float_spikes: bool) -> str:
    """CUDA source of ``neuron_update``: one thread per neuron, the model's update rule."""
    model, params, step = neurons.model, neurons.params, neurons.integrator
    if model.name not in _UPDATES:
        raise SynbenchError(f"the CuPy runner has no update rule for the {model.name!r} model "
                            f"(it knows {', '.join(_UPDATES)})")
    ctype = _CTYPES[np.dtype(dtype).name]
    kinds = {"t": "weak", "dt": "weak", **{x: "T" for x in step.variables}}
    consts = [f"const double dt = {float(neurons.dt)!r};",
              "const double t = ((double)step) * dt;"]
    for name in step.parameters:
        if name == "i_syn":
            kinds[name] = "T"
        else:
            kinds[name] = "weak"
            consts.append(f"const double {name} = {float(getattr(params, name))!r};")
    values = {"dt": neurons.dt, **{name: getattr(params, name) for name in step.parameters
                                   if name != "i_syn"}}
    lines, results = step_to_c(step, kinds, values)
    new_kind = dict(results)
    v_kind = new_kind["v_new"]
    th_kind = _promote(v_kind, "weak")
    v_th = repr(float(params.v_th))
    fields = {
        "v_new_ge_th": f"({_cast('v_new', v_kind, th_kind)} >= {_cast(v_th, 'weak', th_kind)})",
        "v_th_T": _cast(v_th, "weak", "T"),
    }
    if model.name == "lif":  # where(refractory, v, where(spike, v_reset, v_int))
        inner_kind = _promote("weak", v_kind)
        inner = (f"(spike ? {_cast(repr(float(params.v_reset)), 'weak', inner_kind)} : "
                 f"{_cast('v_new', v_kind, inner_kind)})")
        outer_kind = _promote("T", inner_kind)
        value = (f"(refractory ? {_cast('v', 'T', outer_kind)} : "
                 f"{_cast(inner, inner_kind, outer_kind)})")
        fields["store"] = f"arr_v[j] = {_cast(value, outer_kind, 'T')};"
    else:  # every neuron integrates
        fields["store"] = "\n        ".join(
            f"arr_{x}[j] = {_cast(f'{x}_new', new_kind[f'{x}_new'], 'T')};" for x in step.variables)
    update = _UPDATES[model.name].format(**fields)
    state_args = "".join(f"T* arr_{x}, " for x in step.variables)
    loads = "".join(f"        const T {x} = arr_{x}[j];\n" for x in step.variables)
    body = "\n".join(f"        {line}" for line in lines)
    float_line = "        spikes_float[j] = spike ? (T)1 : (T)0;\n" if float_spikes else ""
    source = f"""
// Generated by synbench.impls.cupy_backend from {model.name}'s {neurons.method} integrator:
// {step.source.splitlines()[1].strip()}
extern "C" __global__ void neuron_update({state_args}const T* arr_i_syn, int* last_spike,
        bool* spiked, T* spikes_float, int* ctl, int* spike_ids, long long capacity,
        long long n_neurons) {{
    const long long step = ctl[CTL_STEP];
    {chr(10).join('    ' + c for c in consts).strip()}
    SYNBENCH_GRID_STRIDE(j, n_neurons) {{
{loads}        const T i_syn = arr_i_syn[j];
        const bool refractory = (step - (long long)last_spike[j]) <= {int(neurons.ref_steps)}LL;
{body}
{update}        spiked[j] = spike;
{float_line}        if (spike) {{
            last_spike[j] = (int)step;
            record_spike(ctl, spike_ids, capacity, j);
        }}
    }}
}}
"""
    return source.replace("T*", f"{ctype}*").replace("(T)", f"({ctype})").replace(
        "const T ", f"const {ctype} ")


@cache
def _network_module(neuron_source: str, dtype: str) -> cupy.RawModule:
    """network.cu plus a generated ``neuron_update``, compiled for ``dtype``."""
    ctype = _CTYPES[dtype]
    names = kernel_names("network.cu")
    return cupy.RawModule(
        code=(CUDA_DIR / "network.cu").read_text() + neuron_source, options=COMPILE_OPTIONS,
        name_expressions=[f"{name}<{ctype}>" for name in names],
    )


# --- the runner: every step on the GPU, a chunk of steps per host round trip ---

#: How ``network_currents`` reads each strategy's post conductance (MODE_* in
#: network.cu), and which kernel (if any) does the strategy's work for all projections.
_MODES = {"READ": 0, "READ_CLEAR": 1, "DECAY_INC": 2, "POST_SLICE": 3, "POST2SYN": 4}
_PLANS = {
    "dense": ("READ", "network_matrix"),
    "event_dense": ("READ", "network_matrix"),
    "pre_ids": ("READ_CLEAR", "network_pre_ids"),
    "pre2syn": ("POST2SYN", "network_pre2syn"),  # then network_post_sums
    "post_slice": ("POST_SLICE", "network_post_sums"),
    "pre2post": ("DECAY_INC", "network_pre2post"),
    "pre_slice": ("DECAY_INC", "network_pre_slice"),
    "csr": ("READ", None),
}
_INT_FIELDS = ("mode", "pre_start", "n_pre", "post_start", "n_post", "n_syn", "w_stride",
               "width", "col_width", "event_only")
_PTR_FIELDS = ("state", "buf", "g_init", "w", "matrix", "slices", "row_start", "pre", "post",
               "rows", "cols")
#: ``struct Proj`` of network.cu: every field 8 bytes, so NumPy and C agree on the layout.
PROJ_DTYPE = np.dtype([(f, np.int64) for f in _INT_FIELDS]
                      + [("decay", np.float64), ("e_rev", np.float64)]
                      + [(f, np.uint64) for f in _PTR_FIELDS])
CTL_STEP, CTL_BASE, CTL_TOTAL, CTL_START = range(4)


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() not in ("0", "false", "no", "")


def _ptr(x) -> int:
    return 0 if x is None else int(x.data.ptr)


def _sm_count() -> int:
    return int(cupy.cuda.Device().attributes["MultiProcessorCount"])


def _resident_blocks(n_threads: int) -> tuple[int]:
    """Blocks for a grid-stride loop over ``n_threads``, at most what the GPU holds at once."""
    return (max(1, min(-(-int(n_threads) // BLOCK), _sm_count() * (2048 // BLOCK))),)


class _SpMV:
    """``y = A x + beta y`` by cuSPARSE, its descriptors and workspace made once.

    Nothing is allocated per call, so the call can be captured in a CUDA graph
    (``cupyx.cusparse.spmv`` allocates its workspace on every call). ``graph_safe`` is
    False when this CuPy lacks the internals used, and the call falls back to ``cupyx``.
    """

    def __init__(self, matrix, x, y, beta):
        import cupyx.cusparse

        self.args = (matrix, x, y, float(beta))
        self.graph_safe = False
        try:
            from cupy._core import _dtype
            from cupy_backends.cuda.libs import cusparse

            self.lib = cusparse
            self.descs = (cupyx.cusparse.SpMatDescriptor.create(matrix),
                          cupyx.cusparse.DnVecDescriptor.create(x),
                          cupyx.cusparse.DnVecDescriptor.create(y))
            self.alpha, self.beta = np.ones((), y.dtype), np.array(beta, y.dtype)
            self.cuda_dtype = _dtype.to_cuda_dtype(y.dtype)
            handle = cupy.cuda.device.get_cusparse_handle()
            size = cusparse.spMV_bufferSize(
                handle, cusparse.CUSPARSE_OPERATION_NON_TRANSPOSE, self.alpha.ctypes.data,
                self.descs[0].desc, self.descs[1].desc, self.beta.ctypes.data, self.descs[2].desc,
                self.cuda_dtype, cusparse.CUSPARSE_MV_ALG_DEFAULT)
            self.buffer = cupy.empty(max(int(size), 1), np.int8)
            self.graph_safe = True
        except (ImportError, AttributeError, TypeError):
            pass

    def __call__(self):
        if not self.graph_safe:
            import cupyx.cusparse

            matrix, x, y, beta = self.args
            cupyx.cusparse.spmv(matrix, x, y=y, alpha=1.0, beta=beta)
            return
        lib, (a, x, y) = self.lib, self.descs
        handle = cupy.cuda.device.get_cusparse_handle()
        lib.setStream(handle, cupy.cuda.get_current_stream().ptr)
        lib.spMV(handle, lib.CUSPARSE_OPERATION_NON_TRANSPOSE, self.alpha.ctypes.data, a.desc,
                 x.desc, self.beta.ctypes.data, y.desc, self.cuda_dtype,
                 lib.CUSPARSE_MV_ALG_DEFAULT, self.buffer.data.ptr)


class _Projection:
    """One projection on the GPU: the entry's data and state plus the runner's buffers."""

    def __init__(self, spec, p, entry, conn, dt, dtype):
        self.name = p.name
        self.pre, self.post = spec.group(p.pre), spec.group(p.post)
        self.data = entry.prepare(conn, p.weight, dtype)
        self.state = entry.init_state(self.data)
        self.decay = dtype.type(decay_factor(p.tau, dt, spec.method))
        self.e_rev = dtype.type(p.e_rev)
        g_init = spec.initial_g.get(p.name)
        self.g_init = None if g_init is None else cupy.asarray(np.asarray(g_init, dtype))
        self.mode, self.kernel = _PLANS[entry.name]
        # g_post for READ (dense's mat-vec output; csr's state), POST_SLICE and POST2SYN
        # (network_post_sums' output), the atomic accumulator for READ_CLEAR, this step's
        # events for DECAY_INC.
        self.buf = self.state if entry.name == "csr" else cupy.zeros(self.post.size, dtype)

    def record(self, entry_name: str) -> np.ndarray:
        """This projection as one ``struct Proj`` of network.cu."""
        d = self.data
        r = np.zeros((), PROJ_DTYPE)
        r["mode"] = _MODES[self.mode]
        r["pre_start"], r["n_pre"] = self.pre.start, self.pre.size
        r["post_start"], r["n_post"] = self.post.start, self.post.size
        r["n_syn"], r["decay"], r["e_rev"] = d.n_syn, self.decay, self.e_rev
        r["state"], r["buf"], r["g_init"] = _ptr(self.state), _ptr(self.buf), _ptr(self.g_init)
        r["w"], r["w_stride"] = _ptr(d.w), d.w_stride
        if entry_name in ("dense", "event_dense"):
            r["matrix"], r["event_only"] = _ptr(d.weight_matrix), entry_name == "event_dense"
        elif entry_name == "pre_ids":
            r["pre"], r["post"] = _ptr(d.pre_ids), _ptr(d.post_ids)
        elif entry_name == "pre2syn":
            r["rows"], r["width"] = _ptr(d.pre2syn), d.pre2syn.shape[1]
            r["cols"], r["col_width"] = _ptr(d.post2syn), d.post2syn.shape[1]
        elif entry_name == "post_slice":
            r["slices"], r["pre"] = _ptr(d.post_slice), _ptr(d.pre_by_post)
        elif entry_name == "pre2post":
            r["rows"], r["width"], r["row_start"] = _ptr(d.ell), d.ell.shape[1], _ptr(d.row_start)
        elif entry_name == "pre_slice":
            r["slices"], r["post"] = _ptr(d.pre_slice), _ptr(d.post_ids)
        return r

    def work(self) -> int:
        """Threads the strategy kernel needs for this projection."""
        d = self.data
        if self.kernel == "network_matrix":
            return d.n_pre * d.n_post
        if self.kernel == "network_pre_ids":
            return d.n_syn
        if self.kernel == "network_pre2syn":
            return d.n_pre * d.pre2syn.shape[1]
        return 0


class Simulation:
    """The ``Simulation`` protocol of ``synbench.run``: each step a few kernels, no host.

    One step is (DESIGN section 3): the neuron kernel (update, threshold, reset,
    refractoriness; it also appends the step's spikes to the monitor on the GPU), the
    strategy's kernels, each for all four projections at once (pre_slice: one warp per
    spike of the compacted list; post_slice: one warp per post neuron updating and
    summing its slice; ...; or one library call per projection: cuBLAS for dense,
    cuSPARSE for csr), then ``network_currents``, which folds each projection's decay
    into reading its conductance and accumulates I_syn in projection order.
    ``launches_per_step`` counts them: 3 for pre_slice, pre2post, pre_ids and
    post_slice, 4 for pre2syn, 6 for csr, 7 for dense and event_dense.

    Everything that changes between steps (the step index, the monitor's fill) lives
    on the GPU, so ``graph_steps`` steps are captured once as a CUDA graph and replayed;
    ``use_graphs = False`` (or the environment variable ``SYNBENCH_CUPY_GRAPHS=0``)
    launches every kernel from Python instead. CuPy refuses cuBLAS and cuSPARSE calls
    during capture, so dense, event_dense and csr always launch step by step
    (``graph_error`` says why). The host sees the GPU once per chunk: the chunk's spikes
    are sorted (by step, then neuron) on the GPU and copied.

    The arithmetic and its order are those of ``synbench.impls._population``, without
    fused multiply-adds; CUDA's ``exp`` and the atomic or library sums may differ from
    NumPy's in the last bit.
    """

    use_graphs = _env_flag("SYNBENCH_CUPY_GRAPHS", True)
    graph_steps = int(os.environ.get("SYNBENCH_CUPY_GRAPH_STEPS", "100"))
    #: Largest spike monitor, in spikes per chunk (a smaller chunk_steps lowers the need).
    max_capacity = 1 << 26

    def __init__(self, spec, entry, conns, dt, dtype, chunk_steps, *, use_graphs=None,
                 graph_steps=None):
        self.dtype = np.dtype(dtype)
        self.entry, self.n, self.chunk_steps = entry, spec.n, int(chunk_steps)
        self.step_index = 0
        if use_graphs is not None:
            self.use_graphs = bool(use_graphs)
        if graph_steps is not None:
            self.graph_steps = int(graph_steps)
        self.graph_steps = max(1, min(self.graph_steps, self.chunk_steps))
        self.graph_error = None
        self._graph = None
        self.neurons = neuron_model(spec, dt, np)  # parameters, method, ref_steps, integrator
        self.vars = {k: cupy.asarray(np.asarray(v, self.dtype)) for k, v in spec.initial.items()}
        self.last_spike = cupy.full(spec.n, NEVER_SPIKED, dtype=np.int32)
        self.i_syn = cupy.zeros(spec.n, dtype=self.dtype)
        self.spiked = cupy.zeros(spec.n, dtype=bool)
        self.ctl = cupy.zeros(4, dtype=np.int32)
        self.ends = cupy.zeros(self.chunk_steps, dtype=np.int32)
        # A neuron spikes at most once per refractory period plus one step.
        per_neuron = -(-self.chunk_steps // (self.neurons.ref_steps + 1))
        self.capacity = min(spec.n * per_neuron, self.max_capacity)
        self.spike_ids = cupy.zeros(max(self.capacity, 1), dtype=np.int32)
        self.projections = [
            _Projection(spec, p, entry, conns[p.name], dt, self.dtype)
            for p in (spec.projections if entry is not None else ())
        ]
        # csr multiplies the spikes as floats: the neuron kernel writes them then.
        float_spikes = entry is not None and entry.name == "csr"
        self.spikes_float = cupy.zeros(spec.n if float_spikes else 1, self.dtype)
        self.neuron_source = _neuron_source(self.neurons, self.dtype, float_spikes)
        table = np.stack([p.record(entry.name) for p in self.projections]) if \
            self.projections else np.zeros(1, PROJ_DTYPE)
        self.table = cupy.asarray(table.view(np.uint8))
        self._program = None
        self._compiled = False
        cupy.cuda.Device().synchronize()
        self.stream = cupy.cuda.Stream(non_blocking=True)

    # --- one step as a list of launches ---

    @property
    def launches_per_step(self) -> int:
        """Kernel launches (and library calls) per step, without graphs."""
        return len(self._get_program())

    def _kernel(self, name: str):
        module = _network_module(self.neuron_source, self.dtype.name)
        return module.get_function(name if name == "neuron_update" else
                                   f"{name}<{_CTYPES[self.dtype.name]}>")

    def _get_program(self):
        if self._program is None:
            self._program = self._build_program()
        return self._program

    def _build_program(self):
        """The launches of one step, as argument-free callables (kernels bound to args)."""
        n, projs = np.int64(self.n), self.projections
        n_proj = np.int32(len(projs))
        state = [self.vars[x] for x in self.neurons.integrator.variables]
        program = [_bind(self._kernel("neuron_update"), _blocks(self.n), (
            *state, self.i_syn, self.last_spike, self.spiked, self.spikes_float, self.ctl,
            self.spike_ids, np.int64(self.capacity), n))]
        kind = projs[0].kernel if projs else None
        if kind in ("network_matrix", "network_pre_ids", "network_pre2syn"):
            work = max(p.work() for p in projs)
            if work:
                program.append(_bind(self._kernel(kind), (_blocks(work)[0], len(projs)),
                                     (self.table, self.spiked)))
        elif kind == "network_pre2post":
            program.append(_bind(self._kernel(kind), _resident_blocks(self.n),
                                 (self.table, n_proj, self.spiked, n)))
        elif kind == "network_pre_slice":
            program.append(_bind(self._kernel(kind), _resident_blocks(32 * self.n),
                                 (self.table, n_proj, self.spike_ids, self.ctl,
                                  np.int64(self.capacity))))
        if self.entry is not None and self.entry.name in ("post_slice", "pre2syn"):
            program.append(_bind(self._kernel("network_post_sums"), _blocks(32 * self.n),
                                 (self.table, n_proj, self.spiked, n)))
        if self.entry is not None and self.entry.name in ("dense", "event_dense"):
            for p in projs:
                program.append(_ColumnSums(p.data, p.state, p.buf))
        if self.entry is not None and self.entry.name == "csr":
            for p in projs:
                if p.data.n_syn:
                    x = self.spikes_float[p.pre.start:p.pre.stop]
                    program.append(_SpMV(p.data.matrix_t, x, p.state, p.decay))
                else:  # nothing arrives: the conductance only decays
                    program.append(_bind(kernel("scale", self.dtype), _blocks(p.post.size),
                                         (p.state, p.decay, np.int64(p.post.size))))
        program.append(_bind(self._kernel("network_currents"), _blocks(self.n), (
            self.i_syn, self.vars["v"], self.table, n_proj, self.spiked, n, self.ctl, self.ends)))
        return program

    def _steps(self, count: int) -> None:
        program = self._get_program()
        for _ in range(count):
            for launch in program:
                launch()

    # --- the protocol ---

    def compile(self) -> None:
        """Compile every kernel, warm the libraries up, and capture the step graph.

        One step (and the monitor's sort) runs on a copy of the state, restored after, so
        that lazy module loading and library set-up happen here, not in the timed run.
        """
        saved = [(x, x.copy()) for x in self._mutable()]
        with self.stream:
            self.ctl.set(np.array([0, 0, 0, 0], np.int32), stream=self.stream)
            self._steps(1)
            self.stream.synchronize()
            self._sorted_spikes(1, 1)  # loads (or compiles) the sort kernels
            for x, copy in saved:
                x[...] = copy
            self.stream.synchronize()
        if self.use_graphs and self._graph is None:
            self._capture()
        self._compiled = True

    def _capture(self) -> None:
        graph_safe = all(getattr(f, "graph_safe", True) for f in self._get_program())
        if not graph_safe:
            self.graph_error = "a library call allocates per call"
            return
        try:
            with self.stream:
                self.stream.begin_capture()
                try:
                    self._steps(self.graph_steps)
                finally:
                    graph = self.stream.end_capture()
        except Exception as err:  # report it, and launch step by step instead
            self.graph_error = f"{type(err).__name__}: {err}"
            graph = None
        self._graph = graph

    def advance(self, n_steps):
        if not self._compiled:
            self.compile()
        steps, ids = [], []
        done = 0
        while done < n_steps:
            size = min(self.chunk_steps, n_steps - done)
            chunk_steps, chunk_ids = self._chunk(size)
            steps.append(chunk_steps)
            ids.append(chunk_ids)
            done += size
        if not steps:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        return np.concatenate(steps), np.concatenate(ids)

    def _chunk(self, size: int):
        first = self.step_index
        with self.stream:
            self.ctl.set(np.array([first, first, 0, 0], np.int32), stream=self.stream)
            replays = size // self.graph_steps if self._graph is not None else 0
            for _ in range(replays):
                self._graph.launch(self.stream)
            self._steps(size - replays * self.graph_steps)
            total = int(self.ends[size - 1].get(stream=self.stream))
            if total > self.capacity:
                raise SynbenchError(
                    f"{total} spikes in {size} steps overflow the GPU spike monitor "
                    f"({self.capacity}); use a smaller chunk_steps")
            keys = self._sorted_spikes(size, total).get(stream=self.stream)
        self.step_index += size
        steps, fired = np.divmod(keys, self.n)
        return (first + steps).astype(np.int32), fired.astype(np.int32)

    def _sorted_spikes(self, size: int, total: int):
        """The chunk's spikes as keys step_in_chunk * n + neuron, sorted on the GPU.

        As NumPy's nonzero lists them: by step, then neuron. The monitor holds them
        grouped by step already, unordered within one.
        """
        keys = cupy.searchsorted(self.ends[:size], cupy.arange(total, dtype=np.int32),
                                 side="right").astype(np.int64)
        keys *= self.n
        keys += self.spike_ids[:total]
        return cupy.sort(keys)

    def _mutable(self):
        """Every array a step writes."""
        arrays = [*self.vars.values(), self.last_spike, self.i_syn, self.spiked, self.ctl,
                  self.ends, self.spike_ids, self.spikes_float]
        for p in self.projections:
            arrays += [x for x in (p.state, p.buf, p.g_init) if x is not None]
        unique = {id(x): x for x in arrays}
        return list(unique.values())

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the state as NumPy arrays: as ``PopulationRunner.snapshot``."""
        self.stream.synchronize()
        out = {k: to_numpy(v).copy() for k, v in self.vars.items()}
        out["i_syn"] = to_numpy(self.i_syn).copy()
        out["last_spike"] = to_numpy(self.last_spike).copy()
        for p in self.projections:
            g = self.entry.conductance(p.data, p.state)
            if p.g_init is not None:
                g = g + p.g_init
            out[f"g:{p.name}"] = to_numpy(g).copy()
        return out


class _bind:  # noqa: N801 - reads as a function
    """A kernel bound to its launch configuration and arguments: call it to launch."""

    __slots__ = ("kernel", "grid", "args")

    def __init__(self, k, grid, args):
        self.kernel, self.grid, self.args = k, tuple(grid), tuple(args)

    def __call__(self):
        self.kernel(self.grid, (BLOCK,), self.args)


class _ColumnSums:
    """dense's per-step cuBLAS mat-vec into the projection's g_post buffer."""

    def __init__(self, data, g, out):
        self.data, self.g, self.out = data, g, out

    def __call__(self):
        _column_sums(self.data, self.g, self.out)
