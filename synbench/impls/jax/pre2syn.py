"""pre2syn on JAX: per-neuron synapse lists, padded; the spiking rows, block by block."""

from . import make_data, pad_lists, register, weight_at
from ._events import deliver_in_blocks, times_amplitude


def prepare(conn, weight, dtype, max_spikes=None):
    pre2syn, post2syn = conn.require("pre2syn", "post2syn")
    return make_data(conn, weight, dtype, {
        "pre2syn": pad_lists(pre2syn, conn.n_syn),
        "post2syn": pad_lists(post2syn, conn.n_syn),
    }, max_spikes)


def conductance(data, g):
    """Each post neuron sums its list of synapses (a gather, then a row sum: no scatter)."""
    return weight_at(g, data.post2syn).sum(axis=1)


def add(data, g, ids, amplitudes=None):
    """Add the events of the pre neurons ``ids`` [K] (padded with n_pre) to g [n_syn]."""
    syn = data.pre2syn.at[ids].get(mode="fill", fill_value=data.n_syn)
    return g.at[syn].add(times_amplitude(weight_at(data.weight, syn), ids, amplitudes),
                         mode="drop")


def deliver(data, g, events):
    """For each pre neuron with an event, add its weights to the synapses of its list.

    Needs ``pre2syn`` and ``post2syn``, padded with n_syn to [n_pre, max fan-out] and
    [n_post, max fan-in]; g [n_syn]. The spiking ids are compacted ``max_spikes`` (K)
    at a time and added block by block (:func:`add`). Cost per step: O(K * max fan-out)
    per block; nothing without spikes.
    """
    return deliver_in_blocks(add, data, g, events)


register("pre2syn", prepare=prepare, deliver=deliver, conductance=conductance,
         add_events=add)
