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
from numba import literal_unroll, typed

from ...core.errors import SynbenchError
from ...core.neurons import NEVER_SPIKED, neuron_model
from ...core.strategies import state_shape
from ...core.synapses import COBA, CUBA, MgBlock, SynapseModel, VoltageJump, weights_at_output
from . import cached_with_globals, jit, with_globals

# What the templates below (``_propagate``, the updates, ``_run_chunk``) call: each run
# compiles copies of them with these names bound (:func:`chunk_function`). A compiled
# function passed as an argument instead would keep Numba from caching the chunk.
integrate = step = deliver = conductance = update = propagate = advance = None
delay_deliver = None
with_synapses = with_jumps = single_decay = with_sources = False
model_input = model_output = 0
#: How a projection's events are delayed (DESIGN section 4c): not at all, by a ring of
#: pre spike vectors (one delay per projection), or by a delay mechanism (per synapse).
NO_DELAY, SPIKE_RING, MECHANISM = range(3)
delay_kind = NO_DELAY


def _propagate(projection, t, delay_buffers, p):
    """Step 2 of DESIGN section 3 for one projection at step ``t``, up to its conductance.

    The synapse model's state advances, this step's spikes are added (section 4b; for
    a state times one factor, Exponential's, the strategy's own ``step`` does both),
    then the conductance: the state itself for post-state strategies, summed into
    ``out`` otherwise, weighed first where the model weighs its output (NMDA). COBAHH's
    initial conductance decays on its own and is added into ``g_total``. Delayed
    (section 4c): the spikes of step t - d from a ring of the last d + 1, or the
    delay mechanism adds the events that arrive at t (its buffer, which may be replaced
    by a larger one, is the projection's ``p``-th of ``delay_buffers``).
    """
    (data, state, out, g_init, g_total, spikes, factors, weights, weighted, ring,
     delay_data) = projection
    if delay_kind == SPIKE_RING:  # a constant, as the others: one branch is compiled
        ring[t % ring.shape[0], :] = spikes
        spikes = ring[(t + 1) % ring.shape[0]]
    if delay_kind == MECHANISM:
        if single_decay:
            _scaled(state[0], factors[0])
        else:
            advance(state, factors)
        _, delay_buffers[p] = delay_deliver(delay_data, state[model_input], delay_buffers[p],
                                            spikes, t)
    elif single_decay:
        step(data, state[0], spikes, factors[0])
    else:
        advance(state, factors)
        deliver(data, state[model_input], spikes)
    g_state = state[model_output]
    if weights.size:
        flat_state, flat_weights = g_state.reshape(-1), weights.reshape(-1)
        flat_weighted = weighted.reshape(-1)
        for k in range(flat_weighted.size):
            flat_weighted[k] = flat_state[k] * flat_weights[k]
        g_state = weighted
    g = conductance(data, g_state, out)
    if g_init.size:
        for j in range(g.size):
            g_init[j] *= factors[0]
            g_total[j] = g[j] + g_init[j]


@jit
def _scaled(state, factor):
    flat = state.reshape(-1)
    for k in range(flat.size):
        flat[k] *= factor


def _advance_one(state, factors):
    """One variable per element advanced by the synapse model's ``advance``."""
    g = state[0].reshape(-1)
    for k in range(g.size):
        (g[k],) = advance((g[k],), factors)


def _advance_two(state, factors):
    """Two variables per element advanced together by the synapse model's ``advance``."""
    g, h = state[0].reshape(-1), state[1].reshape(-1)
    for k in range(g.size):
        g[k], h[k] = advance((g[k], h[k]), factors)


_ADVANCES = {1: _advance_one, 2: _advance_two}
single_decay_template = SynapseModel.advance_template

#: How each output enters the post neuron, as ``_add_currents`` reads it.
COBA_CURRENT, CUBA_CURRENT, MG_BLOCK_CURRENT, VOLTAGE_JUMP = range(4)


def output_terms(output) -> tuple:
    """(kind, e_rev, alpha, mg, beta) of an output of ``core.synapses``."""
    kind = {COBA: COBA_CURRENT, CUBA: CUBA_CURRENT, MgBlock: MG_BLOCK_CURRENT,
            VoltageJump: VOLTAGE_JUMP}[type(output)]
    return (kind, *(float(getattr(output, name, 0.0)) for name in ("e_rev", "alpha", "mg",
                                                                   "beta")))


