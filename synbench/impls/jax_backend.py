"""JAX backend: the strategies as fixed-shape array programs under ``jax.jit``.

JAX traces a function once per set of array shapes and compiles it with XLA, so every
array in a step must have a shape known before any spike happens (the lesson of the seed
tutorial's last section, "Synaptic computing in JAX backend"). Strategies that are
vectorised by nature (dense, pre_ids, post_slice, csr) translate directly; those that loop
over the neurons that spiked (pre2syn, pre2post, pre_slice) compact the spiking indices
into a buffer of static size ``max_spikes`` and process it in blocks until every spike is
done, so a burst larger than the buffer costs more blocks but never loses a spike.
event_dense selects rows with a mask: it is event-driven in what it adds, not in what
it costs.

Kernel API (DESIGN section 4): ``prepare(conn, weight, dtype) -> data``,
``init_state(data) -> state``, ``step(data, state, spikes, decay) -> state`` and
``conductance(data, state) -> g_post``. ``data`` is a :class:`KernelData` pytree, so a
kernel can be called inside the user's own ``jax.jit`` / ``jax.lax.scan``:

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

The runner (:class:`Simulation`) compiles one ``jax.lax.scan`` over a chunk of steps
(neurons from ``core.neurons`` with ``xp=jax.numpy``, then every projection), compacts
each step's spikes once for all event-driven kernels and the spike monitor, and fuses
projections that share their pre group and synapse type (:func:`fuse_projections`).

Float64 needs JAX's x64 mode. synbench never switches it on globally: ``prepare``,
``init_state``, ``step``, ``conductance`` and the runner enter ``jax.enable_x64(True)``
only around their own work when the data is float64, so the caller's other JAX code
keeps its default (float32). Inside your own ``jax.jit``, run float64 kernels under
``with jax.enable_x64(True):`` (or with x64 enabled globally).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.experimental import sparse as jsparse

from ..core.integrators import decay_factor
from ..core.neurons import NEVER_SPIKED, neuron_model
from ..core.registry import as_weight, register

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
    from ..core.connect import available_memory

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


def _make(conn, weight, dtype, arrays, max_spikes=None, **static):
    """KernelData with the weight (0-d or per synapse) and ``arrays`` on the device."""
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


def _kernel(fn):
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


def _zeros(shape, data):
    with precision(data.dtype):
        return jnp.zeros(shape, dtype=data.dtype)


def _matrix_state(data):
    return _zeros((data.n_pre, data.n_post), data)


def _synapse_state(data):
    return _zeros((data.n_syn,), data)


def _post_state(data):
    return _zeros((data.n_post,), data)


def _post_is_state(data, g):
    return g


def _decayed(g, decay):
    return g * jnp.asarray(decay, dtype=g.dtype)


def _pad_lists(lists, pad: int, width: int | None = None) -> np.ndarray:
    """Ragged int lists as a (len(lists), width) array filled with ``pad``."""
    lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    width = int(lengths.max(initial=0)) if width is None else width
    out = np.full((len(lists), max(width, 1)), pad, dtype=np.int32)
    if lengths.sum():
        rows = np.repeat(np.arange(len(lists)), lengths)
        cols = np.arange(rows.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[rows, cols] = np.concatenate([np.asarray(x) for x in lists])
    return out


def _padded_rows(counts: np.ndarray, pad: int) -> np.ndarray:
    """Synapse indices of each pre neuron in canonical order, as (n_pre, max fan-out)."""
    counts = np.asarray(counts, dtype=np.int64)
    width = max(int(counts.max(initial=0)), 1)
    starts = np.cumsum(counts) - counts
    cols = np.arange(width)
    return np.where(cols < counts[:, None], starts[:, None] + cols, pad).astype(np.int32)


def _at(weight, index):
    """The weight of the synapses ``index``: the scalar itself, or gathered (pad -> 0)."""
    if weight.ndim == 0:
        return weight
    if weight.size == 0:  # no synapse at all: every index is padding
        return jnp.zeros(index.shape, weight.dtype)
    return weight.at[index].get(mode="fill", fill_value=0)


def _pack_words(mask):
    """A bool vector as uint32 words, bit b of word w holding element 32 w + b."""
    n_words = -(-mask.shape[0] // 32)
    padded = jnp.pad(mask, (0, 32 * n_words - mask.shape[0]))
    return lax.bitcast_convert_type(
        jnp.packbits(padded, bitorder="little").reshape(n_words, 4), jnp.uint32)


def _inclusive_sums(x):
    """Prefix sums of a small int vector (exact while the total is below 2**24).

    Small float matrix products (within blocks of 32, then across blocks): much
    cheaper on XLA's CPU backend than ``jnp.cumsum``, which costs ~5 ns per element.
    """
    n = x.shape[0]
    n_blocks = -(-n // 32)
    blocks = jnp.pad(x, (0, 32 * n_blocks - n)).reshape(n_blocks, 32).astype(jnp.float32)
    exact = functools.partial(jnp.matmul, precision=lax.Precision.HIGHEST)  # no TF32
    within = exact(blocks, jnp.triu(jnp.ones((32, 32), jnp.float32)))
    totals = within[:, -1]
    if n_blocks <= 128:
        before = exact(jnp.tril(jnp.ones((n_blocks, n_blocks), jnp.float32), -1), totals)
    else:  # a quadratic matrix would cost more than the scan it replaces
        before = jnp.cumsum(totals) - totals
    return (within + before[:, None]).reshape(-1)[:n].astype(jnp.int32)


def _select_bit(words, k):
    """Position of the k-th (0-based) set bit of each uint32 word (branch-free)."""
    position = jnp.zeros(words.shape, jnp.int32)
    for width in (16, 8, 4, 2, 1):
        low = lax.population_count(words & jnp.uint32((1 << width) - 1)).astype(jnp.int32)
        high = k >= low
        k = jnp.where(high, k - low, k)
        words = jnp.where(high, words >> width, words)
        position = position + jnp.where(high, width, 0)
    return position


def compact(mask, size: int):
    """The indices where ``mask`` is True, in increasing order, in ``size`` slots.

    Returns ``(ids, count)``: ``ids`` [size] int32 holds the first ``min(count, size)``
    indices and then ``len(mask)``; ``count`` is the number of True entries (when it
    exceeds ``size`` the caller handles the rest). The same result as
    ``jnp.nonzero(mask, size=size, fill_value=len(mask))``, several times cheaper on
    CPU, where XLA's prefix sums cost ~5 ns per element: the mask is packed into 32-bit
    words, the non-zero words are compacted (a prefix sum over len(mask) / 32 words),
    and slot r finds its word by binary search and its bit by population counts.
    """
    return _compact_words(_pack_words(mask), mask.shape[0], size)


def _compact_words(words, n: int, size: int):
    """:func:`compact` of the ``n`` bits packed in ``words``."""
    n_words = words.shape[0]
    if n == 0:
        return jnp.zeros(size, jnp.int32), jnp.int32(0)
    n_kept = min(size, n_words)  # no more non-zero words than spikes
    per_word = lax.population_count(words).astype(jnp.int32)
    nonzero = per_word > 0
    word_rank = _inclusive_sums(nonzero.astype(jnp.int32)) - 1
    kept = jnp.full(n_kept, n_words, jnp.int32).at[jnp.where(nonzero, word_rank, n_kept)].set(
        lax.iota(jnp.int32, n_words), mode="drop")
    kept_words = words.at[kept].get(mode="fill", fill_value=0)
    kept_count = lax.population_count(kept_words).astype(jnp.int32)
    upto = jnp.cumsum(kept_count)
    slot_rank = lax.iota(jnp.int32, size)
    method = "compare_all" if size * n_kept <= 2048 else "scan_unrolled"
    slot = jnp.minimum(jnp.searchsorted(upto, slot_rank, side="right", method=method),
                       n_kept - 1)
    bit = _select_bit(kept_words[slot], slot_rank - (upto[slot] - kept_count[slot]))
    ids = jnp.where(slot_rank < upto[-1], kept[slot] * 32 + bit, n)
    return ids, per_word.sum(dtype=jnp.int32)


def block_sizes(max_spikes: int) -> tuple[int, ...]:
    """Block sizes for ``max_spikes``: it, then quarters of it down to 4 (or itself)."""
    sizes = [max_spikes]
    while sizes[-1] >= 16:
        sizes.append(sizes[-1] // 4)
    return tuple(sizes)


def in_blocks(body, carry, take, count, sizes: tuple[int, ...]):
    """``carry = body(carry, take(done, size))`` until ``count`` ids are done.

    Blocks of the largest size while the remaining ids fill it, then of the next size,
    the smallest size also taking the rest: 71 spikes with sizes (188, 47, 11) run
    blocks of 47, 11, 11 and 11 (80 slots), so the padded work follows the spike count,
    not the bound. ``take(done, size)`` returns the ids ``done .. done + size - 1`` of
    the list, padded past ``count``. One ``while_loop`` per size, no ``cond``: XLA
    updates a loop's carry in place, while a conditional may copy it.
    """
    done = jnp.zeros((), count.dtype)
    for i, size in enumerate(sizes):
        last = i == len(sizes) - 1

        def more(state, size=size, last=last):
            left = count - state[0]
            return left > 0 if last else left >= size

        def block(state, size=size):
            done, carry = state
            return done + size, body(carry, take(done, size))

        done, carry = lax.while_loop(more, block, (done, carry))
    return carry


def for_each_spike_block(spikes, max_spikes: int, body, carry, first=0):
    """Run ``carry = body(carry, ids)`` over every spiking index from ``first`` on.

    ``ids`` lists spiking neurons in increasing order in a block of static size (from
    :func:`block_sizes`), filled up with ``len(spikes)`` (an out-of-range index every
    kernel ignores). No spike: no call. The spikes are compacted ``max_spikes`` at a
    time; a step with more runs further pages, so nothing is ever dropped.
    """
    n = spikes.shape[0]
    position = lax.iota(jnp.int32, n)
    sizes = block_sizes(max_spikes)

    def page(state):
        first, carry = state
        ids, count = compact(spikes & (position >= first), max_spikes)
        ids = jnp.concatenate([ids, jnp.full(max_spikes, n, jnp.int32)])
        in_page = jnp.minimum(count, max_spikes)

        def take(done, size):
            block = lax.dynamic_slice(ids, (done,), (size,))
            return jnp.where(lax.iota(jnp.int32, size) + done < in_page, block, n)

        carry = in_blocks(body, carry, take, in_page, sizes)
        # Only a burst of more than max_spikes reaches a second page.
        return jnp.where(count > max_spikes, ids[max_spikes - 1] + 1, n), carry

    start = (jnp.asarray(first, jnp.int32), carry)
    return lax.while_loop(lambda state: state[0] < n, page, start)[1]


# --- prepare functions ---


def _prepare_matrix(conn, weight, dtype, max_spikes=None):
    pre_ids, post_ids = conn.require("pre_ids", "post_ids")
    w = as_weight(weight, conn.n_syn, dtype)
    matrix = np.zeros((conn.n_pre, conn.n_post), dtype=dtype)
    matrix[pre_ids, post_ids] = w
    return _make(conn, weight, dtype, {"weight_matrix": matrix}, max_spikes)


def _prepare_pre_ids(conn, weight, dtype, max_spikes=None):
    pre_ids, post_ids = conn.require("pre_ids", "post_ids")
    return _make(conn, weight, dtype, {"pre_ids": pre_ids, "post_ids": post_ids}, max_spikes)


def _prepare_pre2syn(conn, weight, dtype, max_spikes=None):
    pre2syn, post2syn = conn.require("pre2syn", "post2syn")
    return _make(conn, weight, dtype, {
        "pre2syn": _pad_lists(pre2syn, conn.n_syn),
        "post2syn": _pad_lists(post2syn, conn.n_syn),
    }, max_spikes)


def _prepare_pre2post(conn, weight, dtype, max_spikes=None):
    ell = np.asarray(conn.require("ell"))
    arrays = {"ell": ell}
    if np.ndim(weight):  # per-synapse weights laid out like ell (canonical order per row)
        counts = (ell != conn.n_post).sum(axis=1)
        arrays["ell_syn"] = _padded_rows(counts, conn.n_syn)
    return _make(conn, weight, dtype, arrays, max_spikes)


def _prepare_post_slice(conn, weight, dtype, max_spikes=None):
    post_slice, pre_ids, post_order = conn.require("post_slice", "pre_ids", "post_order")
    post_slice = np.asarray(post_slice, dtype=np.int64)
    counts = post_slice[:, 1] - post_slice[:, 0]
    # Synapse k of post j (post-major index post_slice[j, 0] + k) at row j, column k.
    slots = _padded_rows(counts, conn.n_syn)
    pre_by_post = np.append(np.asarray(pre_ids)[post_order], conn.n_pre)
    w = as_weight(weight, conn.n_syn, dtype)
    arrays = {"pre_by_post": pre_by_post[slots].astype(np.int32)}
    if w.ndim:
        arrays["weight"] = np.append(w[post_order], 0)[slots].astype(dtype)
    return _make(conn, weight, dtype, arrays, max_spikes, max_fanin=slots.shape[1])


def _padded_synapse_state(data):
    return _zeros((data.n_post, data.max_fanin), data)


def _prepare_pre_slice(conn, weight, dtype, max_spikes=None):
    pre_slice, post_ids = conn.require("pre_slice", "post_ids")
    pre_slice = np.asarray(pre_slice, dtype=np.int64)
    counts = pre_slice[:, 1] - pre_slice[:, 0]
    # One extra row (for the fill index n_pre) with no synapse, and one extra synapse
    # (index n_syn) pointing at the dropped post index n_post.
    starts = np.append(pre_slice[:, 0], conn.n_syn).astype(np.int32)
    counts = np.append(counts, 0).astype(np.int32)
    return _make(conn, weight, dtype, {
        "starts": starts, "counts": counts,
        "post_ids": np.append(post_ids, conn.n_post).astype(np.int32),
    }, max_spikes, max_fanout=max(int(counts.max(initial=0)), 1))


def _prepare_csr(conn, weight, dtype, max_spikes=None):
    import scipy.sparse

    indptr, indices = conn.require("csr")
    w = as_weight(weight, conn.n_syn, dtype)
    values = np.broadcast_to(w, (conn.n_syn,)).astype(dtype)
    # The transpose as CSR (rows = post neurons), so the step is a plain CSR mat-vec.
    matrix_t = scipy.sparse.csr_matrix(
        (values, indices, indptr), shape=(conn.n_pre, conn.n_post)).T.tocsr()
    matrix_t.sort_indices()
    data = _make(conn, weight, dtype, {}, max_spikes)
    with precision(dtype):
        bcsr = jsparse.BCSR(
            (jnp.asarray(matrix_t.data.astype(dtype)), jnp.asarray(matrix_t.indices, jnp.int32),
             jnp.asarray(matrix_t.indptr, jnp.int32)),
            shape=(conn.n_post, conn.n_pre), indices_sorted=True, unique_indices=True)
    return KernelData(data._arrays | {"matrix_t": bcsr}, data._static)


# --- the strategies ---

# Event-driven strategies: ``add(data, g, ids)`` adds the events of the pre neurons
# ``ids`` (a fixed-size block, padded with n_pre). Their ``step`` decays g and calls it
# on every block of this step's spikes; the runner calls it directly on the spike ids
# it has already compacted for the whole network.
EVENT_ADDERS: dict[str, Callable] = {}


def _adds_events(name):
    def decorate(add):
        EVENT_ADDERS[name] = add
        return add

    return decorate


def _each_block(name, data, g, spikes):
    add = EVENT_ADDERS[name]
    return for_each_spike_block(spikes, data.max_spikes, functools.partial(add, data), g)


def _column_sums(data, g):
    return g.sum(axis=0)


@register("dense", "jax", needs=("conn_mat",), state="matrix", event_driven=False,
          prepare=_prepare_matrix, init_state=_matrix_state,
          conductance=_kernel(_column_sums))
@_kernel
def dense_step(data, g, spikes, decay):
    """Dense matrix ("mat 1"): decay and add on every element, every step.

    Parameters
    ----------
    data : KernelData
        ``weight_matrix`` [n_pre, n_post], zero where there is no synapse.
    g : [n_pre, n_post] conductance per matrix element.
    spikes : [n_pre] bool, the pre neurons that spiked in this step.
    decay : scalar, exp(-dt / tau).

    Returns
    -------
    g : [n_pre, n_post], ``g * decay + spikes[:, None] * W``.

    Notes
    -----
    g_post_j = sum_i g_ij. O(n_pre n_post) per step whatever the firing rate; one
    fused elementwise pass, parallel over every element.
    """
    return _decayed(g, decay) + jnp.where(spikes[:, None], data.weight_matrix, 0)


@register("event_dense", "jax", needs=("conn_mat",), state="matrix", event_driven=True,
          prepare=_prepare_matrix, init_state=_matrix_state,
          conductance=_kernel(_column_sums))
@_kernel
def event_dense_step(data, g, spikes, decay):
    """Dense matrix, masked rows ("mat 2"): add W only on the rows of spiking pre neurons.

    Parameters as :func:`dense_step`. Returns g [n_pre, n_post].

    Notes
    -----
    For each spiking pre i and every j, g_ij += W_ij. With fixed shapes the mask selects
    rows but cannot skip them, so this costs what ``dense`` costs: the lesson of the
    seed's JAX section.
    """
    g = _decayed(g, decay)
    return jnp.where(spikes[:, None], g + data.weight_matrix, g)


@register("pre_ids", "jax", needs=("pre_ids", "post_ids"), state="synapse",
          event_driven=False, prepare=_prepare_pre_ids, init_state=_synapse_state,
          conductance=_kernel(lambda data, g: jax.ops.segment_sum(
              g, data.post_ids, num_segments=data.n_post)))
@_kernel
def pre_ids_step(data, g, spikes, decay):
    """Per-synapse vectors (the seed's SynVecJax): gather each synapse's pre spike.

    Parameters
    ----------
    data : KernelData
        ``pre_ids``, ``post_ids`` [n_syn]; ``weight`` scalar or [n_syn].
    g : [n_syn] conductance per synapse (canonical order).
    spikes : [n_pre] bool; decay : scalar.

    Returns
    -------
    g : [n_syn], ``g * decay + spikes[pre_ids] * w``.

    Notes
    -----
    g_post = segment_sum(g, post_ids): a scatter-add of every synapse onto its post
    neuron (parallel over synapses, atomic on the targets). O(n_syn) per step.
    """
    return _decayed(g, decay) + jnp.where(spikes[data.pre_ids], data.weight, 0)


def _pre2syn_conductance(data, g):
    return _at(g, data.post2syn).sum(axis=1)


@register("pre2syn", "jax", needs=("pre2syn", "post2syn"), state="synapse",
          event_driven=True, prepare=_prepare_pre2syn, init_state=_synapse_state,
          conductance=_kernel(_pre2syn_conductance))
@_kernel
def pre2syn_step(data, g, spikes, decay):
    """Per-neuron synapse lists, padded: the spiking pre neurons' rows of synapses.

    Parameters
    ----------
    data : KernelData
        ``pre2syn`` [n_pre, max fan-out] and ``post2syn`` [n_post, max fan-in],
        synapse indices padded with n_syn; ``weight`` scalar or [n_syn].
    g : [n_syn] conductance per synapse; spikes : [n_pre] bool; decay : scalar.

    Returns
    -------
    g : [n_syn].

    Notes
    -----
    For each spiking pre i and each synapse k in pre2syn(i): g_k += w_k, the spiking
    indices compacted ``max_spikes`` at a time; g_post_j = sum over post2syn(j) of g_k
    (a gather, then a row sum: no scatter).
    """

    return _each_block("pre2syn", data, _decayed(g, decay), spikes)


@_adds_events("pre2syn")
def pre2syn_add(data, g, ids):
    """Add the events of the pre neurons ``ids`` [K] (padded with n_pre) to g [n_syn]."""
    syn = data.pre2syn.at[ids].get(mode="fill", fill_value=data.n_syn)
    return g.at[syn].add(_at(data.weight, syn), mode="drop")


@register("pre2post", "jax", needs=("ell",), state="post", event_driven=True,
          prepare=_prepare_pre2post, init_state=_post_state,
          conductance=_kernel(_post_is_state))
@_kernel
def pre2post_step(data, g, spikes, decay):
    """Padded post lists (``ell``), state on post neurons: add to the spiking rows.

    Parameters
    ----------
    data : KernelData
        ``ell`` [n_pre, max fan-out], post ids padded with n_post; ``weight`` scalar or
        [n_syn] (then ``ell_syn`` maps each entry to its synapse).
    g : [n_post]; spikes : [n_pre] bool; decay : scalar.

    Returns
    -------
    g : [n_post].

    Notes
    -----
    For each spiking pre i and each j in ell[i]: g_j += w. Spiking rows are compacted
    ``max_spikes`` at a time; padding entries point at n_post and are dropped by the
    scatter. Cost O(n_post + max_spikes * max fan-out) per block.
    """

    return _each_block("pre2post", data, _decayed(g, decay), spikes)


@_adds_events("pre2post")
def pre2post_add(data, g, ids):
    """Add the events of the pre neurons ``ids`` [K] (padded with n_pre) to g [n_post]."""
    post = data.ell.at[ids].get(mode="fill", fill_value=data.n_post)
    if data.weight.ndim == 0:
        return g.at[post].add(data.weight, mode="drop")
    syn = data.ell_syn.at[ids].get(mode="fill", fill_value=data.n_syn)
    return g.at[post].add(_at(data.weight, syn), mode="drop")


@register("post_slice", "jax", needs=("post_slice", "pre_ids", "post_order"),
          state="synapse", event_driven=False, prepare=_prepare_post_slice,
          init_state=_padded_synapse_state,
          conductance=_kernel(lambda data, g: g.sum(axis=1)))
@_kernel
def post_slice_step(data, g, spikes, decay):
    """Synapses in post-major order: every post neuron sums its own slice.

    Parameters
    ----------
    data : KernelData
        ``pre_by_post`` [n_post, max fan-in]: row j is post j's slice of synapses (pre
        ids, post-major order), padded with n_pre; ``weight`` scalar or laid out the same
        (0 on padding).
    g : [n_post, max fan-in] conductance per synapse (0 on padding); spikes : [n_pre]
        bool; decay : scalar.

    Returns
    -------
    g : [n_post, max fan-in].

    Notes
    -----
    g_jk = g_jk * decay + s[pre_jk] w_jk, then g_post_j = sum_k g_jk: each post neuron
    reduces its own row, with no scatter and no atomics (the slices, padded to a fixed
    width, are the fixed-shape form of ``post_slice``). O(n_post max fan-in) per step.
    """
    fired = spikes.at[data.pre_by_post].get(mode="fill", fill_value=False)
    return _decayed(g, decay) + jnp.where(fired, data.weight, 0)


@register("pre_slice", "jax", needs=("pre_slice", "post_ids"), state="post",
          event_driven=True, prepare=_prepare_pre_slice, init_state=_post_state,
          conductance=_kernel(_post_is_state))
@_kernel
def pre_slice_step(data, g, spikes, decay):
    """Pre-major slices, state on post neurons: event-driven with a static bound.

    Parameters
    ----------
    data : KernelData
        ``starts``, ``counts`` [n_pre + 1] (the slice of each pre in ``post_ids``; the
        extra row is empty), ``post_ids`` [n_syn + 1] (the extra entry is n_post);
        ``weight`` scalar or [n_syn]; static ``max_spikes`` (K) and ``max_fanout`` (F).
    g : [n_post]; spikes : [n_pre] bool; decay : scalar.

    Returns
    -------
    g : [n_post].

    Notes
    -----
    The spiking pre ids are compacted into K slots (``jnp.nonzero(size=K)``); each
    slot's slice start + [0, F) is gathered (entries past the slice end point at the
    dropped index) and scatter-added: for each spiking i and k in [start_i, end_i),
    g[post_ids[k]] += w_k. More than K spikes run further blocks of K, in order, so the
    sums are added in the same order as the NumPy loop. Cost O(n_post + K F) per block;
    nothing for a step without spikes.
    """
    return _each_block("pre_slice", data, _decayed(g, decay), spikes)


@_adds_events("pre_slice")
def pre_slice_add(data, g, ids):
    """Add the events of the pre neurons ``ids`` [K] (padded with n_pre) to g [n_post]."""
    offsets = lax.iota(jnp.int32, data.max_fanout)
    start, count = data.starts[ids][:, None], data.counts[ids][:, None]
    syn = jnp.where(offsets < count, start + offsets, data.n_syn)
    return g.at[data.post_ids[syn]].add(_at(data.weight, syn), mode="drop")


@register("csr", "jax", needs=("csr",), state="post", event_driven=False,
          prepare=_prepare_csr, init_state=_post_state, conductance=_kernel(_post_is_state))
@_kernel
def csr_step(data, g, spikes, decay):
    """Library sparse mat-vec (``jax.experimental.sparse.BCSR``): g += W^T s.

    Parameters
    ----------
    data : KernelData
        ``matrix_t``: BCSR [n_post, n_pre] holding the weights.
    g : [n_post]; spikes : [n_pre] bool; decay : scalar.

    Returns
    -------
    g : [n_post].

    Notes
    -----
    O(n_post + n_syn) per step whatever the firing rate; XLA lowers the mat-vec to a
    gather and a sorted segment sum over rows.
    """
    return _decayed(g, decay) + data.matrix_t @ spikes.astype(g.dtype)


# --- the runner: jax.lax.scan over a chunk of steps, compiled once ---


def default_monitor_width(n: int) -> int:
    """Spike ids kept per step on the device: 1/128 of the network, at least 64.

    COBA spikes ~0.15 % of its neurons per step (0.5 % without synapses), so a step
    rarely overflows. The same buffer feeds the event-driven kernels. A step with more
    spikes is still exact, only slower: its kernels compact their own spikes, and the
    runner reads that step from its packed bits instead. Never a silent drop.
    """
    return int(min(n, max(64, -(-n // 128))))


@dataclass(frozen=True)
class _Channel:
    """Where one block of a projection's conductances acts: I_syn[post] += g[g_slice] * ..."""

    post: slice  # post neurons in the population
    start: int  # first conductance in the projection's g
    tau: float
    e_rev: float

    @property
    def g_slice(self) -> slice:
        return slice(self.start, self.start + self.post.stop - self.post.start)


