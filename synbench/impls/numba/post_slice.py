"""post_slice on Numba: synapses in post-major order, summed slice by slice."""

from collections import namedtuple

from numba import prange

from . import SIZES, _weight_at, jit, register, sizes, weights, zeroed

PostSliceData = namedtuple("PostSliceData", SIZES + ("post_slice", "pre_by_post", "weight"))


def prepare(conn, weight, dtype):
    post_slice, pre_ids, post_order = conn.require("post_slice", "pre_ids", "post_order")
    w = weights(conn, weight, dtype)
    return PostSliceData(*sizes(conn, dtype), post_slice, pre_ids[post_order],
                         w[post_order] if w.size > 1 else w)


@jit
def conductance(data, g, out=None):
    """Each post neuron sums its own contiguous slice: no scatter."""
    out = zeroed(data, g, out)
    for j in prange(data.n_post):
        for k in range(data.post_slice[j, 0], data.post_slice[j, 1]):
            out[j] += g[k]
    return out


@jit
def deliver(data, g, events):
    """Every synapse (post-major order) gathers its pre neuron's event.

    Needs ``post_slice`` and ``pre_ids`` in post-major order (via ``post_order``). Cost
    per step: O(n_syn), whatever the firing rate; the conductance sums slices with no
    scatter. Parallel over synapses, and over post neurons for the conductance.
    """
    for k in prange(data.n_syn):
        g[k] += events[data.pre_by_post[k]] * _weight_at(data.weight, k)
    return g


@jit
def step(data, g, spikes, decay):
    """``deliver`` fused with the decay: one pass over the synapses instead of two."""
    for k in prange(data.n_syn):
        g[k] = g[k] * decay + spikes[data.pre_by_post[k]] * _weight_at(data.weight, k)
    return g


register("post_slice", prepare=prepare, deliver=deliver, conductance=conductance, step=step)
