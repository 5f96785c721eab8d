"""NumPy backend: the eight strategies as array expressions or honest Python loops.

Vectorised where the strategy allows it (dense, event_dense, pre_ids, post_slice, csr);
a Python loop over spiking neurons or lists where the loop *is* the lesson (pre2syn,
pre2post, pre_slice), exactly as in the seed tutorial. ``dense`` is the reference
every other (strategy, backend) is checked against.

Kernel API (DESIGN section 4): ``prepare(conn, weight, dtype) -> data``,
``init_state(data) -> state``, ``step(data, state, spikes, decay) -> state`` and
``conductance(data, state) -> g_post``; ``spikes`` is a bool array of the pre group.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ..core.connect import available_memory
from ..core.registry import as_weight, register
from ._population import PopulationRunner

free_memory = available_memory


# --- prepare / init_state / conductance shared by strategies with the same state ---


def _data(conn, weight, dtype, *names, **extra):
    """The structures ``names`` as arrays plus the weight (0-d or per synapse)."""
    values = conn.require(*names) if len(names) > 1 else (conn.require(*names),)
    return SimpleNamespace(
        n_pre=conn.n_pre, n_post=conn.n_post, n_syn=conn.n_syn,
        weight=as_weight(weight, conn.n_syn, dtype), dtype=np.dtype(dtype),
        **dict(zip(names, values, strict=True)), **extra,
    )


def _weight_matrix(conn, weight, dtype):
    data = _data(conn, weight, dtype, "pre_ids", "post_ids")
    w = np.zeros((conn.n_pre, conn.n_post), dtype=dtype)
    w[data.pre_ids, data.post_ids] = data.weight
    data.weight_matrix = w
    return data


def _matrix_state(data):
    return np.zeros((data.n_pre, data.n_post), dtype=data.dtype)


def _synapse_state(data):
    return np.zeros(data.n_syn, dtype=data.dtype)


def _post_state(data):
    return np.zeros(data.n_post, dtype=data.dtype)


def _column_sums(data, g):
    return g.sum(axis=0)


def _post_is_state(data, g):
    return g


# --- the eight strategies ---


@register("dense", "numpy", needs=("conn_mat",), state="matrix", event_driven=False,
          prepare=_weight_matrix, init_state=_matrix_state, conductance=_column_sums)
def dense_step(data, g, spikes, decay):
    """Dense matrix ("mat 1"), the reference: decay and add on every element, every step.

    Needs ``conn_mat`` (as a weight matrix). Cost per step: O(n_pre * n_post),
    whatever the firing rate. Vectorised.
    """
    g *= decay
    g += spikes[:, None] * data.weight_matrix
    return g


@register("event_dense", "numpy", needs=("conn_mat",), state="matrix", event_driven=True,
          prepare=_weight_matrix, init_state=_matrix_state, conductance=_column_sums)
def event_dense_step(data, g, spikes, decay):
    """Dense matrix, rows of spiking pre neurons only ("mat 2").

    Needs ``conn_mat``. Cost per step: O(n_pre * n_post) for the decay and the column
    sums, plus O(n_spikes * n_post) for the events. Vectorised.
    """
    g *= decay
    spiking = np.flatnonzero(spikes)
    g[spiking] += data.weight_matrix[spiking]
    return g


@register("pre_ids", "numpy", needs=("pre_ids", "post_ids"), state="synapse",
          event_driven=False,
          prepare=lambda conn, w, dtype: _data(conn, w, dtype, "pre_ids", "post_ids"),
          init_state=_synapse_state,
          conductance=lambda data, g: np.bincount(
              data.post_ids, weights=g, minlength=data.n_post).astype(data.dtype, copy=False))
def pre_ids_step(data, g, spikes, decay):
    """Per-synapse vectors: gather each synapse's pre spike, add its weight.

    Needs ``pre_ids`` and ``post_ids``. Cost per step: O(n_syn) for the decay, the
    gather and the scatter-sum onto post neurons (np.bincount). Vectorised.
    """
    g *= decay
    g += spikes[data.pre_ids] * data.weight
    return g


def _pre2syn_conductance(data, g):
    out = np.zeros(data.n_post, dtype=data.dtype)
    for post, syns in enumerate(data.post2syn):
        out[post] = g[syns].sum()
    return out


@register("pre2syn", "numpy", needs=("pre2syn", "post2syn"), state="synapse",
          event_driven=True,
          prepare=lambda conn, w, dtype: _data(conn, w, dtype, "pre2syn", "post2syn"),
          init_state=_synapse_state, conductance=_pre2syn_conductance)
def pre2syn_step(data, g, spikes, decay):
    """Per-neuron synapse lists: loop over spiking pre neurons, then sum per post.

    Needs ``pre2syn`` and ``post2syn``. Cost per step: O(n_syn) decay, one Python
    iteration per spike, and one per post neuron for the conductance: the loop over
    lists is the lesson.
    """
    g *= decay
    for pre in np.flatnonzero(spikes):
        syns = data.pre2syn[pre]
        g[syns] += data.weight if data.weight.ndim == 0 else data.weight[syns]
    return g


def _pre2post_prepare(conn, weight, dtype):
    data = _data(conn, weight, dtype, "pre2post")
    if data.weight.ndim:  # per-synapse weights, split per pre like the post lists
        data.weight_lists = np.split(data.weight, np.cumsum([len(p) for p in data.pre2post])[:-1])
    return data


@register("pre2post", "numpy", needs=("pre2post",), state="post", event_driven=True,
          prepare=_pre2post_prepare, init_state=_post_state, conductance=_post_is_state)
def pre2post_step(data, g, spikes, decay):
    """Per-neuron post lists, state on post neurons: loop over spiking pre neurons.

    Needs ``pre2post``. Cost per step: O(n_post) decay plus one Python iteration per
    spike adding to its targets.
    """
    g *= decay
    for pre in np.flatnonzero(spikes):
        g[data.pre2post[pre]] += data.weight if data.weight.ndim == 0 else data.weight_lists[pre]
    return g


def _post_slice_prepare(conn, weight, dtype):
    data = _data(conn, weight, dtype, "post_slice", "pre_ids", "post_order")
    data.pre_by_post = data.pre_ids[data.post_order]
    if data.weight.ndim:
        data.weight = data.weight[data.post_order]
    nonempty = data.post_slice[:, 1] > data.post_slice[:, 0]
    data.nonempty, data.starts = nonempty, data.post_slice[nonempty, 0]
    return data


def _post_slice_conductance(data, g):
    out = np.zeros(data.n_post, dtype=data.dtype)
    if data.starts.size:
        # Segments run from one non-empty start to the next: exactly each post's slice.
        out[data.nonempty] = np.add.reduceat(g, data.starts)
    return out


@register("post_slice", "numpy", needs=("post_slice", "pre_ids", "post_order"),
          state="synapse", event_driven=False, prepare=_post_slice_prepare,
          init_state=_synapse_state, conductance=_post_slice_conductance)
def post_slice_step(data, g, spikes, decay):
    """Synapses in post-major order: every post neuron sums its own slice.

    Needs ``post_slice`` and ``pre_ids`` in post-major order (via ``post_order``).
    Cost per step: O(n_syn) gather and decay, then O(n_syn) segment sums with no
    scatter (np.add.reduceat). Vectorised.
    """
    g *= decay
    g += spikes[data.pre_by_post] * data.weight
    return g


@register("pre_slice", "numpy", needs=("pre_slice", "post_ids"), state="post",
          event_driven=True,
          prepare=lambda conn, w, dtype: _data(conn, w, dtype, "pre_slice", "post_ids"),
          init_state=_post_state, conductance=_post_is_state)
def pre_slice_step(data, g, spikes, decay):
    """Pre-major slices, state on post neurons: for each spike add to its slice.

    Needs ``pre_slice`` and ``post_ids``. Cost per step: O(n_post) decay plus one
    Python iteration per spike over its contiguous slice of targets.
    """
    g *= decay
    for pre in np.flatnonzero(spikes):
        start, end = data.pre_slice[pre]
        g[data.post_ids[start:end]] += (
            data.weight if data.weight.ndim == 0 else data.weight[start:end]
        )
    return g


def _csr_prepare(conn, weight, dtype):
    import scipy.sparse

    data = _data(conn, weight, dtype, "csr")
    indptr, indices = data.csr
    values = np.broadcast_to(data.weight, (conn.n_syn,)).astype(dtype)
    # Store the transpose as CSR so the per-step product is a plain CSR mat-vec.
    matrix = scipy.sparse.csr_matrix((values, indices, indptr), shape=(conn.n_pre, conn.n_post))
    data.matrix_t = matrix.T.tocsr()
    return data


@register("csr", "numpy", needs=("csr",), state="post", event_driven=False,
          prepare=_csr_prepare, init_state=_post_state, conductance=_post_is_state)
def csr_step(data, g, spikes, decay):
    """Library sparse mat-vec (scipy.sparse): g += W^T s.

    Needs ``csr``. Cost per step: O(n_post) decay plus O(n_syn) for the mat-vec,
    whatever the firing rate.
    """
    g *= decay
    g += data.matrix_t @ spikes.astype(data.dtype)
    return g


class Simulation(PopulationRunner):
    """Steps the network from Python, one NumPy call (or loop) at a time."""

    xp = np


def asarray(x):
    return np.asarray(x)


def to_numpy(x):
    return np.asarray(x)


def synchronize(x):
    """Wait until ``x`` is computed: NumPy computes eagerly, so nothing to wait for."""
    return x
