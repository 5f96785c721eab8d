"""The JAX runner: jax.lax.scan over a chunk of steps, compiled once.

:class:`Simulation` compiles one ``jax.lax.scan`` over a chunk of steps (neurons from
``core.neurons`` with ``xp=jax.numpy``, then every projection), compacts each step's
spikes once for all event-driven kernels and the spike monitor, and fuses projections
that share their pre group and synapse type (:func:`fuse_projections`). What it needs
from a strategy comes from its registration: ``entry.step`` and ``entry.conductance``,
and for an event-driven one the block adder ``entry.extras["add_events"]``.

Delays (DESIGN section 4c, a ``DelayPlan`` from ``synbench.run``): one delay d per
projection reads the spikes of step t - d from a ring of the network's last D steps
(bits and compacted ids, carried through the scan), which the strategy's own kernels
deliver; per-synapse delays go through the plan's mechanism
(``synbench.impls.jax.delays``), its ring carried through the scan too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ...core.connect import Connectivity
from ...core.neurons import NEVER_SPIKED, neuron_model
from ...core.registry import as_weight
from ...core.synapses import VoltageJump, weights_at_output
from . import decayed, precision, to_numpy
from ._events import block_sizes, compact_words, for_each_spike_block, in_blocks, pack_words


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
    """Where one block of a projection's conductances acts: I_syn[post] += the output's
    current of g[g_slice] (or, for Delta synapses, V's jump at the next step)."""

    post: slice  # post neurons in the population
    start: int  # first conductance in the projection's g
    output: object  # COBA / CUBA / MgBlock / VoltageJump

    @property
    def g_slice(self) -> slice:
        return slice(self.start, self.start + self.post.stop - self.post.start)


@dataclass(frozen=True)
class _Projection:
    """One projection as the runner steps it: one of the spec's, or several fused."""

    parts: tuple[tuple[str, int, int], ...]  # (spec projection, offset in g, size)
    pre: slice
    from_source: bool  # ``pre`` slices the spike sources' spikes, not the neurons'
    synapse: object  # the synapse model
    channels: tuple[_Channel, ...]
    conn: object
    weight: object
    g_init: np.ndarray | None
    # The delay in steps: None (none), an int (every synapse) or an int32 array (one per
    # synapse, canonical order: the plan's mechanism delivers it).
    delay: object = None

    @property
    def name(self) -> str:
        return "+".join(name for name, _, _ in self.parts)


def _projections(spec, conns, plan=None) -> list[_Projection]:
    out = []
    for p in spec.projections:
        delay = None if plan is None else plan.steps[p.name]
        g_init = spec.initial_g.get(p.name)
        post = spec.group(p.post)
        pre = spec.group(p.pre)
        out.append(_Projection(((p.name, 0, post.size),), pre.slice, pre.source, p.synapse,
                               (_Channel(post.slice, 0, p.output),), conns[p.name],
                               p.weight, None if g_init is None else np.asarray(g_init),
                               delay))
    return out


def _per_synapse(delay) -> bool:
    return delay is not None and np.ndim(delay) == 1


def _delays_fuse(a: _Projection, b: _Projection) -> bool:
    """Whether two projections' delays allow one kernel call: none, the same one delay
    (one ring of pre spikes), or per-synapse delays (merged, synapse by synapse)."""
    if _per_synapse(a.delay) or _per_synapse(b.delay):
        return _per_synapse(a.delay) and _per_synapse(b.delay)
    return a.delay == b.delay


def _merge(group: list[_Projection], targets: list[int]) -> _Projection:
    """One projection from ``group``: pre ranges joined, each member's conductances at
    ``targets[i]`` in the merged g (members onto adjacent posts of one channel share it).
    """
    pre = slice(min(q.pre.start for q in group), max(q.pre.stop for q in group))
    size = max(t + q.conn.n_post for q, t in zip(group, targets, strict=True))
    pre_ids = np.concatenate([q.conn.pre_ids.astype(np.int64) + q.pre.start - pre.start
                              for q in group])
    post_ids = np.concatenate([q.conn.post_ids.astype(np.int64) + t
                               for q, t in zip(group, targets, strict=True)])
    weights = [np.asarray(as_weight(q.weight, q.conn.n_syn, np.float64)) for q in group]
    if all(w.ndim == 0 for w in weights) and len({float(w) for w in weights}) == 1:
        weight = weights[0]
    else:  # per-synapse weights, in the order of the merged ids (sorted below)
        weight = np.concatenate([np.broadcast_to(w, (q.conn.n_syn,))
                                 for w, q in zip(weights, group, strict=True)])
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
            if (last is not None and last.output == c.output
                    and last.post.stop == c.post.start and last.g_slice.stop == t + c.start):
                channels[-1] = _Channel(slice(last.post.start, c.post.stop), last.start,
                                        c.output)
            else:
                channels.append(_Channel(c.post, t + c.start, c.output))
    joined = Connectivity(pre.stop - pre.start, size, pre_ids, post_ids,
                          multapses=any(q.conn.has_multapses for q in group))
    conn, weight = joined.canonical(weight)
    delay = group[0].delay  # fused only where every member has it (``_delays_fuse``)
    if _per_synapse(delay):  # one per synapse: in the order of the merged ids, sorted alike
        delay = np.concatenate([q.delay for q in group]).astype(np.int32)
        if joined.order is not None:
            delay = delay[joined.order]
    return _Projection(parts, pre, group[0].from_source, group[0].synapse, tuple(channels),
                       conn, weight, g_init, delay)


def fuse_projections(projections: list[_Projection], n: int) -> list[_Projection]:
    """Merge projections so that each step makes fewer, larger kernel calls.

    Projections sharing pre group, synapse model, output and delay (none, the same one
    delay, or per-synapse delays, merged) onto adjacent post groups become one:
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
            if (first.pre == p.pre and first.from_source == p.from_source
                    and first.synapse == p.synapse and _delays_fuse(first, p)
                    and first.channels[0].output == p.channels[0].output
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

    ``delays`` (a ``core.delays.DelayPlan``, or None): with one delay per projection
    (``mechanism`` None), the carry holds the network's spikes of the last D steps (D the
    longest delay + 1: bits, compacted ids and count, and the spike sources' bits), and
    a projection of delay d hands its kernel those of step t - d, through the same
    event-driven path as undelayed spikes. With per-synapse delays, each projection's
    state advances, then the mechanism's ``deliver`` adds what arrives now; its ring is
    in the carry. A mechanism whose ``deliver`` has ``add_events`` and ``arrive``
    (``input_ring``) is fed the spike ids compacted once for the whole network.

    ``unroll`` steps share one loop iteration. XLA copies the loop-carried V and
    last-spike arrays once per iteration (the neuron update reads both to write each),
    which at n = 64000 costs more than the update itself; two steps per iteration
    measured ~1.35x faster there and ~1.1x at n = 4000, for ~10% more compile time.

    The arithmetic and its order are those of ``synbench.impls.numpy.runner`` (DESIGN
    section 3). XLA contracts ``a * b + c`` into fused multiply-adds and has its own
    ``exp``, so float64 results agree with NumPy to within a few ulp, not bit for bit.
    """

    def __init__(self, spec, entry, conns, dt, dtype, chunk_steps, delays=None, *,
                 max_spikes=None, monitor_width=None, fuse=True, unroll=2):
        self._setup(spec, entry, dt, dtype, chunk_steps, monitor_width, unroll)
        kw = {} if max_spikes is None else {"max_spikes": max_spikes}
        if entry is None:
            delays = None
        self.delays = delays
        # Per-synapse delays: the mechanism's functions on JAX (registry.DelayEntry).
        mechanism = None if delays is None or delays.mechanism is None else delays.entry
        projections = _projections(spec, conns, delays) if entry is not None else []
        # Fusing joins connectivities, which a strategy holding one kind of connectivity
        # only (all2all, one2one, procedural) would refuse.
        if fuse and entry is not None and not entry.strategy.connectivity:
            projections = fuse_projections(projections, spec.n)
        with precision(self.dtype):
            datas, states, g_inits, weights = [], [], [], []
            delay_datas, buffers = [], []
            for p in projections:
                data, w, state = self._prepared(p.conn, p.weight, p.synapse, kw)
                datas.append(data)
                weights.append(w)
                states.append(state)
                g_inits.append(None if p.g_init is None else
                               jnp.asarray(np.asarray(p.g_init, self.dtype)))
                if mechanism is not None:
                    delay_data = mechanism.prepare(p.conn, p.weight if w is None else 1.0,
                                                   p.delay, entry.synapse_slots(p.conn),
                                                   self.dtype, **kw)
                    delay_datas.append(delay_data)
                    buffers.append(mechanism.init_buffer(delay_data))
                else:
                    delay_datas.append(None)
                    buffers.append(None)
            # Unchecked where the registry keeps it apart (the runner built its inputs).
            self.deliver_delayed = None if mechanism is None else (
                getattr(mechanism, "kernel", None) or mechanism.deliver)
            # One delay per projection: the network's spikes of the last D steps.
            lags = [p.delay for p in projections if not _per_synapse(p.delay) and p.delay]
            self.depth = max(lags) + 1 if lags else 0
            factors = self._dynamics(projections, dt)
            # Device inputs of every chunk (arguments, not constants baked into the code).
            self.inputs = (tuple(datas), jax.device_put(factors), tuple(weights),
                           tuple(delay_datas))
            jumps = any(p.synapse.voltage_jump for p in projections)
            self.carry = {
                "vars": {k: jnp.asarray(np.asarray(v, self.dtype))
                         for k, v in spec.initial.items()},
                "last_spike": jnp.full(spec.n, NEVER_SPIKED, dtype=jnp.int32),
                "i_syn": jnp.zeros(spec.n, dtype=self.dtype),
                # Delta synapses' voltage jumps, for the next step's neuron update.
                "jump": jnp.zeros(spec.n, dtype=self.dtype) if jumps else None,
                "g": tuple(states),
                "g_init": tuple(g_inits),
                "step": jnp.zeros((), jnp.int32),
                # Per-synapse delays: each projection's ring (None: no delays).
                "delayed": tuple(buffers),
                "history": self._empty_history(jnp),
            }
        self._chunk = jax.jit(self._run_chunk, donate_argnums=(1,))
        self._compiled = None

    def _setup(self, spec, entry, dt, dtype, chunk_steps, monitor_width, unroll):
        """What every runner of this kind keeps of its arguments."""
        self.dtype = np.dtype(dtype)
        self.entry, self.spec, self.n, self.dt = entry, spec, spec.n, dt
        self.chunk_steps, self.unroll = int(chunk_steps), unroll
        self.width = default_monitor_width(spec.n) if monitor_width is None else monitor_width
        # An event-driven strategy's block adder; None: the kernel takes the bool spikes.
        self.add = entry.extras.get("add_events") if entry is not None else None
        self.step_index = 0
        with precision(self.dtype):
            self.model = neuron_model(spec, dt, jnp)

    def _prepared(self, conn, weight, synapse, kw):
        """A projection's kernel data, its weights laid out as the state where the synapse
        model weighs its output (else None), and its zero state (one per variable)."""
        entry = self.entry
        w = (entry.weights_as_state(conn, weight, self.dtype, **kw)
             if weights_at_output(entry.state, synapse) else None)
        data = entry.prepare(conn, weight if w is None else 1.0, self.dtype, **kw)
        return data, w, tuple(entry.init_state(data) for _ in synapse.variables)

    def _dynamics(self, projections, dt):
        """Keep ``projections`` and each one's synapse model advance (None: the state
        times one factor, in the strategy's own step); returns their factors."""
        method = self.spec.method
        self.projections = tuple(projections)
        self.advances = tuple(None if p.synapse.single_decay else
                              p.synapse.advance(method, jnp) for p in projections)
        return tuple(tuple(self.dtype.type(f) for f in p.synapse.factors(dt, method))
                     for p in projections)

    @property
    def datas(self):
        return self.inputs[0]

    def _synapses(self, p, advance, factors, data, state, spikes):
        """Section 4b for one projection: the state advances, then this step's events."""
        if advance is None:  # the state times one factor, in the strategy's own step
            return (self._deliver(p, data, state[0], *spikes, factors[0]),)
        state = list(advance(state, factors))
        i = p.synapse.input_index
        state[i] = self._deliver(p, data, state[i], *spikes)
        return tuple(state)

    def _delayed_synapses(self, p, advance, factors, delay_data, state, buffer, spikes, t):
        """Section 4b with per-synapse delays (4c): the state advances, then the delay
        mechanism records this step's spikes and adds what arrives at step ``t``."""
        if advance is None:
            state = [decayed(state[0], factors[0])]
        else:
            state = list(advance(state, factors))
        i = p.synapse.input_index
        deliver = self.deliver_delayed
        add = getattr(deliver, "add_events", None)
        if add is None:  # the mechanism takes the bool spikes
            spiked, _, _, source_spikes = spikes
            pre_spikes = (source_spikes if p.from_source else spiked)[p.pre]
            state[i], buffer = deliver(delay_data, state[i], buffer, pre_spikes, t)
        else:  # fed the network's compacted spike ids, then what arrives now
            buffer = self._each_event(p, functools.partial(add, delay_data, t),
                                      delay_data.max_spikes, buffer, *spikes)
            state[i], buffer = deliver.arrive(delay_data, state[i], buffer, t)
        return tuple(state), buffer

    def _deliver(self, p, data, state, spiked, ids, count, source_spikes, decay=None):
        """``state`` (times ``decay``, if given) plus this step's events of one projection,
        from the network's compacted spike ids (or the spike sources' spikes)."""
        entry = self.entry
        if self.add is None:  # not event-driven: the kernel takes the bool spikes
            pre_spikes = (source_spikes if p.from_source else spiked)[p.pre]
            if decay is None:
                return entry.deliver(data, state, pre_spikes)
            return entry.step(data, state, pre_spikes, decay)
        g = state if decay is None else decayed(state, decay)
        return self._each_event(p, functools.partial(self.add, data), data.max_spikes, g,
                                spiked, ids, count, source_spikes)

    def _each_event(self, p, add, max_spikes, g, spiked, ids, count, source_spikes):
        """``g = add(g, block)`` over blocks of the local ids of projection ``p``'s spiking
        pre neurons (padded with n_pre): from the network's compacted ``ids`` (or the
        spike sources' spikes); ``max_spikes`` sets the block sizes."""
        pre_spikes = (source_spikes if p.from_source else spiked)[p.pre]
        n_pre = p.pre.stop - p.pre.start
        if p.from_source:  # the kernel compacts the sources' spikes itself
            return for_each_spike_block(pre_spikes, max_spikes, add, g)
        sizes, start, stop = block_sizes(max_spikes), p.pre.start, p.pre.stop
        padded = jnp.concatenate([ids, jnp.full(sizes[0], self.n, jnp.int32)])
        first = jnp.count_nonzero(ids < start).astype(jnp.int32)
        in_group = jnp.count_nonzero(ids < stop).astype(jnp.int32) - first

        def take(done, size):  # the group's spikes done .. done + size - 1, local ids
            block = lax.dynamic_slice(padded, (first + done,), (size,)) - start
            return jnp.where(lax.iota(jnp.int32, size) + done < in_group, block, n_pre)

        # No lax.cond (it may copy the state): both loops run on g in place, and the
        # second, the kernel's own compaction of the group's spikes, only when this
        # step's spikes overflowed the network's id buffer.
        overflow = count > self.width
        g = in_blocks(add, g, take, jnp.where(overflow, 0, in_group), sizes)
        return for_each_spike_block(pre_spikes, max_spikes, add, g,
                                    first=jnp.where(overflow, 0, n_pre))

    # One delay per projection: the network's spikes of the last ``depth`` steps, as
    # ``now`` holds this step's (bits, compacted ids, count, the spike sources' bits).
    _HISTORY = ("spiked", "ids", "count", "sources")

    def _empty_history(self, xp):
        """The ring of the last ``depth`` steps' spikes, empty (None without delays)."""
        if not self.depth:
            return None
        return {"spiked": xp.zeros((self.depth, self.n), dtype=bool),
                "ids": xp.full((self.depth, self.width), self.n, dtype=np.int32),
                "count": xp.zeros(self.depth, dtype=np.int32),
                "sources": xp.zeros((self.depth, self.spec.n_sources), dtype=bool)}

    def _remember(self, history, now, t):
        """The ring with this step's spikes in slot ``t % depth``."""
        if history is None:
            return None
        return {key: history[key].at[t % self.depth].set(value)
                for key, value in zip(self._HISTORY, now, strict=True)}

    def _arriving(self, p, history, now, t):
        """The spikes projection ``p`` delivers at step ``t``: this step's, or with a
        delay d, those of step t - d from the ring."""
        if not p.delay:
            return now
        back = (t - p.delay) % self.depth
        return tuple(history[key][back] for key in self._HISTORY)

    def _conductance(self, p, data, weights, state, g_init, variable=None):
        """The (n_post,) conductance of a projection's state (weighed where the synapse
        model weighs its output), plus COBAHH's decaying initial conductance; or another
        ``variable`` (an index) of the model summed onto the post neurons the same way."""
        if variable is not None:
            g_init = None
        g_state = state[p.synapse.output_index if variable is None else variable]
        if weights is not None:
            g_state = g_state * weights
        g = self.entry.conductance(data, g_state)
        return g if g_init is None else g + g_init

    def _step(self, inputs, carry, source_spikes):
        """One step of DESIGN section 3 as a pure function of the carry (and of this
        step's spike sources' spikes)."""
        datas, factors, weights, delay_datas = inputs
        t = carry["step"]
        vars_, last_spike, spiked = self.model.step(
            carry["vars"], carry["i_syn"], carry["last_spike"], t, carry["jump"])
        spiked, ids, count, monitored = self._exchange(spiked)
        now = (spiked, ids, count, source_spikes)
        history = self._remember(carry["history"], now, t)
        v = vars_["v"]
        i_syn = jnp.zeros_like(carry["i_syn"])
        jump = None if carry["jump"] is None else jnp.zeros_like(carry["jump"])
        states, g_inits, buffers = [], [], []
        for p, advance, factor, data, w, state, g_init, delay_data, buffer in zip(
                self.projections, self.advances, factors, datas, weights, carry["g"],
                carry["g_init"], delay_datas, carry["delayed"], strict=True):
            if delay_data is not None:  # per-synapse delays: the mechanism
                state, buffer = self._delayed_synapses(p, advance, factor, delay_data,
                                                       state, buffer, now, t)
            else:
                state = self._synapses(p, advance, factor, data, state,
                                       self._arriving(p, history, now, t))
            if g_init is not None:
                g_init = g_init * factor[0]
            g = self._conductance(p, data, w, state, g_init)
            for c in p.channels:  # in the spec's order for every post neuron
                i_syn, jump = self._act(c, g, v, i_syn, jump)
            states.append(state)
            g_inits.append(g_init)
            buffers.append(buffer)
        carry = {"vars": vars_, "last_spike": last_spike, "i_syn": i_syn, "jump": jump,
                 "g": tuple(states), "g_init": tuple(g_inits), "step": t + 1,
                 "delayed": tuple(buffers), "history": history}
        return carry, monitored

    def _exchange(self, spiked):
        """The network's spikes as the projections read them, ``(spiked, ids, count)``
        (bits, ids compacted once, count), and what the monitor keeps of them."""
        words = pack_words(spiked)
        ids, count = compact_words(words, self.n, self.width)
        return spiked, ids, count, (ids, count, words)

    def _act(self, channel, g, v, i_syn, jump):
        """``(i_syn, jump)`` with the channel's conductances acting on its post neurons."""
        c = channel
        if isinstance(c.output, VoltageJump):
            return i_syn, jump.at[c.post].add(g[c.g_slice])
        return i_syn.at[c.post].add(c.output.current(g[c.g_slice], v[c.post], jnp)), jump

    def _run_chunk(self, inputs, carry, n_valid, source_schedule):
        """``n_valid`` steps of ``chunk_steps``; ``source_schedule`` holds each step's
        spike sources' spikes."""
        def body(carry, step_inputs):
            active, source_spikes = step_inputs

            def skip(carry):
                return carry, self._no_spikes()

            def step(carry):
                return self._step(inputs, carry, source_spikes)

            return lax.cond(active, step, skip, carry)

        active = lax.iota(jnp.int32, self.chunk_steps) < n_valid
        return lax.scan(body, carry, (active, source_schedule), unroll=self.unroll)

    def _no_spikes(self):
        """The monitor's output of a step past the chunk's end."""
        words = jnp.zeros(-(-self.n // 32), jnp.uint32)
        return jnp.full(self.width, self.n, jnp.int32), jnp.int32(0), words

    def _chunk_args(self, size):
        """The compiled chunk's arguments for ``size`` steps."""
        return self.inputs, self.carry, self._replicated(np.int32(size)), \
            self._source_schedule(size)

    def _replicated(self, x):
        """A host array as the chunk's argument (the same on every device)."""
        return jnp.asarray(x)

    def _source_schedule(self, size):
        """The spike sources' spikes of the next ``size`` steps, padded to a chunk."""
        schedule = np.zeros((self.chunk_steps, self.spec.n_sources), bool)
        schedule[:size] = self.spec.source_spikes(self.step_index, size, self.dt)
        return self._replicated(schedule)

    def compile(self) -> None:
        """Lower and compile the chunk for ``chunk_steps`` steps (shorter chunks reuse it)."""
        with precision(self.dtype):
            self._compiled = self._chunk.lower(*self._chunk_args(0)).compile()

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
                self.carry, (ids, counts, words) = self._compiled(*self._chunk_args(size))
            steps, fired = self._spikes(ids, counts, words, size)
            out_steps.append((first + steps).astype(np.int32))
            out_ids.append(fired.astype(np.int32))
            self.step_index += size
            done += size
        jax.block_until_ready(self.carry)
        if not out_steps:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        return np.concatenate(out_steps), np.concatenate(out_ids)

    def _spikes(self, ids, counts, words, size):
        """(step in chunk, neuron) of every spike of the chunk's first ``size`` steps."""
        return spikes_of(np.asarray(ids)[:size], np.asarray(counts)[:size], words, size,
                         self.width, self.n)

    def finite(self) -> bool:
        return all(bool(jnp.isfinite(v).all()) for v in self.carry["vars"].values())

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the state as NumPy arrays, as the NumPy runner's ``snapshot``."""
        carry = self.carry
        out = {k: to_numpy(v).copy() for k, v in carry["vars"].items()}
        out["i_syn"] = to_numpy(carry["i_syn"]).copy()
        out["last_spike"] = to_numpy(carry["last_spike"]).copy()
        for p, data, w, state, g_init in zip(self.projections, self.datas, self.inputs[2],
                                             carry["g"], carry["g_init"], strict=True):
            for i, variable in enumerate(p.synapse.variables):
                output = i == p.synapse.output_index
                with precision(self.dtype):
                    g = to_numpy(self._conductance(p, data, w, state, g_init,
                                                   None if output else i))
                for name, offset, size in p.parts:
                    out[f"{'g' if output else variable}:{name}"] = g[offset:offset + size].copy()
        return out

    def device_bytes(self) -> dict[str, int]:
        """Bytes the device holds: the synapses' structures and weights, their state, and
        the neurons."""
        def nbytes(tree):
            return sum(x.nbytes for x in jax.tree.leaves(tree))

        carry = self.carry
        return {"synapses": nbytes((self.inputs[0], self.inputs[2])),
                "synaptic state": nbytes((carry["g"], carry["g_init"])),
                "neurons": nbytes((carry["vars"], carry["last_spike"], carry["i_syn"],
                                   carry["jump"]))}


def spikes_of(ids, counts, words, size, width, n):
    """(step in chunk, neuron) of every spike of ``size`` steps: from each step's
    ``width`` compacted ids and ``counts``, or from the packed ``words`` of ``n`` bits
    for the steps whose spikes overflowed the ids."""
    steps = np.repeat(np.arange(size), np.minimum(counts, width))
    fired = ids[np.arange(width) < counts[:, None]]
    over = np.flatnonzero(counts > width)
    if over.size:
        bits = np.unpackbits(np.asarray(words)[over].view(np.uint8), axis=1, count=n,
                             bitorder="little")
        row, col = np.nonzero(bits)
        keep = ~np.isin(steps, over)
        steps = np.concatenate([steps[keep], over[row]])
        fired = np.concatenate([fired[keep], col])
        order = np.argsort(steps, kind="stable")  # rows stay sorted by neuron
        steps, fired = steps[order], fired[order]
    return steps, fired
