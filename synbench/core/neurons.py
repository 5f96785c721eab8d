"""The two neuron models of the benchmark networks (DESIGN section 3), backend-neutral.

Each model is defined once:

- its derivative, a plain function ``f(state..., t, params...)`` that ``odeint`` turns
  into a one-step integrator for any method and array namespace;
- its parameters, a frozen dataclass with the published defaults;
- one functional population update written with ``xp`` operations (``xp.where``, no
  in-place writes), which the NumPy, CuPy and JAX runners call once per step and which
  the compiled runners reproduce neuron by neuron.

Time is counted in integer steps: a neuron that spiked at step ``s`` is refractory at
step ``k`` while ``k - s <= ref_steps(dt)``, so no float comparison decides a spike.

>>> import numpy as np
>>> from synbench.core.neurons import LIF, LIFParams, NEVER_SPIKED, lif_update
>>> p, dt = LIFParams(), 0.1
>>> vstep = LIF.integrator("exp_euler")
>>> v, spiked, last = lif_update(np.array([-50.02, -60.0]), np.zeros(2),
...                              np.full(2, NEVER_SPIKED, np.int32), 0, dt, p, vstep)
>>> spiked.tolist(), v.tolist(), last.tolist()
([True, False], [-60.0, -59.90024958385364], [0, -1073741824])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from .errors import SynbenchError
from .integrators import exp, odeint

__all__ = [
    "NEVER_SPIKED", "LIFParams", "HHParams", "NeuronModel", "Neurons", "LIF", "HH", "MODELS",
    "lif_derivative", "lif_update", "hh_rates", "hh_derivative", "hh_update", "neuron_model",
]

#: Initial ``last_spike`` step: so far in the past that no neuron starts refractory,
#: yet ``step - NEVER_SPIKED`` fits in int32 for the first 2**30 steps (29 h at 0.1 ms).
NEVER_SPIKED = -(2**30)


def _check_dt(dt) -> float:
    if isinstance(dt, bool) or not isinstance(dt, (int, float, np.number)) \
            or not math.isfinite(dt) or dt <= 0:
        raise SynbenchError(f"dt must be a positive, finite time step in ms, not {dt!r}")
    return float(dt)


def _check_fields(params, positive=(), non_negative=()):
    for f in fields(params):
        value = getattr(params, f.name)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not math.isfinite(value):
            raise SynbenchError(f"{type(params).__name__}.{f.name} must be a finite number, "
                                f"not {value!r}")
    for name in positive:
        if getattr(params, name) <= 0:
            raise SynbenchError(f"{type(params).__name__}.{name} must be positive, "
                                f"not {getattr(params, name)!r}")
    for name in non_negative:
        if getattr(params, name) < 0:
            raise SynbenchError(f"{type(params).__name__}.{name} must be >= 0, "
                                f"not {getattr(params, name)!r}")


class _Refractory:
    """Shared by both parameter classes: the refractory period in whole steps."""

    t_ref: float

    def ref_steps(self, dt: float) -> int:
        """``round(t_ref / dt)``: refractory while ``step - last_spike <= ref_steps``."""
        return round(self.t_ref / _check_dt(dt))


# --- LIF (COBA) ---


@dataclass(frozen=True)
class LIFParams(_Refractory):
    """Leaky integrate-and-fire parameters of COBA (Vogels & Abbott 2005), in ms and mV.

    ``tau dV/dt = (el - V) + i_bg + I_syn``; spike at ``V >= v_th``, then ``V = v_reset``
    held for ``t_ref``.
    """

    tau: float = 20.0
    v_th: float = -50.0
    v_reset: float = -60.0
    el: float = -60.0
    t_ref: float = 5.0
    i_bg: float = 20.0

    def __post_init__(self):
        _check_fields(self, positive=("tau",), non_negative=("t_ref",))


def lif_derivative(v, t, tau, el, i_bg, i_syn):
    """dV/dt of the LIF neuron (mV/ms); ``i_syn`` is in mV, like ``i_bg``."""
    return ((el - v) + i_bg + i_syn) / tau


def lif_update(v, i_syn, last_spike, step, dt, params: LIFParams, vstep, xp=np, jump=None):
    """One step of a LIF population (DESIGN section 3, step 1), as a pure function.

    Parameters
    ----------
    v, i_syn : arrays (n,)
        Membrane potential and the synaptic input accumulated in the previous step.
    last_spike : int array (n,)
        Step of each neuron's last spike (``NEVER_SPIKED`` at first).
    step : int
        Index of this step; ``t = step * dt``.
    dt : float
        Time step (ms).
    params : LIFParams
    vstep : function
        ``LIF.integrator(method, xp)``.
    xp : module
        Array namespace of the arrays.
    jump : array (n,), optional
        Delta synapses' voltage jumps of the previous step, added to the integrated V
        before the threshold test (a refractory neuron discards them).

    Returns
    -------
    v, spiked, last_spike : new arrays
        Refractory neurons keep V and cannot spike; the others integrate V with I_syn
        and spike where ``V >= v_th``, which resets V and records ``step``.
    """
    p = params
    refractory = (step - last_spike) <= p.ref_steps(dt)
    # Back to v's dtype: NumPy functions of Python-float parameters return float64
    # scalars, which would promote a float32 state (Numba per neuron also computes in
    # float64 and stores float32, so both compare the same stored value).
    v_int = xp.asarray(vstep(v, step * dt, dt, p.tau, p.el, p.i_bg, i_syn), dtype=v.dtype)
    if jump is not None:
        v_int = v_int + jump
    spiked = ~refractory & (v_int >= p.v_th)
    v_new = xp.where(refractory, v, xp.where(spiked, p.v_reset, v_int))
    last_new = xp.where(spiked, xp.asarray(step, dtype=last_spike.dtype), last_spike)
    return v_new, spiked, last_new


# --- HH (COBAHH) ---


@dataclass(frozen=True)
class HHParams(_Refractory):
    """Hodgkin-Huxley (Traub-Miles) parameters of COBAHH, in mV, ms, nS and pF.

    Brette et al. 2007 benchmark 3 / Brian 2's COBAHH.py for a 20000 um^2 membrane:
    Cm 1 uF/cm^2 -> 200 pF, gl 5e-5 S/cm^2 -> 10 nS, g_na 100 mS/cm^2 -> 20000 nS,
    g_kd 30 mS/cm^2 -> 6000 nS. With these units pA / pF = mV / ms.
    A spike is V crossing ``v_th`` upward outside the refractory period ``t_ref``.
    """

    cm: float = 200.0
    gl: float = 10.0
    el: float = -60.0
    ek: float = -90.0
    ena: float = 50.0
    g_na: float = 20000.0
    g_kd: float = 6000.0
    vt: float = -63.0
    v_th: float = -20.0
    t_ref: float = 3.0

    def __post_init__(self):
        _check_fields(self, positive=("cm",), non_negative=("gl", "g_na", "g_kd", "t_ref"))


def hh_rates(v, vt):
    """Traub-Miles opening/closing rates (1/ms) at V (mV), as in Brian's COBAHH.py.

    Returns (alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n). Brian writes the
    x / (exp(x) - 1) forms with ``exprel``; written out as here they are 0/0 only when
    V equals the singular point exactly (e.g. V = VT + 13 mV for alpha_m), which a
    float trajectory does not hit in practice.
    """
    alpha_m = 0.32 * (13 - v + vt) / (exp((13 - v + vt) / 4) - 1)
    beta_m = 0.28 * (v - vt - 40) / (exp((v - vt - 40) / 5) - 1)
    alpha_h = 0.128 * exp((17 - v + vt) / 18)
    beta_h = 4 / (1 + exp((40 - v + vt) / 5))
    alpha_n = 0.032 * (15 - v + vt) / (exp((15 - v + vt) / 5) - 1)
    beta_n = 0.5 * exp((10 - v + vt) / 40)
    return alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n


def hh_derivative(v, m, h, n, t, i_syn, cm, gl, el, ek, ena, g_na, g_kd, vt):
    """(dV/dt, dm/dt, dh/dt, dn/dt) of the HH neuron; ``i_syn`` in pA.

    The synaptic current enters as a parameter (computed from the previous step's
    conductances, DESIGN section 3), so exp_euler treats it as constant over the step.
    """
    alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n = hh_rates(v, vt)
    dv = (gl * (el - v) - g_na * m**3 * h * (v - ena) - g_kd * n**4 * (v - ek) + i_syn) / cm
    dm = alpha_m * (1 - m) - beta_m * m
    dh = alpha_h * (1 - h) - beta_h * h
    dn = alpha_n * (1 - n) - beta_n * n
    return dv, dm, dh, dn


def hh_update(v, m, h, n, i_syn, last_spike, step, dt, params: HHParams, hstep, xp=np):
    """One step of an HH population, as a pure function.

    Every neuron integrates (V is not held while refractory: Brian's COBAHH has no
    ``unless refractory``). A neuron spikes where V crosses ``v_th`` upward in this
    step (``v < v_th <= v_new``) and it is not refractory. Brian's own threshold
    ``v > -20 mV`` outside the refractory period gives the same spikes as long as the
    action potential falls back below -20 mV within ``t_ref``.

    Parameters are those of :func:`lif_update`, with the gates ``m, h, n`` and
    ``hstep = HH.integrator(method, xp)``. Returns ``(v, m, h, n, spiked, last_spike)``.
    """
    p = params
    refractory = (step - last_spike) <= p.ref_steps(dt)
    out = hstep(v, m, h, n, step * dt, dt, i_syn, p.cm, p.gl, p.el, p.ek, p.ena, p.g_na,
                p.g_kd, p.vt)
    # Each variable back to its own dtype (see lif_update).
    v_new, m_new, h_new, n_new = (xp.asarray(new, dtype=old.dtype)
                                  for new, old in zip(out, (v, m, h, n), strict=True))
    spiked = ~refractory & (v < p.v_th) & (v_new >= p.v_th)
    last_new = xp.where(spiked, xp.asarray(step, dtype=last_spike.dtype), last_spike)
    return v_new, m_new, h_new, n_new, spiked, last_new


# --- models, and a model bound to a run ---


@dataclass(frozen=True)
class NeuronModel:
    """A neuron model: its state variables, derivative, parameter class and update.

    ``update(*state, i_syn, last_spike, step, dt, params, integrator, xp)`` returns
    ``(*new_state, spiked, last_spike)``. ``inputs``: the derivative's parameters that
    differ from neuron to neuron (the synaptic input); the others are the same for the
    whole population, so the integrator computes what depends only on them once per step.
    """

    name: str
    variables: tuple[str, ...]
    derivative: Callable
    params_type: type
    update: Callable
    inputs: tuple[str, ...] = ("i_syn",)

    def integrator(self, method: str = "exp_euler", xp=np):
        """The generated one-step integrator of the derivative (see ``odeint``), its loop
        invariants in ``integrator.constants`` (``shared``: every parameter but the inputs)."""
        return odeint(self.derivative, method, xp, shared=self.shared)

    @property
    def shared(self) -> tuple[str, ...]:
        """The derivative's parameters that are the same for every neuron, in its order."""
        return tuple(p for p in odeint(self.derivative).parameters if p not in self.inputs)


