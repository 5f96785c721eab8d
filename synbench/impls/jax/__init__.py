"""JAX backend: the strategies as fixed-shape array programs under ``jax.jit``.

JAX traces a function once per set of array shapes and compiles it with XLA, so every
array in a step must have a shape known before any spike happens (the lesson of the seed
tutorial's last section, "Synaptic computing in JAX backend"). Strategies that are
vectorised by nature (dense, pre_ids, post_slice, csr) translate directly; those that loop
over the neurons that spiked (pre2syn, pre2post, pre_slice) compact the spiking indices
into a buffer of static size ``max_spikes`` and process it in blocks until every spike is
done (``_events``), so a burst larger than the buffer costs more blocks but never loses a
spike. event_dense selects rows with a mask: it is event-driven in what it adds, not in
what it costs.

One module per strategy registers ``prepare``, ``deliver`` and ``conductance`` (kernel
API, ``synbench.core.registry.Entry``), all functional: ``deliver(data, state, events)``
returns the new state. ``events`` is a bool spike array of the pre group (a spike adds
exactly its weights) or one float amplitude per pre neuron. An event-driven strategy
also registers its block adder ``add(data, state, ids, amplitudes=None)`` (``ids``: a
fixed-size block of pre ids padded with n_pre) as the extra ``add_events``, which the
runner calls on the spike ids it has compacted once for the whole network.

``data`` is a :class:`KernelData` pytree, so a kernel can be called inside the user's
own ``jax.jit`` / ``jax.lax.scan``:

>>> import jax
>>> from synbench import FixedProb, registry
>>> entry = registry.get("pre_slice", "jax")
>>> data = entry.prepare(FixedProb(0.1, seed=0).build(100, 50), 0.5, "float32")
>>> def run(spike_train):
...     def body(g, spikes):
...         g = entry.step(data, g, spikes, 0.98)
...         return g, entry.conductance(data, g)
...     return jax.lax.scan(body, entry.init_state(data), spike_train)[1]
>>> trace = jax.jit(run)(jax.numpy.zeros((10, 100), bool))  # (10, 50) conductances

Float64 needs JAX's x64 mode. synbench never switches it on globally: ``prepare``,
``init_state``, the kernels and the runner enter ``jax.enable_x64(True)`` only around
their own work when the data is float64, so the caller's other JAX code keeps its
default (float32). Inside your own ``jax.jit``, run float64 kernels under
``with jax.enable_x64(True):`` (or with x64 enabled globally).
"""

from __future__ import annotations

import contextlib
import functools

import jax
import jax.numpy as jnp
import numpy as np

from ...core import registry
from ...core.connect import available_memory
from ...core.connect.structures import weight_matrix as dense_weights
from ...core.registry import as_weight
from ...core.strategies import state_shape
from .. import import_strategies
from ._events import block_sizes, compact, for_each_spike_block, in_blocks

# --- x64 without leaking it into the caller's JAX ---


try:
    _enable_x64 = jax.enable_x64  # a thread-local context manager in current JAX
except AttributeError:  # older JAX
    from jax.experimental import enable_x64 as _enable_x64


def precision(dtype):
    """A context in which arrays of ``dtype`` keep their precision (x64 for float64).

    A no-op for float32, or when x64 is already on (globally or in an outer context).
    synbench never turns x64 on globally: leaving the context restores the caller's
    setting, so their own JAX code keeps its default float32.
    """
    if np.dtype(dtype) == np.float64 and not jax.config.jax_enable_x64:
        return _enable_x64(True)
    return contextlib.nullcontext()


# --- the backend protocol ---


def asarray(x):
    """``x`` as a JAX array on the default device, keeping float64 when given float64."""
    arr = np.asarray(x)
    with precision(arr.dtype if arr.dtype.kind == "f" else np.float32):
        return jnp.asarray(arr)


def to_numpy(x):
    return np.asarray(jax.device_get(x))


def synchronize(x):
    """Wait until ``x`` (and everything dispatched before it) is computed."""
    return jax.block_until_ready(x)


