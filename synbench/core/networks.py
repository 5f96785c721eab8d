"""The two benchmark networks as plain data (DESIGN section 3).

A :class:`NetworkSpec` says *what* is simulated: neuron groups, the neuron model and its
parameters, four projections (connector, synaptic time constant, weight, reversal
potential) and the initial state. It holds no backend arrays and runs nothing; the
runners in ``synbench.run`` and ``synbench/impls`` decide *how*.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from .connect import Connectivity, Connector, FixedProb
from .connect.structures import require_memory
from .errors import SynbenchError
from .integrators import METHODS
from .neurons import HHParams, LIFParams
from .synapses import Exponential


@dataclass(frozen=True)
class Group:
    """A contiguous range of neurons in the network's one population."""

    name: str
    start: int
    size: int

    @property
    def stop(self) -> int:
        return self.start + self.size

    @property
    def slice(self) -> slice:
        return slice(self.start, self.stop)


@dataclass(frozen=True)
class Projection:
    """Synapses from group ``pre`` to group ``post`` with exponential conductances.

    Each step g decays by exp(-dt / tau), every spiking pre neuron adds ``weight`` to
    its synapses, then ``post.I_syn += g_post * (e_rev - post.V)``.
    """

    name: str
    pre: str
    post: str
    connector: Connector
    tau: float
    weight: float
    e_rev: float

    @property
    def synapse(self) -> Exponential:
        """The synapse model of this projection (section 4b)."""
        return Exponential(self.tau)


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

    @property
    def n(self) -> int:
        return sum(g.size for g in self.groups)

    def group(self, name: str) -> Group:
        for g in self.groups:
            if g.name == name:
                return g
        names = [g.name for g in self.groups]
        raise SynbenchError(f"no group {name!r} in {self.name}; groups: {names}")

    def connectivity(self) -> dict[str, Connectivity]:
        """Build every projection's connectivity (seeded, so identical on every call)."""
        return {
            p.name: p.connector.build(self.group(p.pre).size, self.group(p.post).size)
            for p in self.projections
        }

    @property
    def identity(self) -> tuple:
        """What makes two specs the same network (their arrays follow from these)."""
        return (self.name, self.n, self.seed, self.p, self.method, self.params)

    def time_constants(self) -> dict[str, float]:
        """The membrane's and each projection's synaptic time constant, in ms."""
        params = self.params
        membrane = params.tau if self.model == "lif" else (
            params.cm / params.gl if params.gl > 0 else math.inf)
        return {"membrane": membrane, **{f"synapse {p.name}": p.tau for p in self.projections}}

    def describe(self) -> str:
        e, i = (g.size for g in self.groups)
        return f"{self.name.upper()} n={self.n} (E={e}, I={i}), p={self.p:.4g}, {self.method}"


def default_p(n: int) -> float:
    """0.02 at the tutorial's n = 4000, else 80 / n (80 synapses per neuron on average)."""
    return 0.02 if n == 4000 else 80.0 / n


# Neuron indices are int32 in every structure and spike monitor.
MAX_NEURONS = 2**31 - 1
# Bytes per synapse of a typical sparse run: pre and post ids, a weight, one structure.
_BYTES_PER_SYNAPSE = 24


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _check(n, seed, exc_fraction, p, method) -> float:
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


def _projections(seed, p, taue, taui, we, wi, ee, ei) -> tuple[Projection, ...]:
    # One independent, reproducible stream per projection, derived from the network seed.
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(4)]
    specs = [("E2E", "E", "E"), ("E2I", "E", "I"), ("I2E", "I", "E"), ("I2I", "I", "I")]
    out = []
    for (name, pre, post), s in zip(specs, seeds, strict=True):
        exc = pre == "E"
        out.append(
            Projection(
                name, pre, post, FixedProb(p, seed=s),
                tau=taue if exc else taui, weight=we if exc else wi, e_rev=ee if exc else ei,
            )
        )
    return tuple(out)


def coba(
    n: int = 4000,
    seed: int = 0,
    *,
    exc_fraction: float = 0.75,
    p: float | None = None,
    method: str = "exp_euler",
    params: LIFParams | None = None,
) -> NetworkSpec:
    """COBA (Vogels & Abbott 2005, the seed tutorial's network) with LIF neurons.

    Synaptic increments are 0.6 (from E) and 6.7 (from I), tau_exc = 5 ms,
    tau_inh = 10 ms, E_exc = 0 mV, E_inh = -80 mV; V0 ~ Normal(-60, 5) mV.

    >>> spec = coba(1000)
    >>> [g.size for g in spec.groups], round(spec.p, 3)
    ([750, 250], 0.08)
    """
    p = _check(n, seed, exc_fraction, p, method)
    rng = np.random.default_rng(seed)
    return NetworkSpec(
        name="coba",
        model="lif",
        params=params or LIFParams(),
        groups=_groups(n, exc_fraction),
        projections=_projections(seed, p, taue=5.0, taui=10.0, we=0.6, wi=6.7, ee=0.0, ei=-80.0),
        initial=_frozen(v=rng.normal(-60.0, 5.0, n)),
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
) -> NetworkSpec:
    """COBAHH (Brette et al. 2007 benchmark 3, Brian 2's COBAHH.py) with HH neurons.

    Units are mV, ms, nS, pF. we = 6 nS, wi = 67 nS, taue = 5 ms, taui = 10 ms,
    Ee = 0 mV, Ei = -80 mV; v0 = El + (5 randn - 5) mV, ge0 = (1.5 randn + 4) x 10 nS,
    gi0 = (12 randn + 20) x 10 nS; m, h, n start at 0 as in Brian's example.
    """
    p = _check(n, seed, exc_fraction, p, method)
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
        projections=_projections(seed, p, taue=5.0, taui=10.0, we=6.0, wi=67.0, ee=0.0, ei=-80.0),
        initial=_frozen(v=v0, m=np.zeros(n), h=np.zeros(n), n=np.zeros(n)),
        initial_g=initial_g,
        seed=seed,
        p=p,
        method=method,
    )


NETWORKS = {"coba": coba, "cobahh": cobahh}


def network(name: str, n: int = 4000, seed: int = 0, **kwargs) -> NetworkSpec:
    """Look a network up by name ('coba' or 'cobahh')."""
    if name not in NETWORKS:
        raise SynbenchError(f"unknown network {name!r}; choose from {', '.join(NETWORKS)}")
    return NETWORKS[name](n, seed, **kwargs)
