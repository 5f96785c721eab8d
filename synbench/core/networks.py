"""The two benchmark networks as plain data (DESIGN section 3).

A :class:`NetworkSpec` says *what* is simulated: neuron groups, the neuron model and its
parameters, four projections (connector, synaptic time constant, weight, reversal
potential) and the initial state. It holds no backend arrays and runs nothing; the
runners in ``synbench.run`` and ``synbench/impls`` decide *how*.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace

import numpy as np

from .connect import Connectivity, Connector, FixedProb
from .connect.structures import require_memory
from .delays import UniformDelay, check_delay, delay_steps
from .errors import SynbenchError
from .integrators import METHODS
from .neurons import HHParams, LIFParams
from .synapses import (
    COBA,
    CUBA,
    MODELS,
    NMDA,
    Alpha,
    Delta,
    DualExponential,
    Exponential,
    MgBlock,
    SynapseModel,
    VoltageJump,
    check_pair,
    model_name,
)


@dataclass(frozen=True)
class Group:
    """A contiguous range of neurons in the network's one population, or (``source``) of
    spike sources, numbered apart from the neurons."""

    name: str
    start: int
    size: int
    source: bool = False

    @property
    def stop(self) -> int:
        return self.start + self.size

    @property
    def slice(self) -> slice:
        return slice(self.start, self.stop)


def _check_source(name, size) -> None:
    if not isinstance(name, str) or not name:
        raise SynbenchError(f"a spike source needs a name, not {name!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
        raise SynbenchError(f"source {name}: size must be a positive integer, not {size!r}")


@dataclass(frozen=True)
class PoissonSource:
    """``size`` independent Poisson spike trains at ``rate_hz``: a group that drives
    projections and is driven by nothing.

    Step t's spikes are drawn from (seed, t) alone, on the host, so every backend and
    every chunking of a run gets the same spikes.
    """

    name: str
    size: int
    rate_hz: float
    seed: int = 0

    def __post_init__(self):
        _check_source(self.name, self.size)
        if not (_is_real(self.rate_hz) and self.rate_hz >= 0):
            raise SynbenchError(f"source {self.name}: rate_hz must be a number >= 0, "
                                f"not {self.rate_hz!r}")

    def spikes(self, first_step: int, n_steps: int, dt: float) -> np.ndarray:
        """bool (n_steps, size): which sources spike in steps first_step ..."""
        p = self.rate_hz * dt / 1000.0
        if p > 1:
            raise SynbenchError(f"source {self.name}: {self.rate_hz} Hz is more than one "
                                f"spike per step of {dt} ms")
        return np.array([np.random.default_rng([self.seed, t]).random(self.size) < p
                         for t in range(first_step, first_step + n_steps)]).reshape(
                             n_steps, self.size)


@dataclass(frozen=True, eq=False)
class SpikeTimes:
    """Given spikes: source ``ids[k]`` spikes at ``times[k]`` ms (each a whole number of
    steps; a time that is not is refused when the run's dt is known)."""

    name: str
    size: int
    times: np.ndarray
    ids: np.ndarray

    def __post_init__(self):
        _check_source(self.name, self.size)
        times, ids = np.asarray(self.times, float).ravel(), np.asarray(self.ids).ravel()
        if times.shape != ids.shape or not np.all(np.isfinite(times)) or np.any(times < 0):
            raise SynbenchError(f"source {self.name}: times must be finite ms >= 0, one per "
                                "id")
        if ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= self.size):
            raise SynbenchError(f"source {self.name}: ids must be integers in 0..{self.size - 1}")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "ids", ids.astype(np.int64))

    def spikes(self, first_step: int, n_steps: int, dt: float) -> np.ndarray:
        steps = np.rint(self.times / dt).astype(np.int64)
        off_grid = np.abs(steps * dt - self.times) > 1e-9 * np.maximum(1.0, self.times)
        if np.any(off_grid):
            raise SynbenchError(f"source {self.name}: spike time {self.times[off_grid][0]} ms "
                                f"is not a whole number of steps of {dt} ms")
        out = np.zeros((n_steps, self.size), dtype=bool)
        inside = (steps >= first_step) & (steps < first_step + n_steps)
        out[steps[inside] - first_step, self.ids[inside]] = True
        return out


