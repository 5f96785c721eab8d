"""Numba backend: the eight strategies as compiled loops, and a runner compiled whole.

Every kernel is an ``@numba.njit`` function that reads like the seed tutorial's loops,
one idea each: the loop over synapses, over spiking neurons, over per-neuron lists.
``data`` is a namedtuple of arrays (and, for pre2syn / pre2post, ``numba.typed.List``
of per-neuron arrays, since the lists are the lesson), so the kernels can be called
from Python or from the user's own ``@njit`` loop:

>>> import numba, numpy as np
>>> from synbench import FixedProb, registry
>>> entry = registry.get("pre_slice", "numba")
>>> step, conductance = entry.step, entry.conductance
>>> data = entry.prepare(FixedProb(0.1, seed=0).build(100, 50), 0.5, "float64")
>>> @numba.njit
... def trace(data, g, spike_train, decay):
...     out = np.empty((spike_train.shape[0], data.n_post))
...     for t in range(spike_train.shape[0]):
...         g = step(data, g, spike_train[t], decay)
...         out[t] = conductance(data, g)
...     return out
>>> trace(data, entry.init_state(data), np.zeros((10, 100), bool), 0.98).shape
(10, 50)

Kernel API (DESIGN section 4): ``prepare(conn, weight, dtype) -> data``,
``init_state(data) -> state``, ``step(data, state, spikes, decay) -> state`` (in place)
and ``conductance(data, state, out=None) -> g_post``; ``spikes`` is a bool array of the
pre group and ``decay`` a scalar of the state's dtype (float64 or float32). Where the
state lives on post neurons the conductance *is* the state (no copy); otherwise it is
summed into ``out``, a new array unless one is given (the runner gives one, so its step
loop allocates nothing).

Event-driven kernels walk ``for i in spiking(spikes)``, the tutorial's ``for i in
range(n_pre): if spikes[i]:`` reading 8 neurons per test (usable in your code too).

The runner (:class:`Simulation`) runs each chunk of steps in one compiled call, with the
strategy's kernels passed in as compiled functions. Nothing is compiled with
``fastmath``: the loops do the NumPy runner's arithmetic in its order, so COBA's state is
bit-identical with it in float64; HH's differs in the last bit where NumPy's SIMD
``exp`` and ``**`` round differently from libm's (the rasters agree). Kernels are cached
on disk (``cache=True``); the runner's chunk function takes functions as arguments, so
it compiles once per process.
"""

from __future__ import annotations

import functools
from collections import namedtuple

import numba
import numpy as np
from numba import literal_unroll, typed

from ..core.connect import available_memory
from ..core.errors import SynbenchError
from ..core.integrators import decay_factor
from ..core.neurons import NEVER_SPIKED, neuron_model
from ..core.registry import as_weight, register

free_memory = available_memory
jit = numba.njit(cache=True)


def asarray(x):
    return np.asarray(x)


def synchronize(x):
    """Wait until ``x`` is computed: compiled calls return when done, so nothing to wait for."""
    return x


def to_numpy(x):
    return np.asarray(x)


# --- data: one namedtuple per kind of structure, weights as a 1-d array ---

_SIZES = "n_pre n_post n_syn dtype "
MatrixData = namedtuple("MatrixData", _SIZES + "weight_matrix")
SynapseData = namedtuple("SynapseData", _SIZES + "pre_ids post_ids weight")
ListData = namedtuple("ListData", _SIZES + "pre2syn post2syn weight")
Pre2PostData = namedtuple("Pre2PostData", _SIZES + "pre2post weights")
PostSliceData = namedtuple("PostSliceData", _SIZES + "post_slice pre_by_post weight")
PreSliceData = namedtuple("PreSliceData", _SIZES + "pre_slice post_ids weight")
CsrData = namedtuple("CsrData", _SIZES + "indptr indices values")


