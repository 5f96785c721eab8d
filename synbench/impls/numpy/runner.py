"""A network stepped from Python, one array call at a time (the NumPy runner).

Written against an array namespace ``xp`` so that it reads as DESIGN section 3 reads:
neurons first, then each projection in order. The compiled runners (Numba, JAX, CuPy)
reproduce exactly this arithmetic, in this order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.neurons import NEVER_SPIKED, neuron_model
from ...core.synapses import VoltageJump, weights_at_output


@dataclass
class _Projection:
    name: str
    pre: slice
    from_source: bool  # ``pre`` slices the spike sources' spikes, not the neurons'
    post: slice
    data: object  # prepared with the weights, or with 1.0 where they act at the output
    state: list  # one array per variable of the synapse model
    advance: object  # the model's advance(state, factors), or None: state * decay in `step`
    factors: tuple
    model: object  # the synapse model: its variables, input and output
    output_weights: object  # the weights in the state's layout, where they act at the output
    output: object  # COBA / CUBA / MgBlock / VoltageJump
    g_init: object  # decaying initial post conductance (COBAHH), or None
    ring: object = None  # one delay for every synapse: the last d + 1 pre spike vectors
    delayed: object = None  # per-synapse delays: the mechanism's deliver, data and buffer


class Simulation:
    """The ``Simulation`` protocol of ``synbench.run`` for array libraries stepped from Python."""

    xp = np

    def __init__(self, spec, entry, conns, dt, dtype, chunk_steps, delays=None):
        xp, self.dtype = self.xp, np.dtype(dtype)
        self.delays = delays
        self.entry, self.step_index = entry, 0
        self.spec, self.dt = spec, dt
        self.source_now = xp.zeros(spec.n_sources, dtype=bool)  # this step's source spikes
        # The kernels without the checks of the public API: the runner built their inputs.
        self.step_kernel, self.deliver_kernel, self.conductance_kernel = (
            entry.extras["unchecked"] if entry is not None else (None, None, None))
        self.model = neuron_model(spec, dt, xp)
        # Copies: the runner writes into its state, and the spec must stay as it was.
        self.vars = {k: xp.asarray(np.array(v, dtype=self.dtype)) for k, v in spec.initial.items()}
        self.last_spike = xp.full(spec.n, NEVER_SPIKED, dtype=np.int32)
        self.i_syn = xp.zeros(spec.n, dtype=self.dtype)
        self.projections = []
        for p in spec.projections if entry is not None else ():
            self.projections.append(self._projection(spec, p, conns[p.name], dt))
        # Delta synapses' voltage jumps, applied by the next neuron update.
        jumps = any(p.synapse.voltage_jump for p in spec.projections) and entry is not None
        self.jump = xp.zeros(spec.n, dtype=self.dtype) if jumps else None

    def _projection(self, spec, p, conn, dt):
        xp, dtype, entry, model = self.xp, self.dtype, self.entry, p.synapse
        weights = (entry.weights_as_state(conn, p.weight, dtype)
                   if weights_at_output(entry.state, model) else None)
        data = entry.prepare(conn, p.weight if weights is None else 1.0, dtype)
        g_init = spec.initial_g.get(p.name)
        ring = delayed = None
        if self.delays is not None and self.delays.mechanism is not None:
            mechanism = self.delays.entry
            delay_data = mechanism.prepare(conn, p.weight if weights is None else 1.0,
                                           self.delays.steps[p.name],
                                           xp.asarray(entry.synapse_slots(conn)), dtype)
            delayed = [mechanism.kernel, delay_data, mechanism.init_buffer(delay_data)]
        elif self.delays is not None and self.delays.steps[p.name] > 0:
            ring = xp.zeros((self.delays.depth(p.name), conn.n_pre), dtype=bool)
        return _Projection(
            name=p.name, pre=spec.group(p.pre).slice, from_source=spec.group(p.pre).source,
            post=spec.group(p.post).slice,
            data=data, state=[entry.init_state(data) for _ in model.variables],
            advance=None if model.single_decay else model.advance(spec.method, xp),
            factors=tuple(dtype.type(f) for f in model.factors(dt, spec.method)),
            model=model, output_weights=weights, output=p.output,
            g_init=None if g_init is None else xp.asarray(np.array(g_init, dtype)),
            ring=ring, delayed=delayed,
        )

    def compile(self) -> None:
        """Nothing to compile: every call runs as it is."""

    def _synapses(self, p, spiked):
        """Section 4b's step of one projection: advance, add this step's events, reduce.

        With one delay d for every synapse, the events are the pre spikes of step t - d,
        from a ring of the last d + 1 (section 4c); with one per synapse, the delay
        mechanism adds what arrives now.
        """
        spikes = (self.source_now if p.from_source else spiked)[p.pre]
        t = self.step_index
        if p.ring is not None:
            p.ring[t % len(p.ring)] = spikes
            spikes = p.ring[(t + 1) % len(p.ring)]
        if p.delayed is not None:
            deliver, data, buffer = p.delayed
            if p.advance is None:
                p.state[0] *= p.factors[0]
            else:
                p.state = list(p.advance(tuple(p.state), p.factors))
            i = p.model.input_index
            p.state[i], p.delayed[2] = deliver(data, p.state[i], buffer, spikes, t)
        elif p.advance is None:  # Exponential, Delta: the strategy's one-call step
            p.state[0] = self.step_kernel(p.data, p.state[0], spikes, p.factors[0])
        else:
            p.state = list(p.advance(tuple(p.state), p.factors))
            i = p.model.input_index
            p.state[i] = self.deliver_kernel(p.data, p.state[i], spikes)
        return self._conductance(p, self.conductance_kernel)

    def _conductance(self, p, conductance, variable=None):
        """The output variable (or ``variable``, an index) summed onto the post neurons."""
        g_state = p.state[p.model.output_index if variable is None else variable]
        if p.output_weights is not None:
            g_state = g_state * p.output_weights
        g = conductance(p.data, g_state)
        if p.g_init is not None and variable is None:
            g = g + p.g_init
        return g

    def step(self):
        """One step of DESIGN section 3; returns the bool spike vector."""
        spiked = self.model.update(self.vars, self.i_syn, self.last_spike, self.step_index,
                                   self.jump)
        self.i_syn[...] = 0
        if self.jump is not None:
            self.jump[...] = 0
        v = self.vars["v"]
        for p in self.projections:
            if p.g_init is not None:
                p.g_init *= p.factors[0]
            g = self._synapses(p, spiked)
            if isinstance(p.output, VoltageJump):
                self.jump[p.post] += g
            else:
                self.i_syn[p.post] += p.output.current(g, v[p.post], self.xp)
        self.step_index += 1
        return spiked

    def advance(self, n_steps):
        steps, ids = [], []
        # A diverging state is reported once, with its step range, by ``finite``; not as
        # a stream of NumPy overflow warnings from inside the integrator.
        sources = self.spec.source_spikes(self.step_index, n_steps, self.dt)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for i in range(n_steps):
                self.source_now = self.xp.asarray(sources[i])
                k = self.step_index
                fired = self.to_numpy(self.xp.nonzero(self.step())[0])
                steps.append(np.full(fired.size, k, dtype=np.int32))
                ids.append(fired.astype(np.int32))
        if not steps:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        return np.concatenate(steps), np.concatenate(ids)

    def finite(self) -> bool:
        return all(bool(self.xp.isfinite(v).all()) for v in self.vars.values())

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the state as NumPy arrays: 'v', 'i_syn', 'g:<projection>' (the post
        conductance) and '<variable>:<projection>' for a synapse model's other variables
        (summed onto the post neurons as g is)."""
        out = {k: self.to_numpy(v).copy() for k, v in self.vars.items()}
        out["i_syn"] = self.to_numpy(self.i_syn).copy()
        out["last_spike"] = self.to_numpy(self.last_spike).copy()
        for p in self.projections:
            g = self._conductance(p, self.entry.conductance)
            out[f"g:{p.name}"] = self.to_numpy(g).copy()
            for i, variable in enumerate(p.model.variables):
                if i != p.model.output_index:
                    other = self._conductance(p, self.entry.conductance, i)
                    out[f"{variable}:{p.name}"] = self.to_numpy(other).copy()
        return out

    @staticmethod
    def to_numpy(x):
        return np.asarray(x)