@dataclass(frozen=True)
class _Projection:
    """One projection as the runner steps it: one of the spec's, or several fused."""

    parts: tuple[tuple[str, int, int], ...]  # (spec projection, offset in g, size)
    pre: slice
    channels: tuple[_Channel, ...]
    conn: object
    weight: object
    g_init: np.ndarray | None

    @property
    def name(self) -> str:
        return "+".join(name for name, _, _ in self.parts)


def _projections(spec, conns) -> list[_Projection]:
    out = []
    for p in spec.projections:
        g_init = spec.initial_g.get(p.name)
        post = spec.group(p.post)
        out.append(_Projection(((p.name, 0, post.size),), spec.group(p.pre).slice,
                               (_Channel(post.slice, 0, p.tau, p.e_rev),), conns[p.name],
                               p.weight, None if g_init is None else np.asarray(g_init)))
    return out


def _merge(group: list[_Projection], targets: list[int]) -> _Projection:
    """One projection from ``group``: pre ranges joined, each member's conductances at
    ``targets[i]`` in the merged g (members onto adjacent posts of one channel share it).
    """
    from ..core.connect import Connectivity

    pre = slice(min(q.pre.start for q in group), max(q.pre.stop for q in group))
    size = max(t + q.conn.n_post for q, t in zip(group, targets, strict=True))
    pre_ids = np.concatenate([q.conn.pre_ids.astype(np.int64) + q.pre.start - pre.start
                              for q in group])
    post_ids = np.concatenate([q.conn.post_ids.astype(np.int64) + t
                               for q, t in zip(group, targets, strict=True)])
    weights = [np.asarray(as_weight(q.weight, q.conn.n_syn, np.float64)) for q in group]
    if all(w.ndim == 0 for w in weights) and len({float(w) for w in weights}) == 1:
        weight = weights[0]
    else:  # per-synapse weights, in the merged connectivity's canonical order
        weight = np.concatenate([np.broadcast_to(w, (q.conn.n_syn,))
                                 for w, q in zip(weights, group, strict=True)])
        weight = weight[np.lexsort((post_ids, pre_ids))]
    g_init = None
    if any(q.g_init is not None for q in group):
        g_init = np.zeros(size)
        for q, t in zip(group, targets, strict=True):
            if q.g_init is not None:
                g_init[t:t + q.conn.n_post] = q.g_init
    parts = tuple((name, t + offset, n) for q, t in zip(group, targets, strict=True)
                  for name, offset, n in q.parts)
    channels = []
    for q, t in zip(group, targets, strict=True):
        for c in q.channels:
            last = channels[-1] if channels else None
            if (last is not None and (last.tau, last.e_rev) == (c.tau, c.e_rev)
                    and last.post.stop == c.post.start and last.g_slice.stop == t + c.start):
                channels[-1] = _Channel(slice(last.post.start, c.post.stop), last.start,
                                        c.tau, c.e_rev)
            else:
                channels.append(_Channel(c.post, t + c.start, c.tau, c.e_rev))
    conn = Connectivity(pre.stop - pre.start, size, pre_ids, post_ids)
    return _Projection(parts, pre, tuple(channels), conn, weight, g_init)