def _weight(conn, weight, dtype):
    """The weight as a 1-d array: size 1 for one weight shared by all, else one per synapse."""
    return np.atleast_1d(as_weight(weight, conn.n_syn, dtype))


@numba.njit(inline="always")
def _weight_at(weight, k):
    """Weight of synapse ``k``: ``weight[k]`` per synapse, ``weight[0]`` when shared."""
    return weight[k if weight.size > 1 else 0]


@numba.njit  # not cached: a generator loaded from the cache cannot be compiled into new callers
def spiking(spikes):
    """The indices of the neurons that spiked (True in ``spikes``), in increasing order.

    The loop ``for i in range(n_pre): if spikes[i]:`` of the tutorial, 8 neurons at a
    time: a contiguous bool array is read as 64-bit words and silent words are skipped,
    so a step with few spikes costs about n_pre / 8 tests instead of n_pre.
    """
    n = spikes.size
    n_words = n // 8 if spikes.itemsize == 1 and spikes.strides[0] == 1 else 0
    words = spikes[:8 * n_words].view(np.uint64)
    for w in range(n_words):
        if words[w]:
            for i in range(8 * w, 8 * w + 8):
                if spikes[i]:
                    yield i
    for i in range(8 * n_words, n):
        if spikes[i]:
            yield i


def _sizes(conn, dtype):
    return conn.n_pre, conn.n_post, conn.n_syn, np.dtype(dtype)


def _typed_list(arrays):
    """A ``numba.typed.List`` of (copies of) ``arrays``, filled in compiled code."""
    arrays = list(arrays)
    flat = np.ascontiguousarray(np.concatenate(arrays) if arrays else np.zeros(0, np.int32))
    indptr = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum([len(a) for a in arrays], out=indptr[1:])
    out = typed.List.empty_list(numba.typeof(flat))
    _fill_list(out, flat, indptr)
    return out


@jit
def _fill_list(out, flat, indptr):
    for i in range(indptr.size - 1):
        out.append(flat[indptr[i]:indptr[i + 1]].copy())


def _matrix_state(data):
    return np.zeros((data.n_pre, data.n_post), dtype=data.dtype)


def _synapse_state(data):
    return np.zeros(data.n_syn, dtype=data.dtype)


def _post_state(data):
    return np.zeros(data.n_post, dtype=data.dtype)


@jit
def _post_is_state(data, g, out=None):
    """The conductance of a post-state strategy: the state itself."""
    return g


@jit
def _zeroed(data, g, out):
    """``out`` set to zero, or a new zero (n_post,) array of the state's dtype."""
    if out is None:
        return np.zeros(data.n_post, data.dtype)
    out[:] = 0
    return out


# --- dense matrices ---


def _matrix_prepare(conn, weight, dtype):
    w = np.zeros((conn.n_pre, conn.n_post), dtype=dtype)
    # Row-major order of the True elements is canonical (pre-major) synapse order.
    w[conn.require("conn_mat")] = as_weight(weight, conn.n_syn, dtype)
    return MatrixData(*_sizes(conn, dtype), w)


@jit
def _column_sums(data, g, out=None):
    """g_post[j] = sum over pre i of g[i, j], row after row (NumPy's order for axis 0)."""
    out = _zeroed(data, g, out)
    for i in range(data.n_pre):
        for j in range(data.n_post):
            out[j] += g[i, j]
    return out


@register("dense", "numba", needs=("conn_mat",), state="matrix", event_driven=False,
          prepare=_matrix_prepare, init_state=_matrix_state, conductance=_column_sums)
@jit
def dense_step(data, g, spikes, decay):
    """Dense matrix ("mat 1"): decay and add on every element, every step.

    Needs ``conn_mat`` (as a weight matrix). Cost per step: O(n_pre * n_post),
    whatever the firing rate. Rows are independent (parallel over pre neurons).
    """
    w = data.weight_matrix
    for i in range(data.n_pre):
        for j in range(data.n_post):
            g[i, j] = g[i, j] * decay + spikes[i] * w[i, j]
    return g