@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from group ``pre`` to group ``post``: connectivity, synapse model, weight
    and output (DESIGN section 4; the strategy is chosen per run).

    ``synapse`` is a synapse model (a number is ``Exponential(tau)``), ``output`` how g
    enters the post neuron (a number is ``COBA(e_rev)``): today's COBA projection is
    ``Projection(name, pre, post, connector, 5.0, 0.6, 0.0)``. Each step the state
    advances, every spiking pre neuron adds ``weight`` to its synapses (section 4b), then
    ``post.I_syn += output.current(g_post, post.V)``.

    ``weight`` is one number for every synapse, or None: each synapse's own weight, as the
    connectivity carries it (``Connectivity.weights``, which weighted connectors such as
    GaussianWeight and DOG emit). A number is used even when the connectivity carries
    weights. :meth:`weight_for` resolves it against a built connectivity.

    ``delay`` (DESIGN section 4c) is one number of ms for every synapse (default 0), one
    per synapse (canonical order), ``UniformDelay(low, high, seed)``, or None: the delays
    the connectivity carries (``Connectivity.delays``). :meth:`delay_steps` resolves it.
    """

    name: str
    pre: str
    post: str
    connector: Connector
    synapse: SynapseModel
    weight: float | None
    output: object
    delay: object = 0.0

    def __post_init__(self):
        object.__setattr__(self, "delay", check_delay(self.delay, f"{self.name}'s delay"))
        if _is_real(self.synapse):
            object.__setattr__(self, "synapse", Exponential(float(self.synapse)))
        if _is_real(self.output):
            object.__setattr__(self, "output", COBA(float(self.output)))
        check_pair(self.synapse, self.output)

    @property
    def e_rev(self) -> float | None:
        """The output's reversal potential (None for CUBA and Delta)."""
        return getattr(self.output, "e_rev", None)

    def weight_for(self, conn: Connectivity):
        """The weight that ``prepare(conn, weight, dtype)`` gets for this projection:
        ``weight`` when it is a number, else the connectivity's per-synapse weights
        (canonical order), or a SynbenchError when it carries none.

        >>> from synbench.core.connect import GaussianWeight
        >>> p = Projection("E2E", "E", "E", GaussianWeight(0.2, 1.0), 5.0, None, 0.0)
        >>> p.weight_for(p.connector.build((3, 3))).shape  # each neuron: itself, 4 nearest
        (33,)
        """
        if self.weight is not None:
            return self.weight
        if conn.weights is None:
            raise SynbenchError(
                f"projection {self.name} has weight=None, which takes each synapse's weight "
                f"from its connectivity, but {type(self.connector).__name__} gives none: pass "
                "a number as weight, or use a connector that emits weights (GaussianWeight, "
                "DOG, or a Connectivity built with weights=)"
            )
        return conn.weights

    def delay_steps(self, conn: Connectivity, dt: float):
        """This projection's delay over ``conn`` in whole steps of ``dt``: an int (one
        for every synapse) or an int32 array (one per synapse, canonical order)."""
        return delay_steps(self.delay, conn, dt, name=self.name)

    @property
    def delay_identity(self):
        d = self.delay
        return d.tobytes() if isinstance(d, np.ndarray) else d


