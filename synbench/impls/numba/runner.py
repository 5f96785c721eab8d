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
from numba import typed

from ...core.errors import SynbenchError
from ...core.neurons import NEVER_SPIKED, neuron_model
from ...core.strategies import state_shape
from ...core.synapses import COBA, CUBA, MgBlock, SynapseModel, VoltageJump, weights_at_output
from . import cached_with_globals, jit, with_globals

# What the templates below (``_propagate``, the updates, ``_run_chunk``) call: each run
# compiles copies of them with these names bound (:func:`chunk_function`). A compiled
# function passed as an argument instead would keep Numba from caching the chunk.
integrate = integrate_constants = step = deliver = conductance = update = propagate = None
update_groups = decay = None
advance = scaled = synaptic_input = update_rest = None
delay_deliver = None
#: The output kind of each projection onto a group (``_synaptic_input``), and how many
#: of their states decay in its update: bound per group, so the loops unroll.
KINDS, N_DECAYING, GROUP = (), 0, 0
with_synapses = with_jumps = single_decay = with_sources = decay_in_update = False
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
    by a larger one, is the projection's ``p``-th of ``delay_buffers``). A post state
    that decays by one factor has decayed in the neurons' pass (``decay_in_update``):
    only this step's events are added.
    """
    (data, state, out, g_init, g_total, spikes, factors, weights, weighted, ring,
     delay_data) = projection
    if delay_kind == SPIKE_RING:  # a constant, as the others: one branch is compiled
        ring[t % ring.shape[0], :] = spikes
        spikes = ring[(t + 1) % ring.shape[0]]
    if delay_kind == MECHANISM:
        if single_decay:
            if not decay_in_update:
                scaled(state[0], factors[0])
        else:
            advance(state, factors)
        _, delay_buffers[p] = delay_deliver(delay_data, state[model_input], delay_buffers[p],
                                            spikes, t)
    elif decay_in_update:  # a post state, decayed by the neurons' pass
        deliver(data, state[0], spikes)
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


def _scaled(state, factor):
    flat = state.reshape(-1)
    for k in numba.prange(flat.size):
        flat[k] *= factor


def _advance_one(state, factors):
    """One variable per element advanced by the synapse model's ``advance``."""
    g = state[0].reshape(-1)
    for k in numba.prange(g.size):
        (g[k],) = advance((g[k],), factors)


def _advance_two(state, factors):
    """Two variables per element advanced together by the synapse model's ``advance``."""
    g, h = state[0].reshape(-1), state[1].reshape(-1)
    for k in numba.prange(g.size):
        g[k], h[k] = advance((g[k], h[k]), factors)


_ADVANCES = {1: _advance_one, 2: _advance_two}
single_decay_template = SynapseModel.advance_template

#: How each output enters the post neuron, as ``_synaptic_input`` reads it.
COBA_CURRENT, CUBA_CURRENT, MG_BLOCK_CURRENT, VOLTAGE_JUMP = range(4)


def output_terms(output) -> tuple:
    """(kind, e_rev, alpha, mg, beta) of an output of ``core.synapses``."""
    kind = {COBA: COBA_CURRENT, CUBA: CUBA_CURRENT, MgBlock: MG_BLOCK_CURRENT,
            VoltageJump: VOLTAGE_JUMP}[type(output)]
    return (kind, *(float(getattr(output, name, 0.0)) for name in ("e_rev", "alpha", "mg",
                                                                   "beta")))


def _synaptic_input(k, v, conductances, outputs, zero):
    """Neuron ``k`` of a group: the sum of its projections' outputs at potential ``v``,
    in the spec's order, as the NumPy runner adds them into I_syn, operation for
    operation (the current; apart, the voltage jump of Delta synapses).

    ``conductances[q]`` is projection q's conductance onto the group, ``outputs[q]`` its
    (e_rev, alpha, mg, beta), ``KINDS[q]`` its output kind: a constant bound per group,
    so the loop unrolls and the choice of kind is made when compiling, not per neuron.
    """
    current, jump = zero, zero
    for q in range(len(KINDS)):
        g = conductances[q, k]
        e_rev, alpha, mg, beta = outputs[q, 0], outputs[q, 1], outputs[q, 2], outputs[q, 3]
        if KINDS[q] == COBA_CURRENT:
            current += g * (e_rev - v)
        elif KINDS[q] == CUBA_CURRENT:
            current += g
        elif KINDS[q] == MG_BLOCK_CURRENT:
            current += g * (e_rev - v) / (1 + mg * np.exp(-alpha * v) / beta)
        else:
            jump += g
    return current, jump


