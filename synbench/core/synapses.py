"""Synapse models: the dynamics of a projection's synaptic state (DESIGN section 4b).

A synapse model knows nothing of the layout: it advances its variables elementwise,
whether they are held per matrix element, per synapse, per post or per pre neuron (the
strategy's state kind). A step of one projection is, in this order:

1. ``state = model.advance(state, model.factors(dt, method))``: every variable advances
   over dt from its start-of-step value;
2. ``state[model.input] = entry.deliver(data, state[model.input], events)``: this step's
   events (the weights of the spiking pre neurons, times their amplitude) are added;
3. ``g_post = entry.conductance(data, state[model.output])``: reduced to (n_post,).

``state`` is a tuple of arrays, one per name in ``model.variables``, each shaped like
the strategy's state (``entry.init_state(data)``).

>>> import numpy as np
>>> model = Exponential(tau=5.0)
>>> factors = model.factors(dt=0.1)
>>> model.advance((np.ones(3),), factors)[0]
array([0.98019867, 0.98019867, 0.98019867])
"""

from __future__ import annotations

from dataclasses import dataclass

from .integrators import decay_factor


class SynapseModel:
    """What every synapse model says about itself.

    ``variables``: the state's variable names; ``input``: the one events are added to;
    ``output``: the one that reaches the post neuron; ``linear``: whether the dynamics
    are linear in the input, so that state summed per post neuron (AlignPost) is exact.
    """

    variables: tuple[str, ...]
    input: str
    output: str
    linear: bool

    def factors(self, dt: float, method: str = "exp_euler") -> tuple[float, ...]:
        """The per-step constants of :meth:`advance` for step ``dt`` (ms)."""
        raise NotImplementedError

    def advance(self, state: tuple, factors: tuple) -> tuple:
        """The state one step later, without this step's events (elementwise)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Exponential(SynapseModel):
    """dg/dt = -g / tau; a spike adds w to g; g reaches the post neuron.

    Advanced by its exact propagator g <- g exp(-dt/tau) under exp_euler, or by the
    factor the network's integrator applies for the other methods.
    """

    tau: float
    variables = ("g",)
    input = "g"
    output = "g"
    linear = True

    def factors(self, dt, method="exp_euler"):
        return (decay_factor(self.tau, dt, method),)

    def advance(self, state, factors):
        (g,), (decay,) = state, factors
        return (g * decay,)
