"""Synapse models and outputs: what a projection integrates (DESIGN sections 4 and 4b).

A synapse model knows nothing of the layout: it advances its variables elementwise,
whether they are held per matrix element, per synapse, per post or per pre neuron (the
strategy's state kind). One step of one projection is, in this order:

1. ``state = advance(state, factors)``: every variable advances over dt from its
   start-of-step value (``advance = model.advance(method, xp)``,
   ``factors = model.factors(dt, method)``);
2. this step's events are added to the ``model.input`` variable
   (``entry.deliver(data, state[i], spikes)``): the weights of the spiking pre neurons'
   synapses, or 1 per spike where the weights act at the output (``weight_at``);
3. the ``model.output`` variable is reduced to the (n_post,) conductance
   (``entry.conductance``) and reaches the post neuron through the projection's output:
   :class:`COBA` g (E - V), :class:`CUBA` g, :class:`MgBlock` (NMDA's), or, for
   :class:`Delta`, a jump of V at the next step.

``state`` is a tuple of arrays, one per name in ``model.variables``, each shaped like the
strategy's state. ``advance`` is a plain function of arithmetic only, so the same code
runs on NumPy, JAX and CuPy arrays and per element under ``numba.njit``.

Which state kinds hold a model exactly (:func:`exactness`): one state per matrix element
or synapse always; one per post neuron (AlignPost) only for models linear in their
input; one per pre neuron (AlignPre) for models driven by pre spikes alone.

>>> import numpy as np
>>> model = Exponential(tau=5.0)
>>> advance = model.advance()
>>> advance((np.ones(3),), model.factors(dt=0.1))[0]
array([0.98019867, 0.98019867, 0.98019867])
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields
from types import FunctionType

import numpy as np

from .errors import SynbenchError
from .integrators import decay_factor, odeint


def _positive(owner, **values) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not (
                math.isfinite(value) and value > 0):
            raise SynbenchError(f"{owner}: {name} must be a positive number (ms), not {value!r}")


def _scale(state, factors):
    """Every variable times its own factor (Exponential, Delta)."""
    (g,), (decay,) = state, factors
    return (g * decay,)


def _two_stage(state, factors):
    """The exact propagator of dg/dt = -g/tau_decay + h, dh/dt = -h/tau_rise."""
    (g, h), (decay_g, decay_h, rise_to_g) = state, factors
    return (g * decay_g + h * rise_to_g, h * decay_h)


def _integrated(state, factors):
    """Two variables advanced by the generated integrator's ``per_element`` step, bound
    as ``integrate``; ``factors`` are its loop invariants (``constants``)."""
    (g, x) = state
    return integrate(g, x, factors)  # noqa: F821 - bound by bind_integrator


@functools.cache
def bind_integrator(template, integrator):
    """A copy of ``template`` that calls ``integrator`` as ``integrate`` (for Numba, bind
    the compiled integrator instead)."""
    return FunctionType(template.__code__, dict(template.__globals__, integrate=integrator),
                        template.__name__, template.__defaults__)


class SynapseModel:
    """What every synapse model says about itself.

    ``variables``: the state's variable names; ``input``: the one events are added to;
    ``output``: the one that reaches the post neuron; ``linear``: whether the dynamics
    are linear in the input, so that state summed per post neuron (AlignPost) is exact;
    ``pre_driven``: whether only pre spikes drive it, so that state per pre neuron
    (AlignPre) is exact; ``weight_at``: "input" (a spike adds w) or "output" (a spike
    adds 1, and the post neuron sees the sum of w times the output variable: NMDA).
    """

    variables: tuple[str, ...] = ("g",)
    input: str = "g"
    output: str = "g"
    linear: bool = True
    pre_driven: bool = True
    weight_at: str = "input"
    #: Delta: the output is a jump of the post neuron's V, not a current.
    voltage_jump: bool = False

    @property
    def name(self) -> str:
        return type(self).__name__

    def factors(self, dt: float, method: str = "exp_euler") -> tuple[float, ...]:
        """The per-step constants ``advance`` takes for step ``dt`` (ms)."""
        raise NotImplementedError

    #: ``advance``'s code: a plain function ``(state, factors) -> state`` of arithmetic,
    #: which may call ``integrate``, the model's generated integrator (:meth:`integrator`).
    advance_template = staticmethod(_scale)

    def integrator(self, method: str = "exp_euler", xp=np):
        """The generated integrator ``advance`` calls, or None (exact propagators)."""
        return None

    def advance(self, method: str = "exp_euler", xp=np):
        """``advance(state, factors) -> state``: one step without this step's events,
        elementwise; the same function object for the same model class, method and xp."""
        integrator = self.integrator(method, xp)
        if integrator is None:
            return self.advance_template
        return bind_integrator(self.advance_template, integrator.per_element)

    def time_constants(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name.startswith("tau")}

    @property
    def single_decay(self) -> bool:
        """Whether a step is the state times one factor (Exponential, Delta), which the
        strategies' one-call ``step(data, state, spikes, decay)`` runs."""
        return self.advance_template is _scale

    @property
    def input_index(self) -> int:
        return self.variables.index(self.input)

    @property
    def output_index(self) -> int:
        return self.variables.index(self.output)

    def describe(self) -> str:
        params = ", ".join(f"{f.name}={getattr(self, f.name):g}" for f in fields(self))
        return f"{self.name}({params})"