def _no_input(k, v, conductances, outputs, zero):
    """A group no projection reaches."""
    return zero, zero


def _decay(k, conductances, factors):
    """Neuron ``k``'s first ``N_DECAYING`` conductances (post states that decay by one
    factor: all or none of a group's) times their factors."""
    for q in range(N_DECAYING):
        conductances[q, k] *= factors[q]


def _update_groups(t, groups, neurons, i_syn, spikes, params):
    """Group ``GROUP``'s update, then the next groups' (``update_rest``); the spike count."""
    n_spikes = update(t, groups[GROUP], neurons, i_syn, spikes, params)
    return n_spikes + update_rest(t, groups, neurons, i_syn, spikes, params)


def _no_groups(t, groups, neurons, i_syn, spikes, params):
    return 0


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


def lif_update(t, group, neurons, i_syn, spikes, params):
    """Step 1 of DESIGN section 3 for the LIF neurons of one group, neuron by neuron
    (``neurons.lif_update``), in one pass over memory with the input and the decay.

    The input of each neuron is computed here from the conductances and V that the
    previous step left (what the runner of section 3 adds into I_syn at the end of a
    step: the same values, without a pass of its own; at step 0 the initial I_syn).
    Post states that decay by one factor (``group``'s ``factors``) decay here too, after
    their input is read. What the integrator computes from the shared parameters alone
    (``expm1(-dt/tau)``, ...) is computed once, before the loop (``integrate_constants``).
    Refractory neurons keep V and cannot spike; the others integrate V and spike where
    V >= v_th (V = v_reset, last spike = t). Written with selects, not branches, so the
    loop vectorises. Integrates in float64 and rounds to the state's dtype before the
    threshold, like the NumPy update. Returns the number of spikes.
    """
    # Arrays taken from tuples one by one, never unpacked: Numba's parallel loops (0.68)
    # lose the writes into an array unpacked from a tuple. The group's slices start at 0, which LLVM
    # knows are not negative (so the loop vectorises).
    start, stop, conductances, outputs, factors = group[0], group[1], group[2], group[3], group[4]
    v = neurons[0][start:stop]
    last_spike = neurons[1][start:stop]
    jump = neurons[2][start:stop] if with_jumps else neurons[2]
    group_i_syn = i_syn[start:stop]
    group_spikes = spikes[start:stop]
    dt, ref_steps, shared, v_th, v_reset = params
    constants = integrate_constants(t * dt, dt, *shared)
    zero = v.dtype.type(0)
    n_spikes = 0
    for i in numba.prange(v.size):
        # Each element read once into a local: the stores below cannot then make LLVM
        # reload it (the arrays might alias), which keeps the loop vectorised.
        v_old, last_old = v[i], last_spike[i]
        current, jumped = synaptic_input(i, v_old, conductances, outputs, zero)
        if t == 0:
            current, jumped = group_i_syn[i], jump[i] if with_jumps else zero
        decay(i, conductances, factors)
        refractory = t - last_old <= ref_steps
        v_int = v.dtype.type(integrate(v_old, current, constants))
        if with_jumps:  # a constant: Delta synapses' jumps of the previous step
            v_int += jumped
        spiked = (not refractory) & (v_int >= v_th)
        v[i] = v_old if refractory else (v_reset if spiked else v_int)
        last_spike[i] = t if spiked else last_old
        group_spikes[i] = spiked
        n_spikes += spiked
    return n_spikes