LIF = NeuronModel("lif", ("v",), lif_derivative, LIFParams, lif_update)
HH = NeuronModel("hh", ("v", "m", "h", "n"), hh_derivative, HHParams, hh_update)
MODELS = {"lif": LIF, "hh": HH}


class Neurons:
    """A model bound to its parameters, dt, method and array namespace: what runners step.

    ``step`` is functional (for JAX); ``update`` writes the results into the given
    arrays (for NumPy and CuPy runners, which hold on to their arrays).
    """

    def __init__(self, model: NeuronModel, params, dt: float, method: str = "exp_euler",
                 xp=np):
        if not isinstance(params, model.params_type):
            raise SynbenchError(f"the {model.name} model needs {model.params_type.__name__}, "
                                f"not {type(params).__name__}")
        self.model, self.params, self.method, self.xp = model, params, method, xp
        self.dt = _check_dt(dt)
        self.ref_steps = params.ref_steps(self.dt)
        self.integrator = model.integrator(method, xp)

    def step(self, vars, i_syn, last_spike, step, jump=None):
        """``(vars, last_spike, spiked)`` after one step; ``vars`` maps names to arrays;
        ``jump``: Delta synapses' voltage jumps (LIF only)."""
        kw = {} if jump is None else {"jump": jump}
        out = self.model.update(*(vars[k] for k in self.model.variables), i_syn, last_spike,
                                step, self.dt, self.params, self.integrator, self.xp, **kw)
        *state, spiked, last_new = out
        return dict(zip(self.model.variables, state, strict=True)), last_new, spiked

    def update(self, vars, i_syn, last_spike, step, jump=None):
        """One step written into ``vars``' arrays and ``last_spike``; returns ``spiked``."""
        new, last_new, spiked = self.step(vars, i_syn, last_spike, step, jump)
        for k, value in new.items():
            vars[k][...] = value
        last_spike[...] = last_new
        return spiked


def neuron_model(spec, dt: float, xp=np) -> Neurons:
    """The :class:`Neurons` of a network spec (its ``model``, ``params`` and ``method``)."""
    if spec.model not in MODELS:
        raise SynbenchError(f"unknown neuron model {spec.model!r}; choose from "
                            f"{', '.join(MODELS)}")
    return Neurons(MODELS[spec.model], spec.params, dt, spec.method, xp)
