"""The whole network compiled: each chunk of steps is one call (the Numba runner).

Every step, in DESIGN section 3's order: the neurons (a per-neuron loop calling the
compiled integrator), the spike monitor, each projection with its strategy's ``step``
and ``conductance``, then the synaptic currents. The arithmetic is the NumPy runner's
(``synbench.impls.numpy.runner``), operation for operation. The chunk function, compiled
once per (neuron model, entry), is cached on disk like the kernels, so a second process
compiles nothing (:func:`chunk_function`).
"""

from __future__ import annotations

import functools

import numba
import numpy as np
from numba import literal_unroll

from ...core.errors import SynbenchError
from ...core.integrators import decay_factor
from ...core.neurons import NEVER_SPIKED, neuron_model
from . import cached_with_globals, jit, with_globals

# What the templates below (``_propagate``, the updates, ``_run_chunk``) call: each run
# compiles copies of them with these names bound (:func:`chunk_function`). A compiled
# function passed as an argument instead would keep Numba from caching the chunk.
integrate = step = conductance = update = propagate = None
with_synapses = False


def _propagate(projection):
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


def lif_update(t, neurons, i_syn, spikes, params):
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
        v_int = v.dtype.type(integrate(v[i], t * dt, dt, tau, el, i_bg, i_syn[i]))
        spiked = not refractory and v_int >= v_th
        v[i] = v[i] if refractory else (v_reset if spiked else v_int)
        last_spike[i] = t if spiked else last_spike[i]
        spikes[i] = spiked
        n_spikes += spiked
        i_syn[i] = 0
    return n_spikes


def hh_update(t, neurons, i_syn, spikes, params):
    """Step 1 for HH neurons, neuron by neuron (``neurons.hh_update``).

    Every neuron integrates; one spikes where V crosses v_th upward in this step and
    it is not refractory. Then I_syn = 0. Returns the number of spikes.
    """
    v, m, h, n, last_spike = neurons
    dt, ref_steps, v_th, cm, gl, el, ek, ena, g_na, g_kd, vt = params
    n_spikes = 0
    for i in range(v.size):
        refractory = t - last_spike[i] <= ref_steps
        v_new, m[i], h[i], n[i] = integrate(v[i], m[i], h[i], n[i], t * dt, dt, i_syn[i],
                                            cm, gl, el, ek, ena, g_na, g_kd, vt)
        v_new = v.dtype.type(v_new)  # the value stored decides the spike
        spiked = not refractory and v[i] < v_th and v_new >= v_th
        v[i] = v_new
        last_spike[i] = t if spiked else last_spike[i]
        spikes[i] = spiked
        n_spikes += spiked
        i_syn[i] = 0
    return n_spikes


def _run_chunk(first, n_steps, params, neurons, i_syn, spikes, projections, currents,
               steps, ids):
    """``n_steps`` steps from step ``first``: neurons, monitor, projections (if any).

    Returns the monitor's buffers (new ones if they had to grow) and its spike count.
    """
    count = 0
    for t in range(first, first + n_steps):
        n_spikes = update(t, neurons, i_syn, spikes, params)
        steps, ids, count = _record(t, spikes, n_spikes, steps, ids, count)
        if with_synapses:  # a constant: False compiles neurons alone
            for p in range(len(projections)):  # E2E, E2I, I2E, I2I
                propagate(projections[p])
            for group in literal_unroll(currents):  # E (E2E, I2E), I (E2I, I2I)
                _add_currents(*group)
    return steps, ids, count


@functools.cache
def chunk_function(neuron_update, integrator, name="neurons", kernels=None):
    """``_run_chunk`` compiled for ``neuron_update`` (``lif_update``, ``hh_update``)
    with the generated ``integrator`` and the unchecked ``kernels`` (step, conductance)
    of entry ``name`` (none: neurons alone), cached on disk across processes
    (:func:`cached_with_globals`).
    """
    step, conductance = kernels or (None, None)
    update = numba.njit(with_globals(neuron_update, integrate=numba.njit(integrator)))
    propagate = numba.njit(with_globals(_propagate, step=step, conductance=conductance))
    return cached_with_globals(_run_chunk, f"{name},{neuron_update.__name__}",
                               update=update, propagate=propagate,
                               with_synapses=kernels is not None)


_UPDATES = {"lif": lif_update, "hh": hh_update}


def _neuron_params(model, dt):
    """The update's parameter tuple: Python floats (as NumPy's update gets), ref_steps."""
    p = model.params
    if model.model.name == "lif":
        floats = (p.tau, p.el, p.i_bg, p.v_th, p.v_reset)
    else:
        floats = (p.v_th, p.cm, p.gl, p.el, p.ek, p.ena, p.g_na, p.g_kd, p.vt)
    return (float(dt), model.ref_steps, *(float(x) for x in floats))


class Simulation:
    """The ``synbench.run`` protocol: each chunk of steps is one compiled call.

    ``_run_chunk`` runs, every step: the neurons (a per-neuron loop calling the compiled
    integrator), the spike monitor (preallocated, doubled when full), each projection
    E2E, E2I, I2E, I2I with the strategy's ``step`` and ``conductance`` (bound into the
    compiled chunk, :func:`chunk_function`), then one pass per post group adding its
    projections' currents in that order. No Python and no allocation in the step loop.
    The arithmetic is the NumPy runner's, operation for operation
    (``synbench.impls.numpy.runner``).
    """

    def __init__(self, spec, entry, conns, dt, dtype, chunk_steps, monitor_capacity=None):
        self.dtype = dtype = np.dtype(dtype)
        self.entry = entry if spec.projections else None
        self.step_index = 0
        model = neuron_model(spec, dt)
        if model.model.name not in _UPDATES:
            raise SynbenchError(f"the numba runner has no update for {model.model.name!r} neurons")
        self.variables = model.model.variables
        kernels = (self.entry.id, self.entry.extras["unchecked"]) if self.entry else ()
        self.run_chunk = chunk_function(_UPDATES[model.model.name], model.integrator,
                                        *kernels)
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
        steps, ids, count = self.run_chunk(
            self.step_index, n_steps, self.params, self.neurons, self.i_syn, self.spikes,
            self.projections, self.currents, *self.monitor)
        self.monitor = (steps, ids)
        self.step_index += n_steps
        return steps[:count].copy(), ids[:count].copy()

    def compile(self) -> None:
        """Compile the whole chunk (neurons, kernels, monitor) by running zero steps."""
        self._chunk(0)

    def advance(self, n_steps):
        """The next ``n_steps`` steps in one compiled call; (spike steps, neuron ids)."""
        return self._chunk(n_steps)

    def finite(self) -> bool:
        return all(np.isfinite(v).all() for v in self.vars.values())

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the state: 'v' (and 'm', 'h', 'n'), 'i_syn', 'last_spike', 'g:<name>'."""
        out = {k: v.copy() for k, v in self.vars.items()}
        out["i_syn"] = self.i_syn.copy()
        out["last_spike"] = self.last_spike.copy()
        for name, (data, state, _, g_init, *_) in zip(self.names, self.projections, strict=True):
            g = np.array(self.entry.conductance(data, state))
            out[f"g:{name}"] = g + g_init if g_init.size else g
        return out