@dataclass(frozen=True, eq=False)
class NetworkSpec:
    """Everything that defines a network run, as plain data.

    ``initial`` maps state variable names ('v', and 'm', 'h', 'n' for HH) to arrays of
    length ``n``; ``initial_g`` maps a projection name to its post neurons' initial
    conductance (empty for COBA, where g starts at 0).
    """

    name: str
    model: str
    params: LIFParams | HHParams
    groups: tuple[Group, ...]
    projections: tuple[Projection, ...]
    initial: dict[str, np.ndarray]
    initial_g: dict[str, np.ndarray] = field(default_factory=dict)
    seed: int = 0
    p: float = 0.02
    method: str = "exp_euler"
    #: The synapse model of the projections, by name (``synapses.MODELS``).
    synapse: str = "exponential"
    #: Spike source groups (PoissonSource, SpikeTimes): projections may start there.
    sources: tuple = ()

    @property
    def n(self) -> int:
        return sum(g.size for g in self.groups)

    def synapse_models(self) -> tuple:
        """The distinct synapse models of the projections, in order."""
        return tuple(dict.fromkeys(p.synapse for p in self.projections))

    def group(self, name: str) -> Group:
        """The neuron group ``name``, or the spike source group (``Group.source``)."""
        for g in self.groups:
            if g.name == name:
                return g
        start = 0
        for source in self.sources:
            if source.name == name:
                return Group(name, start, source.size, source=True)
            start += source.size
        names = [g.name for g in self.groups] + [s.name for s in self.sources]
        raise SynbenchError(f"no group {name!r} in {self.name}; groups: {names}")

    @property
    def n_sources(self) -> int:
        return sum(s.size for s in self.sources)

    def source_spikes(self, first_step: int, n_steps: int, dt: float) -> np.ndarray:
        """bool (n_steps, n_sources): every source's spikes, sources in order."""
        if not self.sources:
            return np.zeros((n_steps, 0), dtype=bool)
        return np.concatenate([s.spikes(first_step, n_steps, dt) for s in self.sources],
                              axis=1)

    def connectivity(self) -> dict[str, Connectivity]:
        """Build every projection's connectivity (seeded, so identical on every call)."""
        return {
            p.name: p.connector.build(self.group(p.pre).size, self.group(p.post).size)
            for p in self.projections
        }

    @property
    def identity(self) -> tuple:
        """What makes two specs the same network (their arrays follow from these)."""
        return (self.name, self.n, self.seed, self.p, self.method, self.params, self.synapse,
                tuple((repr(p.connector), p.synapse, p.weight, p.output, p.delay_identity)
                      for p in self.projections),
                tuple((s.name, s.size, s.times.tobytes(), s.ids.tobytes())
                      if isinstance(s, SpikeTimes) else s for s in self.sources))

    def time_constants(self) -> dict[str, float]:
        """The membrane's and each projection's synaptic time constant, in ms."""
        params = self.params
        membrane = params.tau if self.model == "lif" else (
            params.cm / params.gl if params.gl > 0 else math.inf)
        return {"membrane": membrane,
                **{f"synapse {p.name} {name}": tau for p in self.projections
                   for name, tau in p.synapse.time_constants().items()}}

    def describe(self) -> str:
        groups = ", ".join(f"{g.name}={g.size}" for g in self.groups)
        sources = "".join(f", source {s.name}={s.size}" for s in self.sources)
        synapse = "" if self.synapse == "exponential" else f", {self.synapse} synapses"
        counter = (", counter-based" if any(getattr(p.connector, "counter_based", False)
                                            for p in self.projections) else "")
        return (f"{self.name.upper()} n={self.n} ({groups}{sources}), p={self.p:.4g}{counter}, "
                f"{self.method}{synapse}")


def default_p(n: int) -> float:
    """0.02 at the tutorial's n = 4000, else 80 / n (80 synapses per neuron on average)."""
    return 0.02 if n == 4000 else 80.0 / n


# Neuron indices are int32 in every structure and spike monitor.
MAX_NEURONS = 2**31 - 1
# Bytes per synapse of a typical sparse run: pre and post ids, a weight, one structure.
_BYTES_PER_SYNAPSE = 24


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _check(n, seed, exc_fraction, p, method, counter_based=False) -> float:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise SynbenchError(f"n must be a positive integer number of neurons, not {n!r}")
    if n > MAX_NEURONS:
        raise SynbenchError(f"n = {n} exceeds {MAX_NEURONS} neurons, the most int32 indices "
                            "can address")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SynbenchError(f"seed must be a non-negative integer, not {seed!r}")
    if not (_is_real(exc_fraction) and 0.0 < exc_fraction < 1.0):
        raise SynbenchError(f"exc_fraction must lie strictly between 0 and 1, not {exc_fraction!r}")
    if round(n * exc_fraction) in (0, n):
        raise SynbenchError(
            f"n = {n} is too small to have both E and I neurons at exc_fraction {exc_fraction}"
        )
    if method not in METHODS:
        raise SynbenchError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    p = default_p(n) if p is None else p
    if not (_is_real(p) and 0.0 <= p <= 1.0):
        raise SynbenchError(
            f"connection probability p = {p!r} is not in [0, 1]"
            + (" (80 / n exceeds 1 for n < 80: pass p explicitly)" if n < 80 else "")
        )
    if not counter_based:  # else nothing is drawn until a structure is required
        _check_memory(int(n), float(p))
    return float(p)