@dataclass(frozen=True)
class Delta(SynapseModel):
    """No state: a spike makes the post neuron's V jump by w at the next step.

    The jumps arriving at step t are summed per post neuron and added at step t + 1,
    after V is integrated and before the threshold test; a refractory neuron discards
    them. Held as one variable, this step's jumps, reset every step.
    """

    variables = ("jump",)
    input = output = "jump"
    voltage_jump = True

    def factors(self, dt, method="exp_euler"):
        return (0.0,)


@dataclass(frozen=True)
class Exponential(SynapseModel):
    """dg/dt = -g / tau; a spike adds w to g; g reaches the post neuron.

    Advanced by its exact propagator g <- g exp(-dt/tau) under exp_euler, or by the
    factor the network's integrator applies for the other methods (as synbench always has).
    """

    tau: float = 5.0

    def __post_init__(self):
        _positive("Exponential", tau=self.tau)

    def factors(self, dt, method="exp_euler"):
        return (decay_factor(self.tau, dt, method),)


@dataclass(frozen=True)
class DualExponential(SynapseModel):
    """dg/dt = -g/tau_decay + h, dh/dt = -h/tau_rise; a spike adds w to h (no peak
    normalisation); g reaches the post neuron. Advanced by its exact propagator."""

    tau_decay: float = 10.0
    tau_rise: float = 1.0
    variables = ("g", "h")
    input = "h"

    def __post_init__(self):
        _positive(self.name, tau_decay=self.tau_decay, tau_rise=self.tau_rise)
        if self.tau_decay == self.tau_rise:
            raise SynbenchError(f"DualExponential needs tau_decay != tau_rise (both "
                                f"{self.tau_rise} ms); equal time constants are Alpha(tau)")

    advance_template = staticmethod(_two_stage)

    def factors(self, dt, method="exp_euler"):
        decay_g, decay_h = math.exp(-dt / self.tau_decay), math.exp(-dt / self.tau_rise)
        rise_to_g = (self.tau_decay * self.tau_rise / (self.tau_decay - self.tau_rise)
                     * (decay_g - decay_h))
        return (decay_g, decay_h, rise_to_g)



@dataclass(frozen=True)
class Alpha(SynapseModel):
    """DualExponential with tau_rise = tau_decay = tau; a spike adds w to h."""

    tau: float = 10.0
    variables = ("g", "h")
    input = "h"

    def __post_init__(self):
        _positive("Alpha", tau=self.tau)

    advance_template = staticmethod(_two_stage)

    def factors(self, dt, method="exp_euler"):
        decay = math.exp(-dt / self.tau)
        return (decay, decay, dt * decay)


def nmda_derivative(g, x, t, tau_decay, tau_rise, a):
    """NMDA's saturating kinetics: x is the transmitter, g the open fraction (<= 1)."""
    return -g / tau_decay + a * x * (1 - g), -x / tau_rise