@register("event_dense", "numba", needs=("conn_mat",), state="matrix", event_driven=True,
          prepare=_matrix_prepare, init_state=_matrix_state, conductance=_column_sums)
@jit
def event_dense_step(data, g, spikes, decay):
    """Dense matrix, rows of spiking pre neurons only ("mat 2").

    Needs ``conn_mat``. Cost per step: O(n_pre * n_post) for the decay (and the column
    sums), plus O(n_spikes * n_post) for the events. Rows are independent.
    """
    w = data.weight_matrix
    for i in range(data.n_pre):
        for j in range(data.n_post):
            g[i, j] *= decay
    for i in spiking(spikes):
        for j in range(data.n_post):
            g[i, j] += w[i, j]
    return g


# --- one value per synapse ---


def _pre_ids_prepare(conn, weight, dtype):
    pre_ids, post_ids = conn.require("pre_ids", "post_ids")
    return SynapseData(*_sizes(conn, dtype), pre_ids, post_ids, _weight(conn, weight, dtype))


@jit
def _pre_ids_conductance(data, g, out=None):
    """Scatter-sum of synapse conductances onto their post neurons, in canonical order."""
    out = _zeroed(data, g, out)
    for k in range(data.n_syn):
        out[data.post_ids[k]] += g[k]
    return out


@register("pre_ids", "numba", needs=("pre_ids", "post_ids"), state="synapse",
          event_driven=False, prepare=_pre_ids_prepare, init_state=_synapse_state,
          conductance=_pre_ids_conductance)
@jit
def pre_ids_step(data, g, spikes, decay):
    """Per-synapse vectors: every synapse decays and gathers its pre neuron's spike.

    Needs ``pre_ids`` and ``post_ids``. Cost per step: O(n_syn) for the decay and the
    gather, O(n_syn) scatter for the conductance. Parallel over synapses (the
    conductance's scatter is not: it would need atomics or a post-major order).
    """
    for k in range(data.n_syn):
        g[k] = g[k] * decay + spikes[data.pre_ids[k]] * _weight_at(data.weight, k)
    return g


def _pre2syn_prepare(conn, weight, dtype):
    pre2syn, post2syn = conn.require("pre2syn", "post2syn")
    return ListData(*_sizes(conn, dtype), _typed_list(pre2syn), _typed_list(post2syn),
                    _weight(conn, weight, dtype))


@jit
def _pre2syn_conductance(data, g, out=None):
    """Each post neuron sums the synapses of its list."""
    out = _zeroed(data, g, out)
    for j in range(data.n_post):
        for k in data.post2syn[j]:
            out[j] += g[k]
    return out


@register("pre2syn", "numba", needs=("pre2syn", "post2syn"), state="synapse",
          event_driven=True, prepare=_pre2syn_prepare, init_state=_synapse_state,
          conductance=_pre2syn_conductance)
@jit
def pre2syn_step(data, g, spikes, decay):
    """Per-neuron synapse lists: decay every synapse, then walk the lists of the spikers.

    Needs ``pre2syn`` and ``post2syn`` (``numba.typed.List`` of arrays). Cost per step:
    O(n_syn) decay plus O(fan-out) per spike; O(n_syn) for the conductance. The event
    loop is parallel over spiking neurons (their synapses are disjoint).
    """
    for k in range(data.n_syn):
        g[k] *= decay
    for i in spiking(spikes):
        for k in data.pre2syn[i]:
            g[k] += _weight_at(data.weight, k)
    return g


def _post_slice_prepare(conn, weight, dtype):
    post_slice, pre_ids, post_order = conn.require("post_slice", "pre_ids", "post_order")
    w = _weight(conn, weight, dtype)
    return PostSliceData(*_sizes(conn, dtype), post_slice, pre_ids[post_order],
                         w[post_order] if w.size > 1 else w)