def _check_memory(n: int, p: float) -> None:
    """Refuse, before drawing anything, a network whose synapses cannot fit in memory."""
    require_memory(int(float(n) * n * p * _BYTES_PER_SYNAPSE + 64 * n),
                   f"a network of n = {n} with p = {p:.3g} (about {n * n * p:.3g} synapses)",
                   "choose a smaller n or p")


def _frozen(**arrays: np.ndarray) -> dict[str, np.ndarray]:
    """Read-only arrays: a spec is data that runners copy, never state they write into."""
    for a in arrays.values():
        a.flags.writeable = False
    return arrays


def _groups(n: int, exc_fraction: float) -> tuple[Group, Group]:
    n_exc = round(n * exc_fraction)
    return Group("E", 0, n_exc), Group("I", n_exc, n - n_exc)


def _projections(seed, p, exc, inh, counter_based=False, delay=0.0) -> tuple[Projection, ...]:
    """The four projections E2E, E2I, I2E, I2I; ``exc``/``inh``: (synapse, weight, output)
    of the projections from E and from I. ``counter_based`` draws each pre neuron's
    synapses from (seed, pre) alone (``FixedProb(counter_based=True)``: other synapses
    than the default's, with the same statistics), so ``procedural`` can regenerate them.
    ``delay``: see :func:`network_delay`."""
    # One independent, reproducible stream per projection, derived from the network seed.
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(4)]
    specs = [("E2E", "E", "E"), ("E2I", "E", "I"), ("I2E", "I", "E"), ("I2I", "I", "I")]
    return tuple(Projection(name, pre, post, FixedProb(p, seed=s, counter_based=counter_based),
                            *(exc if pre == "E" else inh), delay=network_delay(delay, s))
                 for (name, pre, post), s in zip(specs, seeds, strict=True))


def network_delay(delay, seed: int):
    """A network's ``delay`` option as one projection's: a number of ms for every synapse,
    or ``(low, high)``: per-synapse delays drawn uniformly over the whole steps of
    [low, high] ms from ``seed`` (the projection's, derived from the network seed)."""
    if isinstance(delay, (tuple, list)):
        if len(delay) != 2:
            raise SynbenchError(f"delay must be a number of ms or (low, high) in ms for "
                                f"random per-synapse delays, not {delay!r}")
        return UniformDelay(*delay, seed=seed)
    return delay


#: COBA's projections for each synapse model: (synapse, weight, output) from E and from I.
#: The exponential ones are the tutorial's; the others keep each synapse's charge (the
#: integral of g after one spike: w tau for Exponential, w tau_decay tau_rise for
#: DualExponential, w tau^2 for Alpha) and were tuned, like Delta's jumps and NMDA's
#: weights, to an asynchronous irregular regime (rates in the README).
COBA_SYNAPSES = {
    "exponential": ((Exponential(5.0), 0.6, COBA(0.0)), (Exponential(10.0), 6.7, COBA(-80.0))),
    "delta": ((Delta(), 0.5, VoltageJump()), (Delta(), -6.0, VoltageJump())),
    "dual_exponential": ((DualExponential(5.0, 1.0), 0.6, COBA(0.0)),
                         (DualExponential(10.0, 1.0), 6.7, COBA(-80.0))),
    "alpha": ((Alpha(5.0), 0.12, COBA(0.0)), (Alpha(10.0), 0.67, COBA(-80.0))),
    # NMDA's kinetics on every projection (the lesson is where its state may live); the
    # excitatory ones act through the magnesium block.
    "nmda": ((NMDA(), 0.02, MgBlock()), (NMDA(), 0.2, COBA(-80.0))),
}


def synapse_choice(synapse) -> str:
    """The name of a synapse model (``synapses.MODELS``), or a SynbenchError."""
    if isinstance(synapse, str) and synapse in MODELS:
        return synapse
    if isinstance(synapse, SynapseModel):
        return model_name(synapse)
    raise SynbenchError(f"unknown synapse model {synapse!r}; choose from {', '.join(MODELS)}")


