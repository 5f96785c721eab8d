"""NumPy backend: the strategies as array expressions or honest Python loops.

Vectorised where the strategy allows it (dense, event_dense, pre_ids, post_slice, csr);
a Python loop over spiking neurons or lists where the loop *is* the lesson (pre2syn,
pre2post, pre_slice), exactly as in the seed tutorial. ``dense`` is the reference every
other (strategy, backend) is checked against.

One module per strategy registers ``prepare``, ``init_state``, ``deliver`` and
``conductance`` (kernel API, ``synbench.core.registry.Entry``); ``events`` is a bool
spike array of the pre group or one float amplitude per pre neuron. ``deliver`` adds
into the state in place and returns it.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ...core import registry
from ...core.connect import available_memory
from ...core.connect.structures import weight_matrix as dense_weights
from ...core.registry import as_weight
from ...core.strategies import state_shape
from .. import import_strategies

free_memory = available_memory


def asarray(x):
    return np.asarray(x)


def to_numpy(x):
    return np.asarray(x)


def synchronize(x):
    """Wait until ``x`` is computed: NumPy computes eagerly, so nothing to wait for."""
    return x


def register(name, *, prepare, deliver, conductance, state_shape=None, step=None, **extras):
    """Register strategy ``name`` on NumPy, its kernels behind the checks of their
    arguments (``registry.checked_kernels``).

    ``init_state`` gives zeros of the strategy's state kind, or of ``state_shape(data)``
    where the strategy lays its state out otherwise; ``step`` defaults to
    ``state *= decay`` then ``deliver``.
    """
    if step is None:
        def step(data, state, spikes, decay):
            state *= decay
            return deliver(data, state, spikes)
    kind = registry.strategies.strategy(name).state
    return registry.register(
        name, "numpy", prepare=prepare, init_state=zeros(kind, state_shape),
        **registry.checked_kernels(kind, deliver, step, conductance, state_shape), **extras)


def zeros(state_kind: str, shape=None):
    """``init_state`` for a state held per matrix element, synapse, post or pre neuron
    (or of ``shape(data)``)."""
    def init_state(data):
        size = state_shape(state_kind, data) if shape is None else shape(data)
        return np.zeros(size, dtype=data.dtype)

    return init_state


def kernel_data(conn, weight, dtype, *names, **extra):
    """The structures ``names`` as arrays, the sizes and the weight (0-d or per synapse)."""
    values = conn.require(*names) if len(names) > 1 else (conn.require(*names),)
    return SimpleNamespace(
        n_pre=conn.n_pre, n_post=conn.n_post, n_syn=conn.n_syn,
        weight=as_weight(weight, conn.n_syn, dtype), dtype=np.dtype(dtype),
        **dict(zip(names, values, strict=True)), **extra,
    )


def weight_matrix(conn, weight, dtype):
    """``kernel_data`` with the (n_pre, n_post) weight matrix, zero where no synapse (the
    weights of a pair's several synapses, multapses, summed in its element)."""
    data = kernel_data(conn, weight, dtype, "pre_ids", "post_ids")
    data.weight_matrix = dense_weights(conn, data.weight, dtype)
    return data


def scatter_add(conn):
    """``add(g, targets, values)``: g[targets] += values, every target counted.

    A fancy-indexed ``g[targets] += values`` adds once per distinct target: where a
    pre neuron has several synapses onto one post neuron (multapses) it would drop all
    but one, so such a connectivity gets ``np.add.at``; others keep the faster form.
    """
    return np.add.at if conn.has_multapses else _fancy_add


def _fancy_add(g, targets, values):
    g[targets] += values


def post_is_state(data, g):
    """The conductance of a post-state strategy: the state itself."""
    return g


def scaled(w, events, pre):
    """The weights ``w`` of pre neuron(s) ``pre`` times their event amplitude.

    A bool spike is amplitude 1: ``w`` itself, without a multiplication per spike.
    """
    return w if events.dtype == np.bool_ else events[pre] * w


from .runner import Simulation  # noqa: E402

import_strategies(__name__, __path__)

__all__ = ["Simulation", "asarray", "free_memory", "register", "synchronize", "to_numpy"]