@jit
def _post_slice_conductance(data, g, out=None):
    """Each post neuron sums its own contiguous slice: no scatter."""
    out = _zeroed(data, g, out)
    for j in range(data.n_post):
        for k in range(data.post_slice[j, 0], data.post_slice[j, 1]):
            out[j] += g[k]
    return out


@register("post_slice", "numba", needs=("post_slice", "pre_ids", "post_order"),
          state="synapse", event_driven=False, prepare=_post_slice_prepare,
          init_state=_synapse_state, conductance=_post_slice_conductance)
@jit
def post_slice_step(data, g, spikes, decay):
    """Synapses in post-major order: every synapse decays and gathers its pre's spike.

    Needs ``post_slice`` and ``pre_ids`` in post-major order (via ``post_order``). Cost
    per step: O(n_syn), whatever the firing rate; the conductance sums slices with no
    scatter. Parallel over synapses, and over post neurons for the conductance.
    """
    for k in range(data.n_syn):
        g[k] = g[k] * decay + spikes[data.pre_by_post[k]] * _weight_at(data.weight, k)
    return g


# --- one value per post neuron ---


def _pre2post_prepare(conn, weight, dtype):
    pre2post = conn.require("pre2post")
    w = _weight(conn, weight, dtype)
    if w.size > 1:  # per synapse: split per pre like the post lists
        weights = np.split(w, np.cumsum([len(p) for p in pre2post])[:-1])
    else:  # one shared weight: every pre neuron's list is that one value
        weights = [w] * conn.n_pre
    return Pre2PostData(*_sizes(conn, dtype), _typed_list(pre2post), _typed_list(weights))


@register("pre2post", "numba", needs=("pre2post",), state="post", event_driven=True,
          prepare=_pre2post_prepare, init_state=_post_state, conductance=_post_is_state)
@jit
def pre2post_step(data, g, spikes, decay):
    """Per-neuron post lists, state on post neurons: spikers add to their targets.

    Needs ``pre2post`` (``numba.typed.List`` of arrays, with per-pre weight lists).
    Cost per step: O(n_post) decay plus O(fan-out) per spike. The event loop is serial
    (two spikers may share a target).
    """
    for j in range(data.n_post):
        g[j] *= decay
    for i in spiking(spikes):
        targets, weights = data.pre2post[i], data.weights[i]
        for m in range(targets.size):
            g[targets[m]] += _weight_at(weights, m)
    return g


def _pre_slice_prepare(conn, weight, dtype):
    pre_slice, post_ids = conn.require("pre_slice", "post_ids")
    return PreSliceData(*_sizes(conn, dtype), pre_slice, post_ids, _weight(conn, weight, dtype))


@register("pre_slice", "numba", needs=("pre_slice", "post_ids"), state="post",
          event_driven=True, prepare=_pre_slice_prepare, init_state=_post_state,
          conductance=_post_is_state)
@jit
def pre_slice_step(data, g, spikes, decay):
    """Pre-major slices, state on post neurons: each spiker adds to its slice of targets.

    Needs ``pre_slice`` and ``post_ids``. Cost per step: O(n_post) decay plus
    O(fan-out) per spike, over contiguous memory. The event loop is serial (two
    spikers may share a target).
    """
    for j in range(data.n_post):
        g[j] *= decay
    for i in spiking(spikes):
        for k in range(data.pre_slice[i, 0], data.pre_slice[i, 1]):
            g[data.post_ids[k]] += _weight_at(data.weight, k)
    return g


def _csr_prepare(conn, weight, dtype):
    indptr, indices = conn.require("csr")
    # The transpose (post rows, pre columns) in CSR form, so the step is a row-wise
    # mat-vec; a stable sort keeps pre ascending within each post row.
    order = np.argsort(indices, kind="stable")
    pre_of = np.repeat(np.arange(conn.n_pre, dtype=indices.dtype), np.diff(indptr))
    indptr_t = np.zeros(conn.n_post + 1, dtype=indptr.dtype)
    np.cumsum(np.bincount(indices, minlength=conn.n_post), out=indptr_t[1:])
    values = np.broadcast_to(as_weight(weight, conn.n_syn, dtype), (conn.n_syn,))[order]
    return CsrData(*_sizes(conn, dtype), indptr_t, pre_of[order], np.ascontiguousarray(values))