def free_memory() -> int:
    """Bytes free on the default device (host memory on CPU)."""
    device = jax.devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    return available_memory()


# --- the data every kernel receives: a pytree of arrays plus static facts ---


@jax.tree_util.register_pytree_node_class
class KernelData:
    """A projection's arrays on the device and its static sizes, as one JAX pytree.

    The arrays are the pytree's leaves (traced under ``jit``); the sizes and options
    (``n_pre``, ``n_post``, ``n_syn``, ``dtype``, ``max_spikes``, ...) are static
    aux data, so shapes derived from them are known at trace time.
    """

    def __init__(self, arrays: dict, static: dict):
        object.__setattr__(self, "_arrays", dict(arrays))
        object.__setattr__(self, "_static", dict(static))

    def __getattr__(self, name):
        for table in (self._arrays, self._static):
            if name in table:
                return table[name]
        raise AttributeError(name)

    def __setattr__(self, name, value):
        raise AttributeError("KernelData is immutable; prepare a new one")

    def tree_flatten(self):
        keys = tuple(sorted(self._arrays))
        return [self._arrays[k] for k in keys], (keys, tuple(sorted(self._static.items())))

    @classmethod
    def tree_unflatten(cls, aux, leaves):
        keys, static = aux
        return cls(dict(zip(keys, leaves, strict=True)), dict(static))

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self._arrays.items())
        return f"KernelData({shapes}; {self._static})"


