"""pre_ids on JAX: per-synapse vectors (the seed's SynVecJax), gathered and scatter-summed."""

import jax

from . import make_data, register, weighted


def prepare(conn, weight, dtype, max_spikes=None):
    pre_ids, post_ids = conn.require("pre_ids", "post_ids")
    return make_data(conn, weight, dtype, {"pre_ids": pre_ids, "post_ids": post_ids},
                     max_spikes)


def conductance(data, g):
    """segment_sum of the synapses onto their post neurons: a scatter-add (parallel over
    synapses, atomic on the targets)."""
    return jax.ops.segment_sum(g, data.post_ids, num_segments=data.n_post)


def deliver(data, g, events):
    """Every synapse gathers its pre neuron's event and adds its weight.

    Needs ``pre_ids`` and ``post_ids`` [n_syn]; g [n_syn] (canonical order); weight a
    scalar or [n_syn]. Cost per step: O(n_syn) for the gather, and the scatter-sum in
    the conductance.
    """
    return g + weighted(events[data.pre_ids], data.weight)


register("pre_ids", prepare=prepare, deliver=deliver, conductance=conductance)
