"""pre_ids on Numba, threaded: per-synapse vectors, gathered in parallel and summed per
post neuron through the post-major order."""

from collections import namedtuple

from numba import prange

from ..numba import zeroed
from ..numba.pre_ids import SynapseData
from ..numba.pre_ids import prepare as serial_prepare
from . import jit, register, weight_at

#: The serial data, and the post-major order that lets each post neuron sum its synapses.
ParallelSynapseData = namedtuple("ParallelSynapseData",
                                 SynapseData._fields + ("post_slice", "post_order"))
NEEDS = ("pre_ids", "post_ids", "post_slice", "post_order")


def prepare(conn, weight, dtype):
    post_slice, post_order = conn.require("post_slice", "post_order")
    return ParallelSynapseData(*serial_prepare(conn, weight, dtype), post_slice, post_order)


@jit
def conductance(data, g, out=None):
    """Sum of synapse conductances onto their post neurons, each post neuron summing its
    own synapses in increasing canonical index (the order of the serial scatter), found
    through the post-major order. Parallel over post neurons, no scatter."""
    out = zeroed(data, g, out)
    for j in prange(data.n_post):
        for m in range(data.post_slice[j, 0], data.post_slice[j, 1]):
            out[j] += g[data.post_order[m]]
    return out


@jit
def deliver(data, g, events):
    """Every synapse gathers its pre neuron's event and adds its weight.

    Needs ``pre_ids`` and ``post_ids``, and ``post_slice`` with ``post_order`` for the
    conductance. Cost per step: O(n_syn) for the gather and O(n_syn) for the
    conductance, both split over the threads. Parallel over synapses (each written by
    one thread), and over post neurons for the conductance.
    """
    for k in prange(data.n_syn):
        g[k] += events[data.pre_ids[k]] * weight_at(data.weight, k)
    return g


@jit
def step(data, g, spikes, decay):
    """``deliver`` fused with the decay: one parallel pass over the synapses."""
    for k in prange(data.n_syn):
        g[k] = g[k] * decay + spikes[data.pre_ids[k]] * weight_at(data.weight, k)
    return g


register("pre_ids", prepare=prepare, deliver=deliver, conductance=conductance, step=step,
         needs=NEEDS)