@register("csr", "numba", needs=("csr",), state="post", event_driven=False,
          prepare=_csr_prepare, init_state=_post_state, conductance=_post_is_state)
@jit
def csr_step(data, g, spikes, decay):
    """Sparse mat-vec g = decay g + W^T s, with W^T stored as CSR (post rows).

    Needs ``csr`` (transposed once in ``prepare``). Cost per step: O(n_post + n_syn),
    whatever the firing rate: every row is walked. Parallel over post neurons.
    """
    for j in range(data.n_post):
        acc = g.dtype.type(0)
        for k in range(data.indptr[j], data.indptr[j + 1]):
            acc += data.values[k] * spikes[data.indices[k]]
        g[j] = g[j] * decay + acc
    return g


# --- the runner: each chunk of steps in one compiled call ---


@numba.njit  # takes compiled functions as arguments: not cacheable
def _propagate(projection, step, conductance):
    """Step 2 of DESIGN section 3 for one projection, up to its conductance.

    The strategy's step (decay, then this step's spikes) and its conductance: the state
    itself for post-state strategies, summed into ``out`` otherwise. COBAHH's initial
    conductance decays on its own and is added into ``g_total``.
    """
    data, state, out, g_init, g_total, spikes, decay = projection
    step(data, state, spikes, decay)
    g = conductance(data, state, out)
    if g_init.size:
        for j in range(g.size):
            g_init[j] *= decay
            g_total[j] = g[j] + g_init[j]


@jit
def _add_currents(i_syn, v, terms):
    """post.I_syn += g * (E_rev - post.V) for each projection onto one group, in order.

    ``terms`` holds each projection's (g, E_rev); one pass over the group adds them all:
    the same sums in the same order as one pass per projection, with less memory traffic.
    """
    for j in range(v.size):
        current = i_syn[j]
        for q in range(len(terms)):
            g, e_rev = terms[q]
            current += g[j] * (e_rev - v[j])
        i_syn[j] = current


@jit
def _record(t, spikes, n_spikes, steps, ids, count):
    """Append this step's ``n_spikes`` spikes to the monitor, doubling it when full."""
    if count + n_spikes > steps.size:
        size = max(2 * steps.size, count + n_spikes)
        steps, ids = _resized(steps, size, count), _resized(ids, size, count)
    # The loop of spiking(), written out: 8 neurons at a time, without a generator's cost.
    n_words = spikes.size // 8
    words = spikes[:8 * n_words].view(np.uint64)
    for w in range(n_words):
        if words[w]:
            for i in range(8 * w, 8 * w + 8):
                if spikes[i]:
                    steps[count], ids[count] = t, i
                    count += 1
    for i in range(8 * n_words, spikes.size):
        if spikes[i]:
            steps[count], ids[count] = t, i
            count += 1
    return steps, ids, count


@jit
def _resized(buffer, size, count):
    out = np.empty(size, buffer.dtype)
    out[:count] = buffer[:count]
    return out


@numba.njit
def lif_update(t, neurons, i_syn, spikes, params, vstep):
    """Step 1 of DESIGN section 3 for LIF neurons, neuron by neuron (``neurons.lif_update``).

    Refractory neurons keep V and cannot spike; the others integrate V with the I_syn
    of the previous step and spike where V >= v_th (V = v_reset, last spike = t). Then
    I_syn = 0. Written with selects, not branches, so the loop vectorises. Integrates in
    float64 and rounds to the state's dtype before the threshold, like the NumPy update.
    Returns the number of spikes.
    """
    v, last_spike = neurons
    dt, ref_steps, tau, el, i_bg, v_th, v_reset = params
    n_spikes = 0
    for i in range(v.size):
        refractory = t - last_spike[i] <= ref_steps
        v_int = v.dtype.type(vstep(v[i], t * dt, dt, tau, el, i_bg, i_syn[i]))
        spiked = not refractory and v_int >= v_th
        v[i] = v[i] if refractory else (v_reset if spiked else v_int)
        last_spike[i] = t if spiked else last_spike[i]
        spikes[i] = spiked
        n_spikes += spiked
        i_syn[i] = 0
    return n_spikes