@dataclass(frozen=True)
class NMDA(SynapseModel):
    """dg/dt = -g/tau_decay + a x (1 - g), dx/dt = -x/tau_rise; a spike adds 1 to x; the
    post neuron sees the sum over its synapses of w g, through MgBlock.

    Not linear in its input (g saturates at 1), so never summed per post neuron; driven
    by pre spikes alone, so one state per pre neuron is exact. Advanced by the network's
    integrator (``odeint``; exp_euler by default).
    """

    tau_decay: float = 100.0
    tau_rise: float = 2.0
    a: float = 0.5
    variables = ("g", "x")
    input = "x"
    linear = False
    weight_at = "output"

    def __post_init__(self):
        _positive("NMDA", tau_decay=self.tau_decay, tau_rise=self.tau_rise, a=self.a)

    def factors(self, dt, method="exp_euler"):
        """The integrator's loop invariants (t = 0: the kinetics do not depend on t)."""
        return tuple(float(c) for c in self.integrator(method).constants(
            0.0, float(dt), self.tau_decay, self.tau_rise, self.a))

    advance_template = staticmethod(_integrated)

    def integrator(self, method="exp_euler", xp=np):
        return odeint(nmda_derivative, method, xp, shared=("tau_decay", "tau_rise", "a"))


#: Synapse models by the name the CLI and ``coba(synapse=...)`` take.
MODELS = {"delta": Delta, "exponential": Exponential, "dual_exponential": DualExponential,
          "alpha": Alpha, "nmda": NMDA}


def model_name(model: SynapseModel) -> str:
    return next(k for k, v in MODELS.items() if isinstance(model, v))


# --- outputs: how the conductance enters the post neuron ---


@dataclass(frozen=True)
class COBA:
    """Conductance-based: I = g (E - V)."""

    e_rev: float

    def current(self, g, v, xp=np):
        return g * (self.e_rev - v)


@dataclass(frozen=True)
class CUBA:
    """Current-based: I = g."""

    def current(self, g, v, xp=np):
        return g


@dataclass(frozen=True)
class MgBlock:
    """NMDA's magnesium block: I = g (E - V) / (1 + [Mg] exp(-alpha V) / beta)."""

    e_rev: float = 0.0
    alpha: float = 0.062
    beta: float = 3.57
    mg: float = 1.2

    def current(self, g, v, xp=np):
        return g * (self.e_rev - v) / (1 + self.mg * xp.exp(-self.alpha * v) / self.beta)


@dataclass(frozen=True)
class VoltageJump:
    """Delta's output: the summed jumps move V at the next step (no current)."""

    def current(self, g, v, xp=np):
        raise SynbenchError("a voltage jump is not a current")


OUTPUTS = (COBA, CUBA, MgBlock, VoltageJump)


def check_pair(model, output) -> None:
    """Refuse a model and output that do not go together."""
    if not isinstance(model, SynapseModel):
        raise SynbenchError(f"synapse must be a synapse model such as Exponential(5.0) "
                            f"(one of {', '.join(MODELS)}), not {model!r}")
    if not isinstance(output, OUTPUTS):
        raise SynbenchError(f"output must be COBA(e_rev), CUBA(), MgBlock() or VoltageJump(), "
                            f"not {output!r}")
    if model.voltage_jump != isinstance(output, VoltageJump):
        raise SynbenchError("a Delta synapse acts through VoltageJump(), and VoltageJump() "
                            f"only through Delta; not {model.name} with {type(output).__name__}")


# --- which state kinds hold a model exactly ---


def exactness(state_kind: str, model: SynapseModel) -> str | None:
    """None when a state held per ``state_kind`` computes ``model`` exactly, else why not."""
    if state_kind == "post" and not model.linear:
        return (f"{model.name} is not linear in its input, so its state cannot be summed per "
                "post neuron (AlignPost)")
    if state_kind == "pre" and not model.pre_driven:
        return (f"{model.name} is not driven by pre spikes alone, so its state cannot be "
                "held per pre neuron (AlignPre)")
    return None


def weights_at_output(state_kind: str, model: SynapseModel) -> bool:
    """Whether a strategy of ``state_kind`` delivers unit events and weighs the output.

    NMDA's events add 1 to x and the post neuron sees sum_k w_k g_k, so a state per
    matrix element or synapse takes unit events and is weighed when reduced. A state per
    pre neuron always is (its conductance is W^T state); a state per post neuron can only
    take weighted events (which is why NMDA on it is inexact).
    """
    return model.weight_at == "output" and state_kind in ("matrix", "synapse")