def coba(
    n: int = 4000,
    seed: int = 0,
    *,
    exc_fraction: float = 0.75,
    p: float | None = None,
    method: str = "exp_euler",
    params: LIFParams | None = None,
    synapse: str = "exponential",
    counter_based: bool = False,
    delay=0.0,
) -> NetworkSpec:
    """COBA (Vogels & Abbott 2005, the seed tutorial's network) with LIF neurons.

    Synaptic increments are 0.6 (from E) and 6.7 (from I), tau_exc = 5 ms,
    tau_inh = 10 ms, E_exc = 0 mV, E_inh = -80 mV; V0 ~ Normal(-60, 5) mV. ``synapse``
    puts another synapse model on every projection (:data:`COBA_SYNAPSES`: 'delta',
    'dual_exponential', 'alpha', 'nmda'), weights scaled to keep the network
    asynchronous and irregular. ``counter_based=True`` builds the connectivity so that
    the ``procedural`` strategy can regenerate it (other synapses, same statistics).
    ``delay`` (ms) is one delay for every synapse, or ``(low, high)``: random per-synapse
    delays over the whole steps of [low, high], drawn from the network seed.

    >>> spec = coba(1000)
    >>> [g.size for g in spec.groups], round(spec.p, 3)
    ([750, 250], 0.08)
    """
    p = _check(n, seed, exc_fraction, p, method, counter_based)
    synapse = synapse_choice(synapse)
    rng = np.random.default_rng(seed)
    return NetworkSpec(
        name="coba",
        model="lif",
        params=params or LIFParams(),
        groups=_groups(n, exc_fraction),
        projections=_projections(seed, p, *COBA_SYNAPSES[synapse], counter_based, delay),
        initial=_frozen(v=rng.normal(-60.0, 5.0, n)),
        seed=seed,
        p=p,
        method=method,
        synapse=synapse,
    )


def cuba(
    n: int = 4000,
    seed: int = 0,
    *,
    exc_fraction: float = 0.8,
    p: float | None = None,
    method: str = "exp_euler",
    params: LIFParams | None = None,
    counter_based: bool = False,
    delay=0.0,
) -> NetworkSpec:
    """CUBA (Brette et al. 2007 benchmark 2, Brian 2's CUBA.py): current-based
    exponential synapses. ``delay`` as for :func:`coba`.

    tau dV/dt = (El - V) + ge + gi with El = -49 mV, tau = 20 ms, V_th = -50,
    V_reset = -60 mV, t_ref = 5 ms; taue = 5, taui = 10 ms; we = 60 x 0.27 / 10 =
    1.62 mV, wi = -20 x 4.5 / 10 = -9 mV; V0 uniform in [V_reset, V_th].

    >>> spec = cuba(4000)
    >>> [g.size for g in spec.groups], spec.projections[0].weight
    ([3200, 800], 1.62)
    """
    p = _check(n, seed, exc_fraction, p, method, counter_based)
    params = params or LIFParams(el=-49.0, i_bg=0.0)
    rng = np.random.default_rng(seed)
    return NetworkSpec(
        name="cuba",
        model="lif",
        params=params,
        groups=_groups(n, exc_fraction),
        projections=_projections(seed, p, (Exponential(5.0), 1.62, CUBA()),
                                 (Exponential(10.0), -9.0, CUBA()), counter_based, delay),
        initial=_frozen(v=rng.uniform(params.v_reset, params.v_th, n)),
        seed=seed,
        p=p,
        method=method,
    )


def cobahh(
    n: int = 4000,
    seed: int = 0,
    *,
    exc_fraction: float = 0.8,
    p: float | None = None,
    method: str = "exp_euler",
    params: HHParams | None = None,
    counter_based: bool = False,
    delay=0.0,
) -> NetworkSpec:
    """COBAHH (Brette et al. 2007 benchmark 3, Brian 2's COBAHH.py) with HH neurons.

    Units are mV, ms, nS, pF. we = 6 nS, wi = 67 nS, taue = 5 ms, taui = 10 ms,
    Ee = 0 mV, Ei = -80 mV; v0 = El + (5 randn - 5) mV, ge0 = (1.5 randn + 4) x 10 nS,
    gi0 = (12 randn + 20) x 10 nS; m, h, n start at 0 as in Brian's example. ``delay``
    as for :func:`coba`.
    """
    p = _check(n, seed, exc_fraction, p, method, counter_based)
    params = params or HHParams()
    rng = np.random.default_rng(seed)
    v0 = params.el + (5.0 * rng.standard_normal(n) - 5.0)
    ge0 = (1.5 * rng.standard_normal(n) + 4.0) * 10.0
    gi0 = (12.0 * rng.standard_normal(n) + 20.0) * 10.0
    exc, inh = _groups(n, exc_fraction)
    # Each neuron has one excitatory and one inhibitory projection onto it; its initial
    # ge/gi belongs to that projection's post-side conductance.
    initial_g = _frozen(
        E2E=ge0[exc.slice].copy(), E2I=ge0[inh.slice].copy(),
        I2E=gi0[exc.slice].copy(), I2I=gi0[inh.slice].copy(),
    )
    return NetworkSpec(
        name="cobahh",
        model="hh",
        params=params,
        groups=(exc, inh),
        projections=_projections(seed, p, (Exponential(5.0), 6.0, COBA(0.0)),
                                 (Exponential(10.0), 67.0, COBA(-80.0)), counter_based,
                                 delay),
        initial=_frozen(v=v0, m=np.zeros(n), h=np.zeros(n), n=np.zeros(n)),
        initial_g=initial_g,
        seed=seed,
        p=p,
        method=method,
    )