def fuse_projections(projections: list[_Projection], n: int) -> list[_Projection]:
    """Merge projections so that each step makes fewer, larger kernel calls.

    Projections sharing pre group, tau and E_rev onto adjacent post groups become one:
    COBA's E2E and E2I one projection from E onto every neuron, I2E and I2I one from I.
    Every post neuron still receives exactly the events it did, in the same order, and
    its I_syn adds its conductances in the spec's order (checked; otherwise nothing is
    fused), so results differ at most where XLA contracts a multiply-add differently.
    (Fusing further, all four into one projection onto two conductances per neuron,
    measured slower on CPU.)
    """
    groups: list[list[_Projection]] = []
    for p in projections:
        for group in groups:
            first, last = group[0], group[-1]
            if (first.pre == p.pre and first.channels[0].tau == p.channels[0].tau
                    and first.channels[0].e_rev == p.channels[0].e_rev
                    and p.channels[0].post.start == last.channels[-1].post.stop):
                group.append(p)
                break
        else:
            groups.append([p])
    channel_order = [q for group in groups for q in group]
    if not _same_order(projections, channel_order, n):
        return projections
    fused = []
    for group in groups:
        starts = [q.channels[0].post.start - group[0].channels[0].post.start for q in group]
        fused.append(group[0] if len(group) == 1 else _merge(group, starts))
    return fused


