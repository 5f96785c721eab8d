"""pre_ids on Numba: per-synapse vectors, gathered and scatter-summed."""

from collections import namedtuple

from . import SIZES, _weight_at, jit, register, sizes, weights, zeroed

SynapseData = namedtuple("SynapseData", SIZES + ("pre_ids", "post_ids", "weight"))


def prepare(conn, weight, dtype):
    pre_ids, post_ids = conn.require("pre_ids", "post_ids")
    return SynapseData(*sizes(conn, dtype), pre_ids, post_ids, weights(conn, weight, dtype))


@jit
def conductance(data, g, out=None):
    """Scatter-sum of synapse conductances onto their post neurons, in canonical order."""
    out = zeroed(data, g, out)
    for k in range(data.n_syn):
        out[data.post_ids[k]] += g[k]
    return out


@jit
def deliver(data, g, events):
    """Every synapse gathers its pre neuron's event and adds its weight.

    Needs ``pre_ids`` and ``post_ids``. Cost per step: O(n_syn) for the gather,
    O(n_syn) scatter for the conductance. Parallel over synapses (the conductance's
    scatter is not: it would need atomics or a post-major order).
    """
    for k in range(data.n_syn):
        g[k] += events[data.pre_ids[k]] * _weight_at(data.weight, k)
    return g


@jit
def step(data, g, spikes, decay):
    """``deliver`` fused with the decay: one pass over the synapses instead of two."""
    for k in range(data.n_syn):
        g[k] = g[k] * decay + spikes[data.pre_ids[k]] * _weight_at(data.weight, k)
    return g


register("pre_ids", prepare=prepare, deliver=deliver, conductance=conductance, step=step)
