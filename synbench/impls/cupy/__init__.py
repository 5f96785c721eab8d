"""CuPy backend: the strategies as CUDA kernels, and a runner that stays on the GPU.

Each strategy module registers its functions, and its CUDA source
``synbench/impls/cupy/cuda/<strategy>.cu`` holds the strategy's one ``__device__`` body,
the standalone kernels that ``deliver`` and ``step`` launch, and the functor through
which the runner's whole-network step runs the same body (``cuda/common.cuh`` says
more). :func:`kernel` compiles a source once per dtype (``cupy.RawModule`` with NVRTC,
``--fmad=false`` so that ``a * b + c`` rounds as NumPy rounds) and returns one kernel
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

Kernel API (``synbench.core.registry.Entry``): ``prepare``, ``init_state``,
``deliver(data, state, events)`` (in place; ``events`` a CuPy bool spike array of the
pre group or one float amplitude per pre neuron), ``conductance(data, state, out=None)``
and the one-call ``step(data, state, spikes, decay)``. Where the state lives on post
neurons the conductance *is* the state.

Atomic additions (pre_ids, pre2post, pre_slice) and the libraries' mat-vecs sum in an
order of their own, so float64 results agree with the NumPy reference to a few ulp,
not bit for bit.

Importing this package imports CuPy (an ImportError without it, which the registry
turns into "cupy is not installed"); :func:`unavailable_reason` says why it cannot run
when CuPy is there but no usable GPU is.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import cupy
import numpy as np

from ...core import registry, strategies
from ...core.connect.structures import weight_matrix as dense_weights
from ...core.errors import SynbenchError
from ...core.registry import as_weight
from ...core.strategies import state_shape
from .. import import_strategies

CUDA_DIR = Path(__file__).parent / "cuda"
COMPILE_OPTIONS = ("--fmad=false", "--std=c++17")
BLOCK = 256  # threads per block of every hand-written kernel
MAX_BLOCKS = 1 << 16  # grid-stride loops cover the rest
CTYPES = {"float32": "float", "float64": "double"}


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

_INCLUDE = re.compile(r'^#include "([^"]+)"[ \t]*$', re.M)
_KERNEL = re.compile(r"template\s*<([^<>]*)>\s*__global__\s+void\s+(\w+)\s*\(")
_MODE = re.compile(r"^#define MODE_(\w+) (\d+)", re.M)
#: What each template parameter of a kernel stands for: the float type, and the type of
#: this step's events (bool spikes or float amplitudes). A functor parameter (network.cu's
#: ``S``) is the runner's to fill.
_TYPE_PARAMETERS = ("T", "E")


def source_path(source) -> Path:
    """``cuda/<source>``, or ``source`` itself if it is an absolute path (a user's file)."""
    path = Path(source)
    return path if path.is_absolute() else CUDA_DIR / path


def cuda_source(*sources) -> str:
    """The text of ``sources`` in order, each ``#include "x"`` replaced by x's text once.

    Included files are looked up beside the including file, then in ``cuda/``. The text
    is complete, so CuPy's compile cache (keyed on the code) sees every change.
    """
    seen: set[Path] = set()

    def text(path: Path) -> str:
        if path in seen:
            return ""
        seen.add(path)

        def include(match):
            beside = path.parent / match.group(1)
            return text(beside if beside.exists() else CUDA_DIR / match.group(1))

        return _INCLUDE.sub(include, path.read_text())

    return "\n".join(text(source_path(s).resolve()) for s in sources)


@cache
def kernel_templates(source) -> dict[str, tuple[str, ...]]:
    """The templated ``__global__`` kernels of ``source`` itself (not of what it
    includes), each with its template parameters' names."""
    return {name: tuple(p.split()[-1] for p in params.split(","))
            for params, name in _KERNEL.findall(source_path(source).read_text())}


def instances(source, dtype) -> list[str]:
    """Every instance of ``source``'s kernels for ``dtype``: ``name<T>`` and, for
    kernels that read events, ``name<T, bool>`` and ``name<T, T>``."""
    ctype = CTYPES[np.dtype(dtype).name]
    found = []
    for name, params in kernel_templates(source).items():
        if set(params) <= set(_TYPE_PARAMETERS):
            for event_type in (("bool", ctype) if "E" in params else (None,)):
                found.append(_instance(name, params, ctype, event_type))
    return found


def _instance(name, params, ctype, event_type) -> str:
    args = {"T": ctype, "E": event_type}
    return f"{name}<{', '.join(args[p] for p in params)}>"


@cache
def modes() -> dict[str, int]:
    """How ``network_currents`` can read a post conductance: the MODE_* of network.cu."""
    return {k: int(v) for k, v in _MODE.findall(source_path("network.cu").read_text())}


@cache
def _module(source, dtype: str) -> cupy.RawModule:
    return cupy.RawModule(code=cuda_source(source), options=COMPILE_OPTIONS,
                          name_expressions=instances(source, dtype))


def kernel(name: str, dtype, source, events=None) -> cupy.RawKernel:
    """The compiled instance of kernel ``name`` of ``cuda/<source>`` for ``dtype``.

    ``events`` is the dtype of the events array the kernel reads (bool spikes or
    ``dtype`` amplitudes), for kernels that read one.

    >>> update = kernel("pre_ids_update", "float64", "pre_ids.cu", events=bool)  # doctest: +SKIP
    >>> update((blocks,), (256,), (g, pre, w, np.int32(0), spikes, np.float64(1), n_syn))
    """
    dtype = np.dtype(dtype).name
    if dtype not in CTYPES:
        raise SynbenchError(f"dtype must be float32 or float64, not {dtype}")
    return _kernel(name, dtype, source, None if events is None else np.dtype(events).name)


@cache
def _kernel(name: str, dtype: str, source, events: str | None) -> cupy.RawKernel:
    params = kernel_templates(source).get(name)
    if params is None:
        raise SynbenchError(f"no templated kernel {name!r} in {source}")
    event_type = None
    if "E" in params:
        if events not in ("bool", dtype):
            raise SynbenchError(f"kernel {name!r} reads events: bool spikes or {dtype} "
                                f"amplitudes, not {events}")
        event_type = "bool" if events == "bool" else CTYPES[dtype]
    return _module(source, dtype).get_function(_instance(name, params, CTYPES[dtype], event_type))


def blocks(n_threads: int) -> tuple[int]:
    """Blocks of BLOCK threads for ``n_threads`` (at most MAX_BLOCKS: the loops stride)."""
    return (max(1, min(-(-int(n_threads) // BLOCK), MAX_BLOCKS)),)


def launch(source, name, n_threads, *args, dtype, events=None) -> None:
    """Launch kernel ``name`` of ``cuda/<source>`` with enough blocks for ``n_threads``."""
    kernel(name, dtype, source, events)(blocks(n_threads), (BLOCK,), args)


def scale(x, factor):
    """``x *= factor`` in x's dtype (kernel ``scale`` of common.cuh); returns x."""
    launch("common.cuh", "scale", x.size, x, x.dtype.type(factor), i64(x.size), dtype=x.dtype)
    return x


def i64(x) -> np.int64:
    return np.int64(x)


def events_array(events, data):
    """``events`` as the contiguous CuPy array a kernel reads: bool spikes as they are,
    anything else as amplitudes of ``data.dtype`` (no copy when it already is one)."""
    events = cupy.asarray(events)
    if events.shape != (data.n_pre,):  # the kernels would read past its end
        raise SynbenchError(f"events must be one per pre neuron ({data.n_pre},), "
                            f"not shape {events.shape}")
    if events.dtype != np.bool_:
        events = events.astype(data.dtype, copy=False)
    return cupy.ascontiguousarray(events)


# --- registration ---


def register(name, *, prepare, conductance, deliver=None, update=None, state_shape=None,
             step=None, **extras):
    """Register strategy ``name`` on CuPy.

    ``update(data, state, events, decay)``, where a strategy's kernel decays and adds in
    one pass, gives both ``step`` (itself) and ``deliver`` (with decay 1: multiplying by 1
    is exact, and the kernel a user calls is the one the runner's benchmarks time).
    Otherwise ``step`` is ``state *= decay`` (kernel ``scale``) then ``deliver``.
    ``init_state`` gives zeros of the declared state kind, or of ``state_shape(data)``
    where the strategy lays its state out otherwise. The kernels are registered
    behind the checks of their arguments (``registry.checked_kernels``; ``out``, which
    ``post_is_state`` fills, is checked too). The extras say how the runner's
    whole-network step runs the strategy (runner.Simulation reads nothing else):

    - ``reads``: how ``network_currents`` reads the post conductance, a MODE_* of
      network.cu (``"READ"``, ``"READ_CLEAR"``, ``"DECAY_INC"``, ``"STATE"``);
    - ``cuda`` and ``functor``: the source holding the strategy's body and the struct in
      it that network.cu's stages call;
    - ``launches``: those stages, in order, each for all projections at once:
      ``network_items`` (a thread per item), ``network_post_sums`` (a warp per post
      neuron), ``network_spike_flags`` (a warp per 32 spike flags, then per spiking
      row), ``network_spike_list`` (a warp per spike of the step);
    - ``items``: ``data -> int``, the threads of ``network_items`` for one projection;
    - ``record``: ``data -> {field: array or int}``, the fields of ``struct Proj`` the
      functor reads (the runner fills sizes, weights, state, buffer and decay);
    - ``library``: ``(data, state, buf, spikes, decay) -> callable``, launched once per
      projection per step after the stages (a cuBLAS or cuSPARSE call);
    - ``float_spikes``: the library call reads the spikes as 0.0 / 1.0 (``spikes``).
    """
    known_modes = modes()
    if extras.get("reads") not in known_modes:
        raise SynbenchError(f"{name}: reads= must be one of {', '.join(known_modes)}")
    launches = extras.get("launches", ())
    if launches and not (extras.get("cuda") and extras.get("functor")):
        raise SynbenchError(f"{name}: launches need the cuda= source and its functor=")
    if "network_items" in launches and extras.get("items") is None:
        raise SynbenchError(f"{name}: network_items needs items=")
    if update is not None:
        step = step or update

        def deliver(data, state, events):
            return update(data, state, events, 1)
    elif step is None:
        def step(data, state, spikes, decay):
            return deliver(data, scale(state, decay), spikes)
    state_kind = strategies.strategy(name).state
    return registry.register(
        name, "cupy", prepare=prepare,
        init_state=lambda data: zeros(data, state_kind, state_shape),
        **registry.checked_kernels(state_kind, deliver, step, conductance, state_shape),
        **extras)


# --- prepare / init_state / conductance shared by strategies ---


def zeros(data, state_kind: str, shape=None):
    """A zero state held per matrix element, synapse, post or pre neuron (or of
    ``shape(data)``)."""
    size = state_shape(state_kind, data) if shape is None else shape(data)
    return cupy.zeros(size, dtype=data.dtype)


def index_array(x, dtype=np.int32):
    """An index array on the GPU (int32 ids, int64 offsets), refusing what overflows."""
    x = np.asarray(x)
    if dtype == np.int32 and x.size and x.max() >= 2**31:
        raise SynbenchError("the CuPy kernels index synapses with int32: use fewer than 2**31")
    return cupy.asarray(np.ascontiguousarray(x, dtype=dtype))


def kernel_data(conn, weight, dtype, **arrays):
    """Sizes, the weight (``w`` with ``w_stride`` 0 if shared, 1 if per synapse), arrays."""
    w = as_weight(weight, conn.n_syn, dtype)
    return SimpleNamespace(
        n_pre=conn.n_pre, n_post=conn.n_post, n_syn=conn.n_syn, dtype=np.dtype(dtype),
        w=cupy.asarray(np.atleast_1d(w)), w_stride=np.int32(w.ndim), **arrays,
    )


def out_array(data, out):
    return cupy.empty(data.n_post, dtype=data.dtype) if out is None else out


def post_is_state(data, g, out=None):
    """The conductance of a post-state strategy: the state itself."""
    if out is not None:
        out[...] = g
        return out
    return g


def weight_matrix(conn, weight, dtype):
    """``kernel_data`` with the (n_pre, n_post) weight matrix, zero where no synapse (the
    weights of a pair's several synapses, multapses, summed in its element)."""
    w = dense_weights(conn, as_weight(weight, conn.n_syn, dtype), dtype)
    data = kernel_data(conn, 0.0, dtype, weight_matrix=cupy.asarray(w))
    data.ones = cupy.ones(conn.n_pre, dtype=dtype)
    data.alpha, data.beta = np.ones((), dtype), np.zeros((), dtype)  # host scalars for cuBLAS
    return data


def column_sums(data, g, out=None):
    """g_post[j] = sum_i g[i, j]: the row-weighted column sums with weights of one."""
    return weighted_column_sums(data, g, data.ones, out)


def weighted_column_sums(data, matrix, row_weights, out=None):
    """out[j] = sum_i matrix[i, j] row_weights[i]: one cuBLAS mat-vec, the row-major
    (n_pre, n_post) ``matrix`` read as (n_post, n_pre) column-major."""
    from cupy_backends.cuda.libs import cublas

    out = out_array(data, out)
    if data.n_pre == 0 or data.n_post == 0:
        out.fill(0)
        return out
    handle = cupy.cuda.device.get_cublas_handle()
    cublas.setStream(handle, cupy.cuda.get_current_stream().ptr)
    cublas.setPointerMode(handle, cublas.CUBLAS_POINTER_MODE_HOST)
    gemv = cublas.dgemv if data.dtype == np.float64 else cublas.sgemv
    gemv(handle, cublas.CUBLAS_OP_N, data.n_post, data.n_pre, data.alpha.ctypes.data,
         matrix.data.ptr, data.n_post, row_weights.data.ptr, 1, data.beta.ctypes.data,
         out.data.ptr, 1)
    return out


class ColumnSums:
    """The runner's per-step call for matrix strategies (``library``): the column sums
    of the state into the projection's buffer, which network_currents reads."""

    def __init__(self, data, g, out, spikes, decay):
        self.data, self.g, self.out = data, g, out

    def __call__(self):
        column_sums(self.data, self.g, self.out)


from .runner import Simulation  # noqa: E402

import_strategies(__name__, __path__)

__all__ = ["Simulation", "asarray", "free_memory", "kernel", "register", "synchronize",
           "to_numpy", "unavailable_reason"]
