"""post_slice on JAX: synapses in post-major order, padded to a fixed width per post."""

import numpy as np

from ...core.registry import as_weight
from . import make_data, padded_rows, register, weighted


def prepare(conn, weight, dtype, max_spikes=None):
    post_slice, pre_ids, post_order = conn.require("post_slice", "pre_ids", "post_order")
    post_slice = np.asarray(post_slice, dtype=np.int64)
    # Synapse k of post j (post-major index post_slice[j, 0] + k) at row j, column k.
    slots = padded_rows(post_slice[:, 1] - post_slice[:, 0], conn.n_syn)
    pre_by_post = np.append(np.asarray(pre_ids)[post_order], conn.n_pre)
    w = as_weight(weight, conn.n_syn, dtype)
    arrays = {"pre_by_post": pre_by_post[slots].astype(np.int32)}
    if w.ndim:
        arrays["weight"] = np.append(w[post_order], 0)[slots].astype(dtype)
    return make_data(conn, weight, dtype, arrays, max_spikes, max_fanin=slots.shape[1])


def state_shape(data):
    """One state per synapse, laid out [n_post, max fan-in] (0 on padding)."""
    return data.n_post, data.max_fanin


def conductance(data, g):
    """Each post neuron reduces its own row: no scatter, no atomics."""
    return g.sum(axis=1)


def deliver(data, g, events):
    """Every synapse (post-major order) gathers its pre neuron's event.

    Needs ``post_slice``, ``pre_ids`` and ``post_order``, as ``pre_by_post``
    [n_post, max fan-in]: row j is post j's slice of pre ids, padded with n_pre (the
    fixed-shape form of the slices); weight a scalar or laid out the same (0 on
    padding). Cost per step: O(n_post * max fan-in).
    """
    fired = events.at[data.pre_by_post].get(mode="fill", fill_value=0)
    return g + weighted(fired, data.weight)


register("post_slice", prepare=prepare, state_shape=state_shape, deliver=deliver,
         conductance=conductance)
