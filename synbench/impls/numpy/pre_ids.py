"""pre_ids on NumPy: per-synapse vectors, gathered and scatter-summed."""

import numpy as np

from . import kernel_data, register


def prepare(conn, weight, dtype):
    return kernel_data(conn, weight, dtype, "pre_ids", "post_ids")


def conductance(data, g):
    """Scatter-sum of the synapses onto their post neurons (np.bincount)."""
    return np.bincount(data.post_ids, weights=g, minlength=data.n_post).astype(
        data.dtype, copy=False)


def deliver(data, g, events):
    """Every synapse gathers its pre neuron's event and adds its weight.

    Needs ``pre_ids`` and ``post_ids``. Cost per step: O(n_syn) for the gather and,
    in the conductance, the scatter-sum onto post neurons. Vectorised.
    """
    g += events[data.pre_ids] * data.weight
    return g


register("pre_ids", prepare=prepare, deliver=deliver, conductance=conductance)