def hh_update(t, group, neurons, i_syn, spikes, params):
    """Step 1 for the HH neurons of one group, neuron by neuron (``neurons.hh_update``),
    with the input and the decay as in :func:`lif_update`.

    Every neuron integrates (the integrator's loop invariants computed once, before the
    loop); one spikes where V crosses v_th upward in this step and it is not refractory.
    Returns the number of spikes.
    """
    # Arrays taken one by one, never unpacked; the group's slices (see lif_update).
    start, stop, conductances, outputs, factors = group[0], group[1], group[2], group[3], group[4]
    v = neurons[0][start:stop]
    m = neurons[1][start:stop]
    h = neurons[2][start:stop]
    n = neurons[3][start:stop]
    last_spike = neurons[4][start:stop]
    group_i_syn = i_syn[start:stop]
    group_spikes = spikes[start:stop]
    dt, ref_steps, shared, v_th = params
    constants = integrate_constants(t * dt, dt, *shared)
    zero = v.dtype.type(0)
    n_spikes = 0
    for i in numba.prange(v.size):
        v_old, last_old = v[i], last_spike[i]  # read once (see lif_update)
        current, _ = synaptic_input(i, v_old, conductances, outputs, zero)
        if t == 0:
            current = group_i_syn[i]
        decay(i, conductances, factors)
        refractory = t - last_old <= ref_steps
        v_new, m_new, h_new, n_new = integrate(v_old, m[i], h[i], n[i], current, constants)
        m[i], h[i], n[i] = m_new, h_new, n_new
        v_new = v.dtype.type(v_new)  # the value stored decides the spike
        spiked = (not refractory) & (v_old < v_th) & (v_new >= v_th)
        v[i] = v_new
        last_spike[i] = t if spiked else last_old
        group_spikes[i] = spiked
        n_spikes += spiked
    return n_spikes


def _run_chunk(first, n_steps, params, neurons, i_syn, spikes, projections, groups,
               delay_buffers, steps, ids, source_schedule, source_spikes):
    """``n_steps`` steps from step ``first``: neurons (with their input), monitor,
    projections (if any).

    ``groups`` holds, per neuron group, what its update reads (:meth:`Simulation._groups`).
    ``source_schedule`` holds the spike sources' spikes of each step of the chunk, which
    step by step become ``source_spikes``, the projections' pre spikes from sources.
    Returns the monitor's buffers (new ones if they had to grow) and its spike count.
    """
    count = 0
    for t in range(first, first + n_steps):
        n_spikes = update_groups(t, groups, neurons, i_syn, spikes, params)  # E, I
        steps, ids, count = _record(t, spikes, n_spikes, steps, ids, count)
        if with_sources:  # a constant
            source_spikes[:] = source_schedule[t - first]
        if with_synapses:  # a constant: False compiles neurons alone
            for p in range(len(projections)):  # E2E, E2I, I2E, I2I
                propagate(projections[p], t, delay_buffers, p)
    return steps, ids, count


def _compiled(template, tag="", parallel=False, loops=True, **names):
    """``template`` compiled with ``names`` bound, its ``numba.prange`` ``loops`` on every
    thread where ``parallel`` (only functions with such loops: Numba warns of others);
    named apart by ``tag`` (what was bound that its source does not show) and by
    ``parallel``: two copies must never share a symbol (see ``with_globals``)."""
    copy = with_globals(template, **names)
    copy.__qualname__ += f",{tag}" + (",parallel" if parallel else "")
    return numba.njit(parallel=parallel and loops)(copy)


@functools.cache
def group_update(neuron_update, integrator, kinds=(), n_decaying=0, with_jump=False,
                 parallel=False):
    """``neuron_update`` compiled for one group: the generated ``integrator``'s two parts,
    the output ``kinds`` of the projections onto the group (``KINDS``: the loop over
    them unrolls) and ``n_decaying`` states decayed in its pass. Called
    ``update(t, group, neurons, i_syn, spikes, params)``; returns the group's spikes."""
    tag = f"{kinds},{n_decaying},{with_jump}"
    return _compiled(
        neuron_update, tag, parallel, integrate=numba.njit(integrator.per_element),
        integrate_constants=numba.njit(integrator.constants), with_jumps=with_jump,
        synaptic_input=_compiled(_synaptic_input, tag, parallel, False, KINDS=kinds) if kinds
        else _compiled(_no_input, "", parallel, False),
        decay=_compiled(_decay, tag, parallel, False, N_DECAYING=n_decaying))


