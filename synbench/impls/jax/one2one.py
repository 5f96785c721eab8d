"""one2one on JAX: no index arrays, pre neuron i onto post neuron i alone."""

from . import make_data, post_is_state, register, weighted


def prepare(conn, weight, dtype, max_spikes=None):
    return make_data(conn, weight, dtype, {}, max_spikes)


def deliver(data, g, events):
    """g + events * w, elementwise (synapse i is i -> i; a spike adds exactly its weight).

    Needs no structure (one-to-one connectivity); g [n]; weight 0-d or [n]. Cost per
    step: O(n), whatever the firing rate.
    """
    return g + weighted(events, data.weight)


register("one2one", prepare=prepare, deliver=deliver, conductance=post_is_state)