@numba.njit
def hh_update(t, neurons, i_syn, spikes, params, hstep):
    """Step 1 for HH neurons, neuron by neuron (``neurons.hh_update``).

    Every neuron integrates; one spikes where V crosses v_th upward in this step and
    it is not refractory. Then I_syn = 0. Returns the number of spikes.
    """
    v, m, h, n, last_spike = neurons
    dt, ref_steps, v_th, cm, gl, el, ek, ena, g_na, g_kd, vt = params
    n_spikes = 0
    for i in range(v.size):
        refractory = t - last_spike[i] <= ref_steps
        v_new, m[i], h[i], n[i] = hstep(v[i], m[i], h[i], n[i], t * dt, dt, i_syn[i],
                                        cm, gl, el, ek, ena, g_na, g_kd, vt)
        v_new = v.dtype.type(v_new)  # the value stored decides the spike
        spiked = not refractory and v[i] < v_th and v_new >= v_th
        v[i] = v_new
        last_spike[i] = t if spiked else last_spike[i]
        spikes[i] = spiked
        n_spikes += spiked
        i_syn[i] = 0
    return n_spikes


@numba.njit
def _run_chunk(first, n_steps, update, integrate, params, neurons, i_syn, spikes,
               step, conductance, projections, currents, steps, ids):
    """``n_steps`` steps from step ``first``: neurons, monitor, projections (if any).

    Returns the monitor's buffers (new ones if they had to grow) and its spike count.
    """
    count = 0
    for t in range(first, first + n_steps):
        n_spikes = update(t, neurons, i_syn, spikes, params, integrate)
        steps, ids, count = _record(t, spikes, n_spikes, steps, ids, count)
        if step is not None:  # None: neurons alone
            for p in range(len(projections)):  # E2E, E2I, I2E, I2I
                _propagate(projections[p], step, conductance)
            for group in literal_unroll(currents):  # E (E2E, I2E), I (E2I, I2I)
                _add_currents(*group)
    return steps, ids, count


_UPDATES = {"lif": lif_update, "hh": hh_update}


def _neuron_params(model, dt):
    """The update's parameter tuple: Python floats (as NumPy's update gets), ref_steps."""
    p = model.params
    if model.model.name == "lif":
        floats = (p.tau, p.el, p.i_bg, p.v_th, p.v_reset)
    else:
        floats = (p.v_th, p.cm, p.gl, p.el, p.ek, p.ena, p.g_na, p.g_kd, p.vt)
    return (float(dt), model.ref_steps, *(float(x) for x in floats))


@functools.cache
def _compiled(fn):
    """One compiled integrator per generated step function (so runs share compilations)."""
    return numba.njit(fn)