@functools.cache
def chunk_function(neuron_update, integrator, name="neurons", kernels=None, synapse=None,
                   with_jump=False, with_sources=False, delay=(NO_DELAY, None, ""),
                   layout=((), ), parallel=False):
    """``_run_chunk`` compiled for ``neuron_update`` (``lif_update``, ``hh_update``)
    with the generated ``integrator`` (its ``constants`` and ``per_element`` parts) and
    the unchecked ``kernels`` (step, deliver, conductance) of entry ``name`` (none:
    neurons alone), cached on disk across processes (:func:`cached_with_globals`).

    ``synapse`` says how the projections' synapse model advances: (its
    ``advance_template``, its generated integrator or None, its number of variables,
    the index of its input and of its output variable). ``with_jump``: Delta synapses
    make V jump. ``with_sources``: some projections start at spike sources. ``delay``:
    (``NO_DELAY``, ``SPIKE_RING`` or ``MECHANISM``, the mechanism's deliver, its name).
    ``layout``: per neuron group, the output kinds of the projections onto it and how
    many of their states decay in its update (:meth:`Simulation._layout`); each group's
    update is compiled with them. ``parallel``: the loops over neurons and elements
    (``numba.prange``) run on every thread (the numba_parallel backend); each element
    is written by one thread, so the results do not depend on the thread count.
    """
    def njit(template, tag="", loops=False, **names):
        return _compiled(template, tag, parallel, loops, **names)

    step, deliver, conductance = kernels or (None, None, None)
    update_groups = njit(_no_groups)
    for index in reversed(range(len(layout))):
        update = group_update(neuron_update, integrator, *layout[index], with_jump, parallel)
        update_groups = njit(_update_groups, f"{index},{layout[index]}", update=update,
                             GROUP=index, update_rest=update_groups)
    propagate = None
    if kernels is not None:
        template, synapse_integrator, n_variables, model_input, model_output = synapse
        advance = numba.njit(template if synapse_integrator is None else with_globals(
            template, integrate=numba.njit(synapse_integrator.per_element)))
        kind, mechanism_deliver, _ = delay
        propagate = njit(
            _propagate, step=step, deliver=deliver, conductance=conductance,
            delay_kind=kind, delay_deliver=mechanism_deliver,
            single_decay=template is single_decay_template, model_input=model_input,
            model_output=model_output, scaled=njit(_scaled, loops=True),
            decay_in_update=any(n for _, n in layout),
            advance=njit(_ADVANCES[n_variables], loops=True, advance=advance))
    label = f"{name},{neuron_update.__name__},{layout}"
    if synapse is not None:
        label += f",{synapse[0].__name__}"
    if delay[0] != NO_DELAY:
        label += f",delay{delay[0]}{delay[2]}"
    if parallel:
        label += ",parallel"
    return cached_with_globals(_run_chunk, label, update_groups=update_groups,
                               propagate=propagate, with_synapses=kernels is not None,
                               with_sources=with_sources)


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
    """The update's parameters: dt, ref_steps, the integrator's shared parameters, then
    the thresholds; Python floats, as NumPy's update gets."""
    p = model.params
    shared = tuple(float(getattr(p, name)) for name in model.integrator.shared)
    thresholds = (p.v_th, p.v_reset) if model.model.name == "lif" else (p.v_th,)
    return (float(dt), model.ref_steps, shared, *(float(x) for x in thresholds))


