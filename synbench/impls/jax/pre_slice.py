"""pre_slice on JAX: pre-major slices, state per post neuron, event-driven with a bound."""

import jax.numpy as jnp
import numpy as np
from jax import lax

from . import make_data, post_is_state, register, weight_at
from ._events import deliver_in_blocks, times_amplitude


def prepare(conn, weight, dtype, max_spikes=None):
    pre_slice, post_ids = conn.require("pre_slice", "post_ids")
    pre_slice = np.asarray(pre_slice, dtype=np.int64)
    counts = pre_slice[:, 1] - pre_slice[:, 0]
    # One extra row (for the fill index n_pre) with no synapse, and one extra synapse
    # (index n_syn) pointing at the dropped post index n_post.
    starts = np.append(pre_slice[:, 0], conn.n_syn).astype(np.int32)
    counts = np.append(counts, 0).astype(np.int32)
    return make_data(conn, weight, dtype, {
        "starts": starts, "counts": counts,
        "post_ids": np.append(post_ids, conn.n_post).astype(np.int32),
    }, max_spikes, max_fanout=max(int(counts.max(initial=0)), 1))


def add(data, g, ids, amplitudes=None):
    """Add the events of the pre neurons ``ids`` [K] (padded with n_pre) to g [n_post].

    Each id's slice start + [0, F) is gathered (entries past the slice end point at the
    dropped index) and scatter-added: g[post_ids[k]] += w_k.
    """
    offsets = lax.iota(jnp.int32, data.max_fanout)
    start, count = data.starts[ids][:, None], data.counts[ids][:, None]
    syn = jnp.where(offsets < count, start + offsets, data.n_syn)
    w = times_amplitude(weight_at(data.weight, syn), ids, amplitudes)
    return g.at[data.post_ids[syn]].add(w, mode="drop")


def deliver(data, g, events):
    """For each pre neuron with an event, add its weights over its slice of targets.

    Needs ``pre_slice`` and ``post_ids`` (as ``starts``, ``counts`` [n_pre + 1], the
    extra row empty, and ``post_ids`` [n_syn + 1], the extra entry n_post); g [n_post];
    static ``max_spikes`` (K) and ``max_fanout`` (F). The spiking ids are compacted K
    at a time, in order, so the sums are added in the order of the NumPy loop. Cost per
    step: O(K * F) per block; nothing without spikes.
    """
    return deliver_in_blocks(add, data, g, events)


register("pre_slice", prepare=prepare, deliver=deliver, conductance=post_is_state,
         add_events=add)
