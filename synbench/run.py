"""Drive a network spec with one (strategy, backend) and collect a :class:`RunResult`.

Every backend package provides a ``Simulation`` class of the runner protocol
:class:`synbench.impls.Simulation` (build, ``compile()``, ``advance(n_steps)``,
``finite()``, ``snapshot()``).

This module owns what is common: validation, memory checks, chunking, the progress
bar, timing and the result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import numbers
import time
import warnings
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from .core import delays, registry, strategies
from .core.connect import Connectivity
from .core.errors import SynbenchError, SynbenchWarning
from .core.networks import NetworkSpec
from .core.registry import check_dtype
from .core.synapses import weights_at_output


@dataclass(frozen=True)
class Monitor:
    """Record state variables of chosen neurons every ``every`` steps (``run(monitor=)``).

    ``variables``: 'v' (and 'm', 'h', 'n' for HH), 'i_syn', 'g:<projection>' (its post
    conductance) or '<variable>:<projection>' (a synapse model's other variable, 'h:E2E',
    summed onto the post neurons as g is). ``neurons``: population indices (default
    all; a projection's variables are recorded for those in its post group, and at
    least one must be). Samples are the state after steps every - 1, 2 every - 1, ...:
    at times every dt, 2 every dt, ... Recording means a round trip to the host every
    ``every`` steps, so it slows a compiled run down: record what you will look at.
    """

    variables: tuple[str, ...] = ("v",)
    neurons: object = None
    every: int = 1


@dataclass
class RunResult:
    """What one run produced: the spike raster, rates, timings and event count."""

    network: str
    n: int
    strategy: str | None
    backend: str
    dtype: str
    dt: float
    n_steps: int
    spike_steps: np.ndarray = field(repr=False)
    spike_ids: np.ndarray = field(repr=False)
    rates: dict[str, float]
    wall_s: float
    compile_s: float
    events: int
    groups: dict[str, tuple[int, int]] = field(repr=False, default_factory=dict)
    spec_identity: tuple = field(repr=False, default=(), compare=False)
    #: Why this (strategy, synapse model) is not exact, for a run made inexact on purpose.
    inexact: str | None = None
    #: Estimated bytes the strategy holds for the network: structures, weights, states.
    held_bytes: int = 0
    #: The CPU threads a multi-threaded backend ran on (numba_parallel); None for the
    #: others (one thread, or as the library decides: JAX).
    threads: int | None = None
    #: The devices a sharded run was split over (``run(devices=)``); None for one device.
    devices: int | None = None
    #: Bytes each device held (sharded runs; one device's for the jax runner), by kind:
    #: 'synapses' (structures and weights), 'synaptic state', 'neurons'.
    device_bytes: dict[str, int] = field(repr=False, default_factory=dict)
    #: What a Monitor recorded: variable -> (n_samples, n_neurons) array, the population
    #: indices of its columns, and the time of each sample (ms).
    traces: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    trace_neurons: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    trace_times: np.ndarray | None = field(repr=False, default=None)

    @property
    def label(self) -> str:
        tag = " INEXACT" if self.inexact else ""
        return f"{self.strategy or 'neurons alone'} ({self.backend_label}){tag}"

    @property
    def backend_label(self) -> str:
        """The backend, with its thread count where it has threads of its own, or the
        devices a sharded run was split over."""
        if self.devices is not None:
            return f"{self.backend} on {self.devices} device{'s' if self.devices > 1 else ''}"
        return self.backend if self.threads is None else f"{self.backend} x{self.threads}"

    @property
    def duration_ms(self) -> float:
        return self.n_steps * self.dt

    @property
    def realtime_factor(self) -> float:
        """Simulated time per wall-clock time: > 1 means faster than real time."""
        return self.duration_ms / 1000.0 / self.wall_s if self.wall_s > 0 else math.inf

    def first_difference(self, other: RunResult) -> int | None:
        """The first step at which the two rasters differ, or None if identical."""
        a = np.stack([self.spike_steps, self.spike_ids]).astype(np.int64)
        b = np.stack([other.spike_steps, other.spike_ids]).astype(np.int64)
        m = min(a.shape[1], b.shape[1])
        differs = np.flatnonzero((a[:, :m] != b[:, :m]).any(axis=0))
        if differs.size:
            k = differs[0]
            return int(min(a[0, k], b[0, k]))
        if a.shape[1] != b.shape[1]:
            longer = a if a.shape[1] > b.shape[1] else b
            return int(longer[0, m])
        return None

    def summary(self) -> dict:
        """The result without the raster, ready for JSON."""
        return {
            "network": self.network, "n": self.n, "strategy": self.strategy,
            "backend": self.backend, "dtype": self.dtype, "dt": self.dt,
            "duration_ms": self.duration_ms, "n_spikes": int(self.spike_ids.size),
            "rates_hz": self.rates, "wall_s": self.wall_s, "compile_s": self.compile_s,
            "events": self.events,
            "events_per_s": self.events / self.wall_s if self.wall_s else None,
            "inexact": self.inexact, "held_bytes": self.held_bytes, "threads": self.threads,
            "devices": self.devices, "device_bytes": self.device_bytes,
        }

    def plot_raster(self, path: str | None = None, ax=None, max_points: int = 200_000):
        """Raster plot (neuron index against time) with per-group rates; returns the Axes.

        Draws into ``ax`` when given (a notebook's own figure), else into a new figure
        made without pyplot, so no matplotlib backend or global state is touched.
        ``path`` saves the figure (png, pdf or svg, from its extension; atomically). At
        most ``max_points`` spikes are drawn (every k-th), which keeps huge runs quick to plot.
        """
        fig, ax = figure_and_axes(ax, (9, 5))
        keep = slice(None, None, max(1, self.spike_ids.size // max_points))
        t = self.spike_steps[keep] * self.dt
        ids = self.spike_ids[keep]
        colors = ["tab:red", "tab:blue", "tab:green", "tab:purple"]
        for color, (name, (start, stop)) in zip(colors, self.groups.items(), strict=False):
            sel = (ids >= start) & (ids < stop)
            ax.plot(t[sel], ids[sel], ".", ms=1, color=color,
                    label=f"{name}: {self.rates.get(name, 0):.1f} Hz")
        ax.set_xlim(0, self.duration_ms)
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("neuron index")
        ax.set_title(f"{self.network.upper()} n={self.n}, {self.label}, {self.dtype}")
        ax.legend(loc="upper right", markerscale=8)
        if path is not None:
            from .outputs import save_figure

            save_figure(fig, path, dpi=120)
        return ax


    def plot_traces(self, path: str | None = None, variables=None, max_neurons: int = 5):
        """One panel per recorded variable against time (at most ``max_neurons`` lines
        each); returns the Axes. Made without pyplot; ``path`` saves it atomically."""
        from matplotlib.figure import Figure

        variables = list(self.traces) if variables is None else list(variables)
        if not variables:
            raise SynbenchError("nothing was recorded: pass monitor=Monitor(...) to run")
        fig = Figure(figsize=(9, 2.2 * len(variables) + 0.8))
        axes = fig.subplots(len(variables), 1, sharex=True, squeeze=False)[:, 0]
        for ax, name in zip(axes, variables, strict=True):
            if name not in self.traces:
                raise SynbenchError(f"{name!r} was not recorded; recorded: {list(self.traces)}")
            for column, neuron in enumerate(self.trace_neurons[name][:max_neurons]):
                ax.plot(self.trace_times, self.traces[name][:, column], lw=1,
                        label=f"neuron {neuron}")
            ax.set_ylabel(name)
        axes[0].legend(loc="upper right", fontsize=7)
        axes[0].set_title(f"{self.network.upper()} n={self.n}, {self.label}")
        axes[-1].set_xlabel("time (ms)")
        if path is not None:
            from .outputs import save_figure

            save_figure(fig, path, dpi=120)
        return axes


def figure_and_axes(ax, figsize):
    """``ax`` and its figure, or a new pyplot-free figure (nothing global changes)."""
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.add_subplot()


# Spike steps are recorded as int32.
MAX_STEPS = 2**31 - 1


def n_steps_for(duration: float, dt: float) -> int:
    """The whole number of steps in ``duration``, or a SynbenchError saying why not."""
    for name, value in (("dt", dt), ("duration", duration)):
        if isinstance(value, bool) or not (isinstance(value, numbers.Real)
                                           and math.isfinite(value) and value > 0):
            raise SynbenchError(f"{name} must be a positive number of ms, not {value!r}")
    steps = round(duration / dt)
    if steps > MAX_STEPS:
        raise SynbenchError(f"duration / dt = {duration / dt:.3g} steps is more than the "
                            f"{MAX_STEPS} a run can record; use a shorter duration or a larger dt")
    if steps == 0 or abs(steps * dt - duration) > 1e-9 * max(1.0, duration):
        raise SynbenchError(
            f"duration {duration} ms is not a whole number of steps of dt = {dt} ms; "
            f"use e.g. {max(steps, 1) * dt:g} ms"
        )
    return steps


def check_dt(spec: NetworkSpec, dt: float) -> None:
    """Warn when ``dt`` is coarse next to the network's fastest time constant."""
    name, tau = min(spec.time_constants().items(), key=lambda item: item[1])
    if dt > tau / 10:
        warnings.warn(f"dt = {dt:g} ms is more than a tenth of the {name} time constant "
                      f"({tau:g} ms): expect large integration errors or divergence; "
                      "0.1 ms or less is usual", SynbenchWarning, stacklevel=3)


def check_spec(spec) -> None:
    if not isinstance(spec, NetworkSpec):
        raise SynbenchError(f"spec must be a network such as synbench.coba(4000), not {spec!r}")
    if spec.model != "lif" and any(p.synapse.voltage_jump for p in spec.projections):
        raise SynbenchError(f"Delta synapses make V jump, which only the LIF neuron takes; "
                            f"{spec.name} has {spec.model} neurons")


def check_exact(spec: NetworkSpec, strategy: str | None, allow_inexact: bool) -> str | None:
    """Refuse a strategy that cannot hold the spec's synapse models exactly, unless
    ``allow_inexact`` (teaching): then the reason, which labels the result."""
    if strategy is None:
        return None
    why = registry.inexact_reason(strategy, spec.synapse_models())
    if why is not None and not allow_inexact:
        raise SynbenchError(f"{why} (allow_inexact=True, or --allow-inexact, runs it anyway, "
                            "labelled inexact)")
    return why


def unsuited_reason(spec: NetworkSpec, strategy: str, conns: dict, backend: str | None = None,
                    dt: float = 0.1, delay_mechanism: str | None = None) -> str | None:
    """None when ``strategy`` holds every projection's connectivity and weight, else why
    not (all2all holds all-to-all connectivity only, procedural a counter-based one).
    With ``backend``, also its delays (AlignPre strategies hold one delay per projection
    only; a backend may lack the delay mechanism): ``plan_delays``'s refusal, which
    ``run`` meets on its own."""
    spec, conns = with_weights(spec, conns)
    declared = strategies.strategy(strategy)
    for p in spec.projections:
        why = strategies.unsuited_reason(strategy, conns[p.name], p.weight)
        if why is not None:
            return f"projection {p.name}: {why}"
        if (declared.state == "matrix" and weights_at_output("matrix", p.synapse)
                and conns[p.name].has_multapses):
            # One element holds a pair's synapses together: their unit events sum, and
            # a model nonlinear in its state (NMDA) is then no longer each synapse's.
            return (f"projection {p.name}: {strategy} keeps one state per (pre, post) pair, "
                    f"which cannot hold {p.synapse.name} for several synapses of one pair "
                    "(multapses); use a state per synapse: pre_ids, pre2syn or post_slice")
    if backend is not None:
        try:
            plan_delays(spec, conns, registry.get(strategy, backend), dt, delay_mechanism)
        except SynbenchError as e:
            return str(e)
    return None


def plan_delays(spec: NetworkSpec, conns: dict, entry, dt: float,
                mechanism: str | None = None) -> delays.DelayPlan | None:
    """The run's delays in steps (DESIGN section 4c), or None when there are none.

    One number per projection: a ring of pre spike vectors that the strategy's kernel
    delivers from. One per synapse on any projection (or a ``mechanism`` named): every
    projection through that mechanism (default: the strategy's,
    ``delays.default_mechanism``), refused with the reason where the strategy or the
    backend cannot.
    """
    steps = {p.name: p.delay_steps(conns[p.name], dt) for p in spec.projections}
    if mechanism is None and not any(delays.per_synapse(s) for s in steps.values()):
        return delays.DelayPlan(steps) if any(steps.values()) else None
    found = registry.delay_entry(entry.name, entry.backend, mechanism)
    steps = {name: s if delays.per_synapse(s) else np.full(conns[name].n_syn, s, np.int32)
             for name, s in steps.items()}
    return delays.DelayPlan(steps, found.mechanism, found)


def delay_nbytes(plan, spec: NetworkSpec, conns: dict, dtype) -> int:
    """Estimated bytes the run's delays hold: rings, queues, per-synapse delays."""
    if plan is None:
        return 0
    total = 0
    for p in spec.projections:
        conn, depth = conns[p.name], plan.depth(p.name)
        if plan.mechanism is None:
            total += depth * conn.n_pre if depth > 1 else 0
        else:
            total += delays.nbytes(plan.mechanism, conn, depth, dtype)
    return total


def with_weights(spec: NetworkSpec, conns: dict) -> tuple[NetworkSpec, dict]:
    """``(spec, conns)`` as the runners take them: each projection's weight resolved
    against its connectivity (:meth:`Projection.weight_for`), here and nowhere else.

    A projection with weight=None gets its connectivity's per-synapse weights, in
    canonical order, and its connectivity is given in canonical form (the same synapses,
    no ``order``) so that ``prepare`` reads them as meant. The arguments are not changed.
    """
    if all(p.weight is not None for p in spec.projections):
        return spec, conns
    projections, conns = [], dict(conns)
    for p in spec.projections:
        if p.weight is None:
            conn = conns[p.name]
            p = dataclasses.replace(p, weight=p.weight_for(conn))
            conns[p.name] = conn.canonical()[0]
        projections.append(p)
    return dataclasses.replace(spec, projections=tuple(projections)), conns


def check_conns(spec: NetworkSpec, conns: dict) -> dict:
    """``conns`` must hold a Connectivity of the right sizes for every projection."""
    if not isinstance(conns, dict):
        raise SynbenchError(f"conns must be a dict from projection name to Connectivity "
                            f"(spec.connectivity() builds it), not {type(conns).__name__}")
    for p in spec.projections:
        conn = conns.get(p.name)
        if not isinstance(conn, Connectivity):
            raise SynbenchError(f"conns[{p.name!r}] must be a Connectivity, not "
                                f"{type(conn).__name__}; build conns with spec.connectivity()")
        want = (spec.group(p.pre).size, spec.group(p.post).size)
        if (conn.n_pre, conn.n_post) != want:
            raise SynbenchError(f"conns[{p.name!r}] is {conn.n_pre} x {conn.n_post} but "
                                f"projection {p.name} is {want[0]} x {want[1]}")
    return conns


def run(
    spec: NetworkSpec,
    strategy: str | None = "pre_slice",
    backend: str = "numba",
    duration: float = 100.0,
    dt: float = 0.1,
    dtype: str = "float64",
    progress: bool = False,
    chunk_steps: int | None = None,
    conns: dict | None = None,
    allow_inexact: bool = False,
    monitor: Monitor | None = None,
    delay_mechanism: str | None = None,
    threads: int | None = None,
    devices=None,
) -> RunResult:
    """Simulate ``spec`` for ``duration`` ms with one strategy on one backend.

    ``strategy=None`` runs the neurons alone (no synapses): the baseline every
    strategy's cost is measured against. ``conns`` reuses connectivity already built
    with ``spec.connectivity()`` (as ``synbench compare`` does). A strategy whose state
    cannot hold the spec's synapse models exactly (NMDA summed per post neuron) is
    refused, unless ``allow_inexact``: then the result says why it is inexact.
    ``monitor`` records state variables of chosen neurons (:class:`Monitor`) into
    ``result.traces``. Projections with per-synapse delays go through
    ``delay_mechanism`` ('spike_ring', 'input_ring', 'spike_queue'; None: the strategy's
    default, ``core.delays``); naming one puts one-number delays through it too.
    ``threads``: how many CPU threads a multi-threaded backend (numba_parallel) runs on
    (None: its default, ``NUMBA_NUM_THREADS``, every core); its results are the same
    for any count. ``devices``: run on that many devices at once (a backend with a
    ``ShardedSimulation``: jax), or on a one-axis ``jax.sharding.Mesh``: the neurons are
    cut into one block per device, each holding the synapses onto its own block
    (DESIGN section 8); the raster is that of one device.

    >>> from synbench import coba, run
    >>> result = run(coba(1000), "pre_slice", "numpy", duration=10.0)  # doctest: +SKIP
    """
    check_spec(spec)
    for name, value in (("strategy", strategy), ("backend", backend)):
        if not isinstance(value, str) and not (name == "strategy" and value is None):
            raise SynbenchError(f"{name} must be a name such as 'pre_slice' or 'numba' "
                                f"(see `synbench list`), not {value!r}")
    n_steps = n_steps_for(duration, dt)
    dtype = check_dtype(dtype)
    registry.check_names(strategy, backend)
    module = registry.BACKENDS[backend].load()
    using_threads = threads_of(module, backend, threads)
    simulation = simulation_of(module, backend, devices)
    entry = registry.get(strategy, backend) if strategy is not None else None
    inexact = check_exact(spec, strategy, allow_inexact)
    if chunk_steps is None:
        chunk_steps = min(n_steps, 1000)
    if isinstance(chunk_steps, bool) or not (isinstance(chunk_steps, int) and chunk_steps > 0):
        raise SynbenchError(f"chunk_steps must be a positive integer, not {chunk_steps!r}")
    check_dt(spec, dt)
    if monitor is not None:
        check_monitor(monitor, spec, entry, n_steps)
        chunk_steps = monitor.every  # one snapshot after each chunk
    if entry is not None:
        conns = spec.connectivity() if conns is None else check_conns(spec, conns)
        why = unsuited_reason(spec, strategy, conns)
        if why is not None:
            raise SynbenchError(why)
        weighted, conns = with_weights(spec, conns)  # weight=None: the connectivity's
        entry.check_fits([(conns[p.name], p.synapse) for p in spec.projections], dtype)
        plan = plan_delays(weighted, conns, entry, dt, delay_mechanism)
    else:
        weighted, conns, plan = spec, {}, None

    delay_option = {} if plan is None else {"delays": plan}
    with using_threads as threads:
        sim = simulation(weighted, entry, conns, dt, dtype, chunk_steps, **delay_option)
        result = _simulate(sim, progress, n_steps, chunk_steps, dt, strategy, backend, monitor)
    steps, ids, wall_s, compile_s, samples = result
    spike_steps = np.concatenate(steps).astype(np.int32) if steps else np.zeros(0, np.int32)
    spike_ids = np.concatenate(ids).astype(np.int32) if ids else np.zeros(0, np.int32)
    return RunResult(
        network=spec.name, n=spec.n, strategy=strategy, backend=backend, dtype=dtype, dt=dt,
        n_steps=n_steps, spike_steps=spike_steps, spike_ids=spike_ids,
        rates=_rates(spec, spike_ids, n_steps * dt),
        wall_s=wall_s, compile_s=compile_s,
        events=_events(spec, conns, spike_ids, n_steps, dt) if entry is not None else 0,
        groups={g.name: (g.start, g.stop) for g in spec.groups},
        spec_identity=spec.identity,
        inexact=inexact,
        held_bytes=sum(entry.nbytes(conns[p.name], dtype, p.synapse)
                       for p in spec.projections) + delay_nbytes(plan, spec, conns, dtype)
        if entry is not None else 0,
        threads=threads,
        devices=getattr(sim, "n_devices", None),
        device_bytes=sim.device_bytes() if hasattr(sim, "device_bytes") else {},
        **_traces(monitor, spec, samples, dt),
    )


def thread_count(module, backend: str, threads: int | None) -> int | None:
    """The CPU threads ``backend`` (its loaded ``module``) will run on: ``threads``
    checked, None giving its default; None for a backend without threads of its own."""
    count = getattr(module, "thread_count", None)
    if count is not None:
        return count(threads)
    if threads is not None:
        raise SynbenchError(f"backend '{backend}' runs on one thread: threads (--threads) is "
                            "for numba_parallel, which runs on every core")
    return None


def simulation_of(module, backend: str, devices):
    """The runner class of ``backend``: its ``Simulation``, or with ``devices``, its
    ``ShardedSimulation`` on them."""
    if devices is None:
        return module.Simulation
    if not registry.BACKENDS[backend].sharded:
        raise SynbenchError(f"backend '{backend}' runs on one device: devices (--devices) "
                            "is for the jax backend, on JAX's distributed runtime")
    return functools.partial(module.ShardedSimulation, devices=devices)


def threads_of(module, backend: str, threads: int | None):
    """A context in which ``backend`` runs on ``threads`` CPU threads, giving the count
    (:func:`thread_count`)."""
    count = thread_count(module, backend, threads)
    return contextlib.nullcontext(None) if count is None else module.using_threads(count)


def _simulate(sim, progress, n_steps, chunk_steps, dt, strategy, backend, monitor):
    """Compile ``sim``, then advance it chunk by chunk: (spike steps and ids per chunk,
    run seconds, compile seconds, the monitor's snapshots)."""
    start = time.perf_counter()
    sim.compile()
    compile_s = time.perf_counter() - start

    steps, ids, wall_s, samples, estimated = [], [], 0.0, [], False
    with _progress_bar(progress, n_steps, f"{strategy or 'neurons'}-{backend}") as bar:
        done = 0
        while done < n_steps:
            size = min(chunk_steps, n_steps - done)
            start = time.perf_counter()
            chunk_steps_, chunk_ids = sim.advance(size)
            wall_s += time.perf_counter() - start
            if not sim.finite():
                raise SynbenchError(
                    f"the network diverged between steps {done} and {done + size} "
                    f"({done * dt:g}-{(done + size) * dt:g} ms): its state holds NaN or inf, "
                    f"so no rates are reported; use a smaller dt than {dt:g} ms")
            # Estimated once enough has run to tell (the first steps of a short chunk
            # are dominated by what runs once).
            if not progress and not estimated and (done + size >= 100 or wall_s > 2.0):
                _warn_if_long(wall_s, done + size, n_steps)
                estimated = True
            steps.append(chunk_steps_)
            ids.append(chunk_ids)
            done += size
            bar.update(size)
            if monitor is not None and size == monitor.every:
                samples.append(sim.snapshot())
    return steps, ids, wall_s, compile_s, samples


def _monitored(monitor: Monitor, spec: NetworkSpec, variable: str) -> tuple[np.ndarray, int]:
    """The population indices recorded for ``variable``, and the first index of the
    array the snapshot holds it in (a projection's post group, else 0)."""
    neurons = (np.arange(spec.n) if monitor.neurons is None
               else np.unique(np.asarray(monitor.neurons, dtype=np.int64)))
    if ":" not in variable:
        return neurons, 0
    projection = next(p for p in spec.projections if p.name == variable.split(":", 1)[1])
    post = spec.group(projection.post)
    return neurons[(neurons >= post.start) & (neurons < post.stop)], post.start


def check_monitor(monitor, spec: NetworkSpec, entry, n_steps: int) -> None:
    """A Monitor of variables this run has, of neurons it has, every whole step."""
    if not isinstance(monitor, Monitor):
        raise SynbenchError(f"monitor must be a synbench.Monitor, not {monitor!r}")
    every = monitor.every
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every <= 0:
        raise SynbenchError(f"Monitor.every must be a positive number of steps, not {every!r}")
    if every > n_steps:
        raise SynbenchError(f"Monitor.every = {every} steps is longer than the run "
                            f"({n_steps} steps): nothing would be recorded")
    if monitor.neurons is not None:
        neurons = np.asarray(monitor.neurons)
        if neurons.size == 0 or neurons.dtype.kind not in "iu" or neurons.ndim > 1:
            raise SynbenchError("Monitor.neurons must be a non-empty list of neuron indices")
        if neurons.min() < 0 or neurons.max() >= spec.n:
            raise SynbenchError(f"Monitor.neurons must lie in 0..{spec.n - 1}, not "
                                f"{int(neurons.min())}..{int(neurons.max())}")
    from .core.neurons import MODELS

    known = [*MODELS[spec.model].variables, "i_syn"]
    if entry is not None:
        for p in spec.projections:
            known += [f"g:{p.name}"] + [f"{v}:{p.name}" for v in p.synapse.variables
                                        if v != p.synapse.output]
    if isinstance(monitor.variables, str) or not monitor.variables:
        raise SynbenchError("Monitor.variables must be a non-empty tuple of names, "
                            f"such as ('v', 'g:E2E'); this run has {', '.join(known)}")
    for variable in monitor.variables:
        if variable not in known:
            raise SynbenchError(f"this run has no variable {variable!r} to record; it has "
                                f"{', '.join(known)}")
        if _monitored(monitor, spec, variable)[0].size == 0:
            raise SynbenchError(f"none of Monitor.neurons is a post neuron of "
                                f"{variable.split(':', 1)[1]}")


def _traces(monitor, spec, samples, dt) -> dict:
    if monitor is None:
        return {}
    traces, neurons = {}, {}
    for variable in monitor.variables:
        chosen, first = _monitored(monitor, spec, variable)
        traces[variable] = np.array([sample[variable][chosen - first] for sample in samples])
        neurons[variable] = chosen
    times = (np.arange(len(samples)) + 1) * monitor.every * dt
    return {"traces": traces, "trace_neurons": neurons, "trace_times": times}


def _progress_bar(progress: bool, n_steps: int, label: str):
    """A tqdm bar, or a stand-in that imports nothing when no bar is wanted."""
    if not progress:
        return contextlib.nullcontext(SimpleNamespace(update=lambda n: None))
    from tqdm.auto import tqdm

    return tqdm(total=n_steps, unit="step", desc=label, leave=False)


def _warn_if_long(first_s: float, first_steps: int, n_steps: int) -> None:
    """Say how long a run without a progress bar will take, when that is long."""
    estimate = first_s / first_steps * n_steps
    if estimate > 600:
        warnings.warn(f"this run will take about {estimate / 3600:.2g} h ({n_steps} steps at "
                      f"{first_s / first_steps * 1e3:.2g} ms each); Ctrl-C stops it",
                      SynbenchWarning, stacklevel=3)


def _rates(spec: NetworkSpec, spike_ids: np.ndarray, duration_ms: float) -> dict[str, float]:
    counts = np.bincount(spike_ids, minlength=spec.n)
    return {
        g.name: float(counts[g.slice].sum() / g.size / (duration_ms / 1000.0)) for g in spec.groups
    }


def _events(spec: NetworkSpec, conns: dict, spike_ids: np.ndarray, n_steps: int,
            dt: float) -> int:
    """Synaptic events delivered: for every spike (of a neuron or a spike source), the
    out-degree of its neuron."""
    counts = np.bincount(spike_ids, minlength=spec.n)
    source_counts = np.zeros(spec.n_sources, np.int64)
    for first in range(0, n_steps if spec.sources else 0, 10_000):
        size = min(10_000, n_steps - first)
        source_counts += spec.source_spikes(first, size, dt).sum(axis=0)
    total = 0
    for p in spec.projections:
        pre = spec.group(p.pre)
        total += int((source_counts if pre.source else counts)[pre.slice]
                     @ conns[p.name].out_degrees())
    return total