class Simulation:
    """The ``synbench.run`` protocol: each chunk of steps is one compiled call.

    ``_run_chunk`` runs, every step: the neurons (a per-neuron loop calling the compiled
    integrator), the spike monitor (preallocated, doubled when full), each projection
    E2E, E2I, I2E, I2I with the strategy's ``step`` and ``conductance`` (bound into the
    compiled chunk, :func:`chunk_function`), then one pass per post group adding its
    projections' currents in that order. No Python and no allocation in the step loop.
    The arithmetic is the NumPy runner's, operation for operation
    (``synbench.impls.numpy.runner``). ``parallel``: the loops over neurons and elements
    run on every thread (the numba_parallel backend's subclass).
    """

    parallel = False

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
        # A post state that decays by one factor decays in the neurons' pass (declared:
        # the strategy's state kind and the model's advance), saving a pass over memory;
        # not where an initial conductance is added to it (the post neurons read the sum).
        self.decay_in_update = (self.entry is not None and self.entry.state == "post"
                                and _one_synapse_model(spec).single_decay
                                and not spec.initial_g)
        self.run_chunk = chunk_function(_UPDATES[model.model.name], model.integrator,
                                        *kernels, with_jump=self.with_jump,
                                        with_sources=with_sources, delay=delay,
                                        layout=self._layout(spec),
                                        parallel=self.parallel)
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
        self.names, self.projections = [], ()
        self.inputs = []  # (post slice, output, conductance) per projection, for snapshots
        # Per group, the conductance of each projection onto it, a row of one array
        # (what the update reads, no tuple of arrays), and their output terms.
        onto = [p.post for p in spec.projections] if self.entry is not None else []
        self.conductances = {g.name: np.zeros((onto.count(g.name), g.size), dtype)
                             for g in spec.groups}
        outputs = {g.name: [] for g in spec.groups}
        # Each projection's delay buffer (a typed list: a queue may grow into a new one);
        # a stand-in of some type where the run has no delay mechanism.
        self.delay_buffers = typed.List([np.zeros(1)])
        self.models = {}  # each projection's synapse model, for snapshot
        if self.entry is not None:
            self._prepare(spec, conns, dt, outputs)
        self.groups = tuple(self._group(g, outputs[g.name]) for g in spec.groups)
        capacity = monitor_capacity or max(1024, spec.n * chunk_steps // 100)
        self.monitor = (np.empty(capacity, np.int32), np.empty(capacity, np.int32))

    def _prepare(self, spec, conns, dt, outputs):
        """Per projection (data, state, out, g_init, g_total, pre spikes, factors,
        weights, weighted, ring, delay data), its conductance a row of its post group's
        ``conductances``; per post group, appended to ``outputs``: each projection's
        output terms and decay factor. Spikes are views of the population's."""
        entry, dtype = self.entry, self.dtype
        projections, buffers = [], []
        rows = {g.name: iter(self.conductances[g.name]) for g in spec.groups}
        for p in spec.projections:
            pre, conn, model = spec.group(p.pre), conns[p.name], p.synapse
            # Empty, of the state's rank, where the weights act at the input.
            weights = (entry.weights_as_state(conn, p.weight, dtype)
                       if weights_at_output(entry.state, model) else
                       np.zeros((0,) * len(state_shape(entry.state, conn)), dtype))
            data = entry.prepare(conn, 1.0 if weights.size else p.weight, dtype)
            state = [entry.init_state(data) for _ in model.variables]
            # The conductance is summed into ``out`` (n_post) where the state is not on
            # the post neurons; the sum with an initial conductance is ``g_total``.
            out = np.zeros(0 if entry.state == "post" else conn.n_post, dtype)
            g_init = spec.initial_g.get(p.name)
            g_init = np.zeros(0, dtype) if g_init is None else np.array(g_init, dtype)
            g_total = np.zeros(0, dtype)
            # What the post neurons read the conductance from is a row of ``rows``.
            if g_init.size:
                g_total = next(rows[p.post])
            elif entry.state == "post":
                state[model.output_index] = next(rows[p.post])
            else:
                out = next(rows[p.post])
            state = tuple(state)
            factors = tuple(dtype.type(f) for f in model.factors(dt, spec.method))
            pre_spikes = (self.source_spikes if pre.source else self.spikes)[pre.slice]
            projections.append((data, state, out, g_init, g_total, pre_spikes,
                                factors, weights, np.zeros_like(weights),
                                *self._delay_parts(p, conn, entry, weights, buffers)))
            outputs[p.post].append((output_terms(p.output), factors[0]))
            self.inputs.append((spec.group(p.post).slice, p.output, self.conductances[p.post][
                len(outputs[p.post]) - 1]))
            self.names.append(p.name)
            self.models[p.name] = model
        self.projections = tuple(projections)
        if buffers:
            self.delay_buffers = typed.List(buffers)

    def _layout(self, spec):
        """Per neuron group, what its update is compiled for: the output kind of each
        projection onto it, in order, and how many of their states decay in its pass."""
        layout = []
        for group in spec.groups:
            kinds = tuple(output_terms(p.output)[0] for p in spec.projections
                          if p.post == group.name and self.entry is not None)
            layout.append((kinds, len(kinds) if self.decay_in_update else 0))
        return tuple(layout)

    def _group(self, group, outputs):
        """What the update of ``group`` reads: (start, stop, the conductance of each
        projection onto it, their (e_rev, alpha, mg, beta), their decay factors)."""
        dtype = self.dtype
        terms = np.array([terms[1:] for terms, _ in outputs], dtype).reshape(len(outputs), 4)
        factors = np.array([f for _, f in outputs], dtype)
        return group.start, group.stop, self.conductances[group.name], terms, factors

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
            self.projections, self.groups, self.delay_buffers, *self.monitor, schedule,
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
        if self.step_index:  # the next step's input, which its update computes: NumPy's
            out["i_syn"][:] = 0
            for post, output, g in self.inputs:
                if not isinstance(output, VoltageJump):
                    out["i_syn"][post] += output.current(g, self.vars["v"][post])
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
