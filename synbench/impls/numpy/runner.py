"""A network stepped from Python, one array call at a time (the NumPy runner).

Written against an array namespace ``xp`` so that it reads as DESIGN section 3 reads:
neurons first, then each projection in order. The compiled runners (Numba, JAX, CuPy)
reproduce exactly this arithmetic, in this order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.neurons import NEVER_SPIKED, neuron_model


@dataclass
class _Projection:
    name: str
    pre: slice
    post: slice
    data: object
    state: object
    decay: float
    e_rev: float
    g_init: object  # decaying initial post conductance (COBAHH), or None


class Simulation:
    """The ``Simulation`` protocol of ``synbench.run`` for array libraries stepped from Python."""

    xp = np

    def __init__(self, spec, entry, conns, dt, dtype, chunk_steps):
        xp, self.dtype = self.xp, np.dtype(dtype)
        self.entry, self.step_index = entry, 0
        # The kernels without the checks of the public API: the runner built their inputs.
        self.step_kernel, self.conductance_kernel = (
            entry.extras["unchecked"] if entry is not None else (None, None))
        self.model = neuron_model(spec, dt, xp)
        # Copies: the runner writes into its state, and the spec must stay as it was.
        self.vars = {k: xp.asarray(np.array(v, dtype=self.dtype)) for k, v in spec.initial.items()}
        self.last_spike = xp.full(spec.n, NEVER_SPIKED, dtype=np.int32)
        self.i_syn = xp.zeros(spec.n, dtype=self.dtype)
        self.projections = []
        for p in spec.projections if entry is not None else ():
            data = entry.prepare(conns[p.name], p.weight, self.dtype)
            g_init = spec.initial_g.get(p.name)
            self.projections.append(_Projection(
                name=p.name, pre=spec.group(p.pre).slice, post=spec.group(p.post).slice,
                data=data, state=entry.init_state(data),
                decay=self.dtype.type(p.synapse.factors(dt, spec.method)[0]),
                e_rev=self.dtype.type(p.e_rev),
                g_init=None if g_init is None else xp.asarray(np.array(g_init, self.dtype)),
            ))

    def compile(self) -> None:
        """Nothing to compile: every call runs as it is."""

    def step(self):
        """One step of DESIGN section 3; returns the bool spike vector."""
        spiked = self.model.update(self.vars, self.i_syn, self.last_spike, self.step_index)
        self.i_syn[...] = 0
        v = self.vars["v"]
        for p in self.projections:
            p.state = self.step_kernel(p.data, p.state, spiked[p.pre], p.decay)
            g = self.conductance_kernel(p.data, p.state)
            if p.g_init is not None:
                p.g_init *= p.decay
                g = g + p.g_init
            self.i_syn[p.post] += g * (p.e_rev - v[p.post])
        self.step_index += 1
        return spiked

    def advance(self, n_steps):
        steps, ids = [], []
        # A diverging state is reported once, with its step range, by ``finite``; not as
        # a stream of NumPy overflow warnings from inside the integrator.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for _ in range(n_steps):
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
        """Copies of the state as NumPy arrays: 'v', 'i_syn' and 'g:<projection>'."""
        out = {k: self.to_numpy(v).copy() for k, v in self.vars.items()}
        out["i_syn"] = self.to_numpy(self.i_syn).copy()
        out["last_spike"] = self.to_numpy(self.last_spike).copy()
        for p in self.projections:
            g = self.entry.conductance(p.data, p.state)
            if p.g_init is not None:
                g = g + p.g_init
            out[f"g:{p.name}"] = self.to_numpy(g).copy()
        return out

    @staticmethod
    def to_numpy(x):
        return np.asarray(x)