def driven(
    synapse: str = "exponential",
    n_pre: int = 100,
    n_post: int = 10,
    *,
    rate_hz: float = 20.0,
    p: float = 0.1,
    weight: float | None = None,
    seed: int = 0,
    method: str = "exp_euler",
    delay=0.0,
) -> NetworkSpec:
    """One Poisson group "P" (``n_pre`` sources at ``rate_hz``) driving one LIF group "N"
    (no background current) through one projection "P2N", FixedProb(p): the picture of
    g(t) and V(t) for one synapse model. The weight and output are COBA's excitatory
    ones for ``synapse`` (:data:`COBA_SYNAPSES`) unless ``weight`` is given; ``delay`` as
    for :func:`coba`.

    >>> driven("nmda").describe()
    'DRIVEN n=10 (N=10, source P=100), p=0.1, exp_euler, nmda synapses'
    """
    synapse = synapse_choice(synapse)
    model, default_weight, output = COBA_SYNAPSES[synapse][0]
    if isinstance(n_post, bool) or not isinstance(n_post, (int, np.integer)) or n_post <= 0:
        raise SynbenchError(f"n_post must be a positive integer, not {n_post!r}")
    if not (_is_real(p) and 0.0 <= p <= 1.0):
        raise SynbenchError(f"connection probability p = {p!r} is not in [0, 1]")
    if method not in METHODS:
        raise SynbenchError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    conn_seed = int(np.random.SeedSequence(seed).generate_state(1)[0])
    source = PoissonSource("P", n_pre, rate_hz, seed=seed + 1)
    return NetworkSpec(
        name="driven", model="lif", params=LIFParams(i_bg=0.0),
        groups=(Group("N", 0, n_post),),
        projections=(Projection("P2N", "P", "N", FixedProb(p, seed=conn_seed), model,
                                default_weight if weight is None else weight, output,
                                delay=network_delay(delay, conn_seed)),),
        initial=_frozen(v=np.full(n_post, LIFParams().el)),
        seed=seed, p=float(p), method=method, synapse=synapse, sources=(source,),
    )


NETWORKS = {"coba": coba, "cuba": cuba, "cobahh": cobahh}


def network(name: str, n: int = 4000, seed: int = 0, **kwargs) -> NetworkSpec:
    """Look a network up by name ('coba', 'cuba' or 'cobahh')."""
    if name not in NETWORKS:
        raise SynbenchError(f"unknown network {name!r}; choose from {', '.join(NETWORKS)}")
    return NETWORKS[name](n, seed, **kwargs)


def with_connector(spec: NetworkSpec, connector: Connector,
                   weight_scale: float = 1.0) -> NetworkSpec:
    """``spec`` with every projection connected by ``connector`` and its weight times
    ``weight_scale``: COBA all-to-all, its weights scaled by p so that each neuron's mean
    input stays the same, is ``with_connector(coba(n), All2All(include_self=False),
    spec.p)``.

    >>> from synbench.core.connect import All2All
    >>> spec = coba(1000)
    >>> with_connector(spec, All2All(include_self=False), spec.p).projections[0].weight
    0.048
    """
    projections = tuple(
        replace(p, connector=connector,
                weight=p.weight if p.weight is None else p.weight * weight_scale)
        for p in spec.projections)
    return replace(spec, projections=projections)