@jit
def _add_currents(i_syn, v, jump, terms):
    """post.I_syn += the output's current of g for each projection onto one group, in
    order (Delta's: V's jump at the next step, into ``jump``): ``core.synapses``'
    outputs, operation for operation.

    ``terms`` holds each projection's (g, output kind, e_rev, alpha, mg, beta). One loop
    over the group per projection, the kind chosen outside it, so that each loop
    vectorises; every I_syn[j] adds its terms in the spec's order, as the NumPy runner.
    """
    for q in range(len(terms)):
        g, kind, e_rev, alpha, mg, beta = terms[q]
        if kind == COBA_CURRENT:
            for j in range(v.size):
                i_syn[j] += g[j] * (e_rev - v[j])
        elif kind == CUBA_CURRENT:
            for j in range(v.size):
                i_syn[j] += g[j]
        elif kind == MG_BLOCK_CURRENT:
            for j in range(v.size):
                i_syn[j] += g[j] * (e_rev - v[j]) / (1 + mg * np.exp(-alpha * v[j]) / beta)
        else:
            for j in range(v.size):
                jump[j] += g[j]


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
    v, last_spike, jump = neurons
    dt, ref_steps, tau, el, i_bg, v_th, v_reset = params
    n_spikes = 0
    for i in range(v.size):
        refractory = t - last_spike[i] <= ref_steps
        v_int = v.dtype.type(integrate(v[i], t * dt, dt, tau, el, i_bg, i_syn[i]))
        if with_jumps:  # a constant: Delta synapses' jumps of the previous step
            v_int += jump[i]
            jump[i] = 0
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
               delay_buffers, steps, ids, source_schedule, source_spikes):
    """``n_steps`` steps from step ``first``: neurons, monitor, projections (if any).

    ``source_schedule`` holds the spike sources' spikes of each step of the chunk, which
    step by step become ``source_spikes``, the projections' pre spikes from sources.
    Returns the monitor's buffers (new ones if they had to grow) and its spike count.
    """
    count = 0
    for t in range(first, first + n_steps):
        n_spikes = update(t, neurons, i_syn, spikes, params)
        steps, ids, count = _record(t, spikes, n_spikes, steps, ids, count)
        if with_sources:  # a constant
            source_spikes[:] = source_schedule[t - first]
        if with_synapses:  # a constant: False compiles neurons alone
            for p in range(len(projections)):  # E2E, E2I, I2E, I2I
                propagate(projections[p], t, delay_buffers, p)
            for group in literal_unroll(currents):  # E (E2E, I2E), I (E2I, I2I)
                _add_currents(*group)
    return steps, ids, count


@functools.cache
def chunk_function(neuron_update, integrator, name="neurons", kernels=None, synapse=None,
                   with_jump=False, with_sources=False, delay=(NO_DELAY, None, "")):
    """``_run_chunk`` compiled for ``neuron_update`` (``lif_update``, ``hh_update``)
    with the generated ``integrator`` and the unchecked ``kernels`` (step, deliver,
    conductance) of entry ``name`` (none: neurons alone), cached on disk across
    processes (:func:`cached_with_globals`).

    ``synapse`` says how the projections' synapse model advances: (its
    ``advance_template``, its generated integrator or None, its number of variables,
    the index of its input and of its output variable). ``with_jump``: Delta synapses
    make V jump. ``with_sources``: some projections start at spike sources. ``delay``:
    (``NO_DELAY``, ``SPIKE_RING`` or ``MECHANISM``, the mechanism's deliver, its name).
    """
    step, deliver, conductance = kernels or (None, None, None)
    update = numba.njit(with_globals(neuron_update, integrate=numba.njit(integrator),
                                     with_jumps=with_jump))
    propagate = None
    if kernels is not None:
        template, synapse_integrator, n_variables, model_input, model_output = synapse
        advance = numba.njit(template if synapse_integrator is None else with_globals(
            template, integrate=numba.njit(synapse_integrator)))
        kind, mechanism_deliver, _ = delay
        propagate = numba.njit(with_globals(
            _propagate, step=step, deliver=deliver, conductance=conductance,
            delay_kind=kind, delay_deliver=mechanism_deliver,
            single_decay=template is single_decay_template, model_input=model_input,
            model_output=model_output,
            advance=numba.njit(with_globals(_ADVANCES[n_variables], advance=advance))))
    label = f"{name},{neuron_update.__name__}"
    if synapse is not None:
        label += f",{synapse[0].__name__}"
    if delay[0] != NO_DELAY:
        label += f",delay{delay[0]}{delay[2]}"
    return cached_with_globals(_run_chunk, label, update=update, propagate=propagate,
                               with_synapses=kernels is not None, with_sources=with_sources)


