"""align_pre_csr on JAX: state per pre neuron, a gather and a sorted segment sum onto posts."""

import jax
import numpy as np

from ...core.registry import as_weight
from . import make_data, register


def prepare(conn, weight, dtype, max_spikes=None):
    (indptr, pre_by_post), post_order = conn.require("csc", "post_order")
    # The CSC of W is the CSR of W^T: synapses in post-major order, pre ids ascending.
    post_of_synapse = np.repeat(np.arange(conn.n_post), np.diff(indptr))
    arrays = {"pre_by_post": np.asarray(pre_by_post, np.int32),
              "post_of_synapse": post_of_synapse.astype(np.int32)}
    w = as_weight(weight, conn.n_syn, dtype)
    if w.ndim:
        arrays["weight"] = w[post_order]
    return make_data(conn, weight, dtype, arrays, max_spikes)


def deliver(data, state, events):
    """Add each pre neuron's event (a spike counts 1) to its own state; no weights.

    Needs only the sizes; state [n_pre]. Cost per step: O(n_pre), whatever the firing
    rate.
    """
    return state + events


def conductance(data, state):
    """g_post = W^T state: every synapse (post-major order) gathers its pre neuron's
    state times its weight, then a sorted segment sum per post neuron.

    Needs ``csc`` and ``post_order``, as ``pre_by_post`` and ``post_of_synapse`` [n_syn]
    (post-major); weight a scalar or [n_syn] in post-major order. Cost per step:
    O(n_post + n_syn), whatever the firing rate: every synapse, every step.
    """
    return jax.ops.segment_sum(data.weight * state[data.pre_by_post], data.post_of_synapse,
                               num_segments=data.n_post, indices_are_sorted=True)


register("align_pre_csr", prepare=prepare, deliver=deliver, conductance=conductance)
