"""pre2post on JAX: padded post lists (``ell``), state per post neuron."""

import numpy as np

from . import make_data, padded_rows, post_is_state, register, weight_at
from ._events import deliver_in_blocks, times_amplitude


def prepare(conn, weight, dtype, max_spikes=None):
    ell = np.asarray(conn.require("ell"))
    arrays = {"ell": ell}
    if np.ndim(weight):  # per-synapse weights laid out like ell (canonical order per row)
        arrays["ell_syn"] = padded_rows((ell != conn.n_post).sum(axis=1), conn.n_syn)
    return make_data(conn, weight, dtype, arrays, max_spikes)


def add(data, g, ids, amplitudes=None):
    """Add the events of the pre neurons ``ids`` [K] (padded with n_pre) to g [n_post]."""
    post = data.ell.at[ids].get(mode="fill", fill_value=data.n_post)
    if data.weight.ndim == 0:
        w = data.weight
    else:
        w = weight_at(data.weight, data.ell_syn.at[ids].get(mode="fill", fill_value=data.n_syn))
    return g.at[post].add(times_amplitude(w, ids, amplitudes), mode="drop")


def deliver(data, g, events):
    """For each pre neuron with an event, add its weights to its targets.

    Needs ``ell`` (the post lists padded with n_post to [n_pre, max fan-out]; with
    per-synapse weights ``ell_syn`` maps each entry to its synapse); g [n_post]. The
    spiking rows are compacted ``max_spikes`` (K) at a time; padding entries are
    dropped by the scatter. Cost per step: O(K * max fan-out) per block; nothing
    without spikes.
    """
    return deliver_in_blocks(add, data, g, events)


register("pre2post", prepare=prepare, deliver=deliver, conductance=post_is_state,
         needs=("ell",), add_events=add)