def _same_order(projections, fused_order, n) -> bool:
    """Whether every neuron sums its projections' currents in the same order after fusing."""
    def orders(seq):
        by_post = [[] for _ in range(n)]
        for p in seq:
            for c in p.channels:
                for j in range(c.post.start, c.post.stop):
                    by_post[j].append(id(p))
        return by_post

    return orders(projections) == orders(fused_order)


class Simulation:
    """The ``Simulation`` protocol of ``synbench.run``: one compiled ``lax.scan`` per chunk.

    The whole network state (neuron variables, last spike step, I_syn, each projection's
    synaptic state, COBAHH's decaying initial conductances and the step index) is one
    pytree carried through ``jax.lax.scan``; each chunk runs one compiled call with the
    state's buffers donated. A shorter chunk runs the same executable with the steps
    past its end masked out (``lax.cond``), so nothing compiles inside the timed run.

    Each step compacts the network's spikes once (:func:`compact`, ``monitor_width``
    slots); the event-driven kernels read their pre group's ids from that buffer and
    the spike monitor stores it, with the per-step count and the packed bits. Only the
    ids and counts leave the device, unless a step overflowed the buffer. With ``fuse``
    (default) projections sharing pre group, tau and E_rev run as one kernel call
    (:func:`fuse_projections`); ``max_spikes`` sets the kernels' compaction bound.

    ``unroll`` steps share one loop iteration. XLA copies the loop-carried V and
    last-spike arrays once per iteration (the neuron update reads both to write each),
    which at n = 64000 costs more than the update itself; two steps per iteration
    measured ~1.35x faster there and ~1.1x at n = 4000, for ~10% more compile time.

    The arithmetic and its order are those of ``synbench.impls._population`` (DESIGN
    section 3). XLA contracts ``a * b + c`` into fused multiply-adds and has its own
    ``exp``, so float64 results agree with NumPy to within a few ulp, not bit for bit.
    """

    def __init__(self, spec, entry, conns, dt, dtype, chunk_steps, *, max_spikes=None,
                 monitor_width=None, fuse=True, unroll=2):
        self.dtype = np.dtype(dtype)
        self.entry, self.n, self.chunk_steps = entry, spec.n, int(chunk_steps)
        self.unroll = unroll
        self.width = default_monitor_width(spec.n) if monitor_width is None else monitor_width
        self.add = EVENT_ADDERS.get(entry.name) if entry is not None else None
        kw = {} if max_spikes is None else {"max_spikes": max_spikes}
        projections = _projections(spec, conns) if entry is not None else []
        if fuse and entry is not None:
            projections = fuse_projections(projections, spec.n)
        with precision(self.dtype):
            self.model = neuron_model(spec, dt, jnp)
            datas, states, g_inits = [], [], []
            for p in projections:
                data = entry.prepare(p.conn, p.weight, self.dtype, **kw)
                datas.append(data)
                states.append(entry.init_state(data))
                g_inits.append(None if p.g_init is None else
                               jnp.asarray(np.asarray(p.g_init, self.dtype)))
            self.projections = tuple(projections)
            decays = tuple(self.dtype.type(decay_factor(p.channels[0].tau, dt, spec.method))
                           for p in projections)
            # Device inputs of every chunk (arguments, not constants baked into the code).
            self.inputs = (tuple(datas), jax.device_put(decays))
            self.carry = {
                "vars": {k: jnp.asarray(np.asarray(v, self.dtype))
                         for k, v in spec.initial.items()},
                "last_spike": jnp.full(spec.n, NEVER_SPIKED, dtype=jnp.int32),
                "i_syn": jnp.zeros(spec.n, dtype=self.dtype),
                "g": tuple(states),
                "g_init": tuple(g_inits),
                "step": jnp.zeros((), jnp.int32),
            }
        self.step_index = 0
        self._chunk = jax.jit(self._run_chunk, donate_argnums=(1,))
        self._compiled = None

    @property
    def datas(self):
        return self.inputs[0]

    def _propagate(self, p, decay, data, state, spiked, ids, count):
        """One projection's synaptic step, from the network's compacted spike ids."""
        entry = self.entry
        if self.add is None:  # not event-driven: the kernel takes the bool spikes
            return entry.step(data, state, spiked[p.pre], decay)
        sizes, start, stop = block_sizes(data.max_spikes), p.pre.start, p.pre.stop
        padded = jnp.concatenate([ids, jnp.full(sizes[0], self.n, jnp.int32)])
        first = jnp.count_nonzero(ids < start).astype(jnp.int32)
        in_group = jnp.count_nonzero(ids < stop).astype(jnp.int32) - first

        def take(done, size):  # the group's spikes done .. done + size - 1, local ids
            block = lax.dynamic_slice(padded, (first + done,), (size,)) - start
            return jnp.where(lax.iota(jnp.int32, size) + done < in_group, block, data.n_pre)

        # No lax.cond (it may copy the state): both loops run on g in place, and the
        # second, the kernel's own compaction of the group's spikes, only when this
        # step's spikes overflowed the network's id buffer.
        overflow = count > self.width
        g = in_blocks(functools.partial(self.add, data), _decayed(state, decay), take,
                      jnp.where(overflow, 0, in_group), sizes)
        return for_each_spike_block(spiked[p.pre], data.max_spikes,
                                    functools.partial(self.add, data), g,
                                    first=jnp.where(overflow, 0, data.n_pre))

    def _step(self, inputs, carry):
        """One step of DESIGN section 3 as a pure function of the carry."""
        datas, decays = inputs
        vars_, last_spike, spiked = self.model.step(
            carry["vars"], carry["i_syn"], carry["last_spike"], carry["step"])
        words = _pack_words(spiked)
        ids, count = _compact_words(words, self.n, self.width)
        v = vars_["v"]
        i_syn = jnp.zeros_like(carry["i_syn"])
        states, g_inits = [], []
        for p, decay, data, state, g_init in zip(self.projections, decays, datas,
                                                 carry["g"], carry["g_init"], strict=True):
            state = self._propagate(p, decay, data, state, spiked, ids, count)
            g = self.entry.conductance(data, state)
            if g_init is not None:
                g_init = g_init * decay
                g = g + g_init
            for c in p.channels:  # in the spec's order for every post neuron
                e_rev = self.dtype.type(c.e_rev)
                i_syn = i_syn.at[c.post].add(g[c.g_slice] * (e_rev - v[c.post]))
            states.append(state)
            g_inits.append(g_init)
        carry = {"vars": vars_, "last_spike": last_spike, "i_syn": i_syn,
                 "g": tuple(states), "g_init": tuple(g_inits), "step": carry["step"] + 1}
        return carry, (ids, count, words)

    def _run_chunk(self, inputs, carry, n_valid):
        def body(carry, active):
            def skip(carry):
                words = jnp.zeros(-(-self.n // 32), jnp.uint32)
                return carry, (jnp.full(self.width, self.n, jnp.int32), jnp.int32(0), words)

            return lax.cond(active, functools.partial(self._step, inputs), skip, carry)

        return lax.scan(body, carry, lax.iota(jnp.int32, self.chunk_steps) < n_valid,
                        unroll=self.unroll)

    def compile(self) -> None:
        """Lower and compile the chunk for ``chunk_steps`` steps (shorter chunks reuse it)."""
        with precision(self.dtype):
            self._compiled = self._chunk.lower(
                self.inputs, self.carry, jnp.int32(self.chunk_steps)).compile()

    def advance(self, n_steps):
        """Run ``n_steps`` steps (chunk by chunk); their spikes as (steps, ids) NumPy arrays."""
        if self._compiled is None:
            self.compile()
        out_steps, out_ids = [], []
        done = 0
        while done < n_steps:
            size = min(self.chunk_steps, n_steps - done)
            first = self.step_index
            with precision(self.dtype):
                self.carry, (ids, counts, words) = self._compiled(
                    self.inputs, self.carry, jnp.int32(size))
            counts = np.asarray(counts)[:size]
            steps, fired = self._spikes(np.asarray(ids)[:size], counts, words, size)
            out_steps.append((first + steps).astype(np.int32))
            out_ids.append(fired.astype(np.int32))
            self.step_index += size
            done += size
        jax.block_until_ready(self.carry)
        if not out_steps:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        return np.concatenate(out_steps), np.concatenate(out_ids)

    def _spikes(self, ids, counts, words, size):
        """(step in chunk, neuron) of every spike: from the id buffer, or from the packed
        bits for the steps whose spikes overflowed it."""
        steps = np.repeat(np.arange(size), np.minimum(counts, self.width))
        fired = ids[np.arange(self.width) < counts[:, None]]
        over = np.flatnonzero(counts > self.width)
        if over.size:
            bits = np.unpackbits(np.asarray(words)[over].view(np.uint8), axis=1,
                                 count=self.n, bitorder="little")
            row, col = np.nonzero(bits)
            keep = ~np.isin(steps, over)
            steps = np.concatenate([steps[keep], over[row]])
            fired = np.concatenate([fired[keep], col])
            order = np.argsort(steps, kind="stable")  # rows stay sorted by neuron
            steps, fired = steps[order], fired[order]
        return steps, fired

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the state as NumPy arrays, as ``PopulationRunner.snapshot``."""
        carry = self.carry
        out = {k: to_numpy(v).copy() for k, v in carry["vars"].items()}
        out["i_syn"] = to_numpy(carry["i_syn"]).copy()
        out["last_spike"] = to_numpy(carry["last_spike"]).copy()
        for p, data, state, g_init in zip(self.projections, self.datas, carry["g"],
                                          carry["g_init"], strict=True):
            g = self.entry.conductance(data, state)
            if g_init is not None:
                with precision(self.dtype):
                    g = g + g_init
            g = to_numpy(g)
            for name, offset, size in p.parts:
                out[f"g:{name}"] = g[offset:offset + size].copy()
        return out