class Simulation:
    """The ``synbench.run`` protocol: each chunk of steps is one compiled call.

    ``_run_chunk`` runs, every step: the neurons (a per-neuron loop calling the compiled
    integrator), the spike monitor (preallocated, doubled when full), each projection
    E2E, E2I, I2E, I2I with the strategy's ``step`` and ``conductance`` (passed in as
    compiled functions), then one pass per post group adding its projections' currents
    in that order. No Python and no allocation in the step loop. The arithmetic is the
    NumPy runner's, operation for operation (``_population.PopulationRunner``).
    """

    def __init__(self, spec, entry, conns, dt, dtype, chunk_steps, monitor_capacity=None):
        self.dtype = dtype = np.dtype(dtype)
        self.entry = entry if spec.projections else None
        self.step_index = 0
        model = neuron_model(spec, dt)
        if model.model.name not in _UPDATES:
            raise SynbenchError(f"the numba runner has no update for {model.model.name!r} neurons")
        self.variables = model.model.variables
        self.update = _UPDATES[model.model.name]
        self.integrate = _compiled(model.integrator)
        self.params = _neuron_params(model, dt)
        self.vars = {k: np.array(spec.initial[k], dtype=dtype) for k in self.variables}
        self.last_spike = np.full(spec.n, NEVER_SPIKED, dtype=np.int32)
        self.neurons = (*self.vars.values(), self.last_spike)
        self.i_syn = np.zeros(spec.n, dtype=dtype)
        self.spikes = np.zeros(spec.n, dtype=np.bool_)
        self.names, self.projections, self.currents = [], (), ()
        if self.entry is not None:
            self._prepare(spec, conns, dt)
        capacity = monitor_capacity or max(1024, spec.n * chunk_steps // 100)
        self.monitor = (np.empty(capacity, np.int32), np.empty(capacity, np.int32))

    def _prepare(self, spec, conns, dt):
        """Per projection (data, state, out, g_init, g_total, pre spikes, decay); per post
        group (I_syn, V, ((g, E_rev) of each projection onto it)). Spikes, I_syn and V
        are views of the population's arrays."""
        entry, dtype = self.entry, self.dtype
        projections, terms = [], {g.name: [] for g in spec.groups}
        for p in spec.projections:
            pre, n_post = spec.group(p.pre), spec.group(p.post).size
            data = entry.prepare(conns[p.name], p.weight, dtype)
            state = entry.init_state(data)
            out = np.zeros(0 if entry.state == "post" else n_post, dtype)
            g_init = spec.initial_g.get(p.name)
            g_init = np.zeros(0, dtype) if g_init is None else np.array(g_init, dtype)
            g_total = np.zeros(g_init.size, dtype)
            projections.append((data, state, out, g_init, g_total, self.spikes[pre.slice],
                                dtype.type(decay_factor(p.tau, dt, spec.method))))
            # Where this projection's conductance is once _propagate has run.
            g = g_total if g_init.size else (state if entry.state == "post" else out)
            terms[p.post].append((g, dtype.type(p.e_rev)))
            self.names.append(p.name)
        self.projections = tuple(projections)
        self.currents = tuple(
            (self.i_syn[g.slice], self.vars["v"][g.slice], tuple(terms[g.name]))
            for g in spec.groups if terms[g.name])

    def _chunk(self, n_steps):
        step, conductance = (self.entry.step, self.entry.conductance) if self.entry else (None,) * 2
        steps, ids, count = _run_chunk(
            self.step_index, n_steps, self.update, self.integrate, self.params, self.neurons,
            self.i_syn, self.spikes, step, conductance, self.projections, self.currents,
            *self.monitor)
        self.monitor = (steps, ids)
        self.step_index += n_steps
        return steps[:count].copy(), ids[:count].copy()

    def compile(self) -> None:
        """Compile the whole chunk (neurons, kernels, monitor) by running zero steps."""
        self._chunk(0)

    def advance(self, n_steps):
        """The next ``n_steps`` steps in one compiled call; (spike steps, neuron ids)."""
        return self._chunk(n_steps)

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the state: 'v' (and 'm', 'h', 'n'), 'i_syn', 'last_spike', 'g:<name>'."""
        out = {k: v.copy() for k, v in self.vars.items()}
        out["i_syn"] = self.i_syn.copy()
        out["last_spike"] = self.last_spike.copy()
        for name, (data, state, _, g_init, *_) in zip(self.names, self.projections, strict=True):
            g = np.array(self.entry.conductance(data, state))
            out[f"g:{name}"] = g + g_init if g_init.size else g
        return out