_UPDATES = {"lif": lif_update, "hh": hh_update}


def _one_synapse_model(spec):
    """The projections' synapse model class: one chunk compiles one ``advance``."""
    classes = {type(p.synapse) for p in spec.projections}
    if len(classes) > 1:
        names = ", ".join(sorted(c.__name__ for c in classes))
        raise SynbenchError(f"the numba runner steps one synapse model class per network, "
                            f"not {names}; run this network on numpy or jax")
    return spec.projections[0].synapse


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

    def __init__(self, spec, entry, conns, dt, dtype, chunk_steps, monitor_capacity=None,
                 delays=None):
        self.dtype = dtype = np.dtype(dtype)
        self.delays = delays
        self.entry = entry if spec.projections else None
        self.step_index = 0
        model = neuron_model(spec, dt)
        if model.model.name not in _UPDATES:
            raise SynbenchError(f"the numba runner has no update for {model.model.name!r} neurons")
        self.variables = model.model.variables
        self.with_jump = any(p.synapse.voltage_jump for p in spec.projections)
        kernels = ()
        if self.entry is not None:
            synapse = _one_synapse_model(spec)
            kernels = (self.entry.id, self.entry.extras["unchecked"],
                       (synapse.advance_template, synapse.integrator(spec.method),
                        len(synapse.variables), synapse.input_index, synapse.output_index))
        self.spec, self.dt = spec, dt
        with_sources = bool(spec.sources) and self.entry is not None
        delay = (NO_DELAY, None, "")
        if delays is not None and self.entry is not None:
            delay = ((SPIKE_RING, None, "") if delays.mechanism is None else
                     (MECHANISM, delays.entry.kernel, delays.mechanism))
        self.delay_kind = delay[0]
        self.run_chunk = chunk_function(_UPDATES[model.model.name], model.integrator,
                                        *kernels, with_jump=self.with_jump,
                                        with_sources=with_sources, delay=delay)
        self.source_spikes = np.zeros(spec.n_sources, np.bool_)
        self.params = _neuron_params(model, dt)
        self.vars = {k: np.array(spec.initial[k], dtype=dtype) for k in self.variables}
        self.last_spike = np.full(spec.n, NEVER_SPIKED, dtype=np.int32)
        # Delta synapses' voltage jumps, which the next LIF update adds to V.
        self.jump = np.zeros(spec.n if self.with_jump else 0, dtype)
        jump = (self.jump,) if model.model.name == "lif" else ()
        self.neurons = (*self.vars.values(), self.last_spike, *jump)
        self.i_syn = np.zeros(spec.n, dtype=dtype)
        self.spikes = np.zeros(spec.n, dtype=np.bool_)
        self.names, self.projections, self.currents = [], (), ()
        # Each projection's delay buffer (a typed list: a queue may grow into a new one);
        # a stand-in of some type where the run has no delay mechanism.
        self.delay_buffers = typed.List([np.zeros(1)])
        self.models = {}  # each projection's synapse model, for snapshot
        if self.entry is not None:
            self._prepare(spec, conns, dt)
        capacity = monitor_capacity or max(1024, spec.n * chunk_steps // 100)
        self.monitor = (np.empty(capacity, np.int32), np.empty(capacity, np.int32))

    def _prepare(self, spec, conns, dt):
        """Per projection (data, state, out, g_init, g_total, pre spikes, factors,
        weights, weighted); per post group (I_syn, V, jump, ((g, output terms) of each
        projection onto it)). Spikes, I_syn, V and jump are views of the population's
        arrays."""
        entry, dtype = self.entry, self.dtype
        projections, terms, buffers = [], {g.name: [] for g in spec.groups}, []
        for p in spec.projections:
            pre, post = spec.group(p.pre), spec.group(p.post)
            conn, model = conns[p.name], p.synapse
            # Empty, of the state's rank, where the weights act at the input.
            weights = (entry.weights_as_state(conn, p.weight, dtype)
                       if weights_at_output(entry.state, model) else
                       np.zeros((0,) * len(state_shape(entry.state, conn)), dtype))
            data = entry.prepare(conn, 1.0 if weights.size else p.weight, dtype)
            state = tuple(entry.init_state(data) for _ in model.variables)
            out = np.zeros(0 if entry.state == "post" else post.size, dtype)
            g_init = spec.initial_g.get(p.name)
            g_init = np.zeros(0, dtype) if g_init is None else np.array(g_init, dtype)
            g_total = np.zeros(g_init.size, dtype)
            factors = tuple(dtype.type(f) for f in model.factors(dt, spec.method))
            pre_spikes = (self.source_spikes if pre.source else self.spikes)[pre.slice]
            projections.append((data, state, out, g_init, g_total, pre_spikes,
                                factors, weights, np.zeros_like(weights),
                                *self._delay_parts(p, conn, entry, weights, buffers)))
            # Where this projection's conductance is once _propagate has run.
            output_state = state[model.output_index]
            g = g_total if g_init.size else (output_state if entry.state == "post" else out)
            kind, *params = output_terms(p.output)
            terms[p.post].append((g, kind, *(dtype.type(x) for x in params)))
            self.names.append(p.name)
            self.models[p.name] = model
        self.projections = tuple(projections)
        if buffers:
            self.delay_buffers = typed.List(buffers)
        self.currents = tuple(
            (self.i_syn[g.slice], self.vars["v"][g.slice],
             self.jump[g.slice] if self.jump.size else self.jump, tuple(terms[g.name]))
            for g in spec.groups if terms[g.name])

    def _delay_parts(self, p, conn, entry, weights, buffers):
        """(ring, mechanism data) of projection ``p``: a ring of the last d + 1 pre spike
        vectors, or the delay mechanism's data, its buffer appended to ``buffers`` (empty
        stand-ins of the same types where the run has no delays of that kind)."""
        ring = np.zeros((0, 0), np.bool_)
        if self.delay_kind == SPIKE_RING:
            ring = np.zeros((self.delays.depth(p.name), conn.n_pre), np.bool_)
        if self.delay_kind != MECHANISM:
            return ring, ()
        mechanism = self.delays.entry
        data = mechanism.prepare(conn, 1.0 if weights.size else p.weight,
                                 self.delays.steps[p.name], entry.synapse_slots(conn),
                                 self.dtype)
        buffers.append(mechanism.init_buffer(data))
        return ring, data

    def _chunk(self, n_steps):
        schedule = self.spec.source_spikes(self.step_index, n_steps, self.dt)
        steps, ids, count = self.run_chunk(
            self.step_index, n_steps, self.params, self.neurons, self.i_syn, self.spikes,
            self.projections, self.currents, self.delay_buffers, *self.monitor, schedule,
            self.source_spikes)
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
        """Copies of the state: 'v' (and 'm', 'h', 'n'), 'i_syn', 'last_spike', 'g:<name>',
        and '<variable>:<name>' for a synapse model's other variables (as the NumPy runner's)."""
        out = {k: v.copy() for k, v in self.vars.items()}
        out["i_syn"] = self.i_syn.copy()
        out["last_spike"] = self.last_spike.copy()
        for name, projection in zip(self.names, self.projections, strict=True):
            data, state, _, g_init, _, _, _, weights, _, _, _ = projection
            model = self.models[name]
            for i, variable in enumerate(model.variables):
                g = np.array(self.entry.conductance(data, state[i] * weights if weights.size
                                                    else state[i]))
                if i == model.output_index:
                    out[f"g:{name}"] = g + g_init if g_init.size else g
                else:
                    out[f"{variable}:{name}"] = g
        return out