def default_max_spikes(n_pre: int) -> int:
    """The compaction bound K: spikes handled per block by the event-driven kernels.

    n_pre / 256, at least 8 and at most n_pre. COBA fires at ~15 Hz, so with dt = 0.1 ms
    0.15 % of a group spikes per step: one block of K = 0.4 % usually holds them all.
    Each block costs K times the largest fan-out whatever the spike count, so K trades
    padding against extra blocks; a burst larger than K takes several blocks, never
    drops a spike.
    """
    return int(min(n_pre, max(8, -(-n_pre // 256)))) if n_pre else 1


def make_data(conn, weight, dtype, arrays, max_spikes=None, **static):
    """KernelData with the weight (0-d or per synapse) and ``arrays`` on the device.

    ``arrays`` may hold its own ``weight`` (laid out as the strategy reads it);
    ``static`` adds sizes to the aux data (``max_fanout``, ...).
    """
    dtype = np.dtype(dtype)
    weight = as_weight(weight, conn.n_syn, dtype)
    k = default_max_spikes(conn.n_pre) if max_spikes is None else int(max_spikes)
    if k < 1:
        raise ValueError(f"max_spikes must be at least 1, not {max_spikes!r}")
    with precision(dtype):
        put = {name: jnp.asarray(value) for name, value in arrays.items()}
        put.setdefault("weight", jnp.asarray(weight))
    return KernelData(put, dict(n_pre=conn.n_pre, n_post=conn.n_post, n_syn=conn.n_syn,
                                dtype=dtype.name, max_spikes=min(k, max(conn.n_pre, 1)),
                                **static))


def weight_matrix(conn, weight, dtype, max_spikes=None):
    """``prepare`` of the matrix strategies: the (n_pre, n_post) weights, 0 where no synapse
    (the weights of a pair's several synapses, multapses, summed in its element)."""
    matrix = dense_weights(conn, as_weight(weight, conn.n_syn, dtype), dtype)
    return make_data(conn, weight, dtype, {"weight_matrix": matrix}, max_spikes)


# --- shared pieces of the kernels ---


def kernel(fn):
    """``fn`` compiled with ``jax.jit``, run with the precision its data needs.

    Calling it from inside another ``jit`` simply inlines it; ``fn.pure`` is the
    undecorated function.
    """
    compiled = jax.jit(fn)

    @functools.wraps(fn)
    def call(data, *args):
        with precision(data.dtype):
            return compiled(data, *args)

    call.pure = fn
    return call


def new_state(data, shape):
    """A zero state of ``shape`` in the data's dtype."""
    with precision(data.dtype):
        return jnp.zeros(shape, dtype=data.dtype)


def zeros(state_kind: str):
    """``init_state`` for a state held per matrix element, synapse, post or pre neuron."""
    def init_state(data):
        return new_state(data, state_shape(state_kind, data))

    return init_state


def decayed(g, decay):
    return g * jnp.asarray(decay, dtype=g.dtype)


def post_is_state(data, g):
    """The conductance of a post-state strategy: the state itself."""
    return g


def weighted(events, w):
    """The events times the weights ``w``: ``w`` where a bool spike fired (exactly, a
    select rather than a product), ``events * w`` for float amplitudes."""
    if events.dtype == bool:
        return jnp.where(events, w, 0)
    return events * w


def weight_at(weight, index):
    """The weight of the synapses ``index``: the scalar itself, or gathered (pad -> 0)."""
    if weight.ndim == 0:
        return weight
    if weight.size == 0:  # no synapse at all: every index is padding
        return jnp.zeros(index.shape, weight.dtype)
    return weight.at[index].get(mode="fill", fill_value=0)


def pad_lists(lists, pad: int, width: int | None = None) -> np.ndarray:
    """Ragged int lists as a (len(lists), width) array filled with ``pad``."""
    lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    width = int(lengths.max(initial=0)) if width is None else width
    out = np.full((len(lists), max(width, 1)), pad, dtype=np.int32)
    if lengths.sum():
        rows = np.repeat(np.arange(len(lists)), lengths)
        cols = np.arange(rows.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[rows, cols] = np.concatenate([np.asarray(x) for x in lists])
    return out


def padded_rows(counts: np.ndarray, pad: int) -> np.ndarray:
    """Synapse indices of each row of ``counts`` synapses in canonical order, as
    (len(counts), max count), padded with ``pad``."""
    counts = np.asarray(counts, dtype=np.int64)
    width = max(int(counts.max(initial=0)), 1)
    starts = np.cumsum(counts) - counts
    cols = np.arange(width)
    return np.where(cols < counts[:, None], starts[:, None] + cols, pad).astype(np.int32)


def register(name, *, prepare, deliver, conductance, state_shape=None, step=None,
             add_events=None, **extras):
    """Register strategy ``name`` on JAX, its kernels compiled (:func:`kernel`).

    ``state_shape(data)`` is the state's shape where the strategy lays it out otherwise
    than its kind says (``init_state`` gives zeros of that shape; post_slice pads its
    synapses per post neuron); ``step`` defaults to ``state * decay`` then
    ``deliver``. ``add_events``, the block adder of an event-driven strategy, goes into
    ``entry.extras`` for the runner; ``needs=`` overrides the declared structures. The
    kernels check their arguments' shapes and dtypes (``registry.checked_kernels``) in
    Python, when they are traced: nothing is left of the checks in the compiled code.
    """
    if step is None:
        def step(data, g, spikes, decay):
            return deliver(data, decayed(g, decay), spikes)
    if add_events is not None:
        extras["add_events"] = add_events
    kind = registry.strategies.strategy(name).state
    if state_shape is None:
        init_state = zeros(kind)
    else:
        def init_state(data):
            return new_state(data, state_shape(data))
    kernels = kernel(deliver), kernel(step), kernel(conductance)
    return registry.register(
        name, "jax", prepare=prepare, init_state=init_state,
        **registry.checked_kernels(kind, *kernels, state_shape=state_shape), **extras)


from .runner import Simulation  # noqa: E402
from .sharded import ShardedSimulation, device_mesh  # noqa: E402

import_strategies(__name__, __path__)

__all__ = ["KernelData", "ShardedSimulation", "Simulation", "asarray", "block_sizes", "compact",
           "default_max_spikes", "device_mesh", "for_each_spike_block", "free_memory", "in_blocks",
           "precision", "register", "synchronize", "to_numpy"]
