"""event_dense_post on JAX: the rows of W of the spiking pre neurons, event-driven with a bound."""

from . import post_is_state, register, weight_matrix
from ._events import deliver_in_blocks, times_amplitude


def add(data, g, ids, amplitudes=None):
    """Add the events of the pre neurons ``ids`` [K] (padded with n_pre) to g [n_post]:
    their rows of W are gathered (a padding id gathers a row of zeros) and summed."""
    rows = data.weight_matrix.at[ids].get(mode="fill", fill_value=0)
    return g + times_amplitude(rows, ids, amplitudes).sum(axis=0)


def deliver(data, g, events):
    """Add the weight rows of the pre neurons with an event (times their amplitude).

    Needs ``conn_mat`` (as ``weight_matrix`` [n_pre, n_post], zero where no synapse);
    g [n_post]; static ``max_spikes`` (K). The spiking ids are compacted K at a time.
    Cost per step: O(n_pre) for the compaction, then O(K * n_post) per block; no row is
    read without spikes.
    """
    return deliver_in_blocks(add, data, g, events)


register("event_dense_post", prepare=weight_matrix, deliver=deliver, conductance=post_is_state,
         add_events=add)
