"""bitmask on JAX: one bit per (pre, post) pair (GeNN's bitmask), state per post neuron,
event-driven with a bound."""

import jax.numpy as jnp
import numpy as np

from . import make_data, post_is_state, register, weight_at
from ._events import deliver_in_blocks, times_amplitude


def prepare(conn, weight, dtype, max_spikes=None):
    bitmask, pre_slice = conn.require("bitmask", "pre_slice")
    # One extra all-zero row (for the fill index n_pre). Of pre_slice only the row
    # starts: the canonical index of each row's first synapse.
    bits = np.concatenate([bitmask, np.zeros((1, bitmask.shape[1]), np.uint8)])
    row_start = np.append(pre_slice[:, 0], conn.n_syn).astype(np.int32)
    return make_data(conn, weight, dtype, {"bits": bits, "row_start": row_start}, max_spikes)


def unpacked(rows, n_post):
    """uint8 rows [K, ceil(n_post / 8)] as a bool mask [K, n_post]: post j is bit j % 8
    (least significant first) of byte j // 8."""
    shifts = jnp.arange(8, dtype=jnp.uint8)
    bits = (rows[:, :, None] >> shifts) & 1  # [K, bytes, 8]
    return bits.reshape(rows.shape[0], -1)[:, :n_post].astype(bool)


def add(data, g, ids, amplitudes=None):
    """Add the events of the pre neurons ``ids`` [K] (padded with n_pre) to g [n_post].

    The rows bits[ids] are unpacked to a mask [K, n_post]; each set bit takes its
    synapse's weight (per synapse: the row start plus the set bits before it in the
    row), and the K rows are summed onto g.
    """
    mask = unpacked(data.bits[ids], data.n_post)
    if data.weight.ndim == 0:
        w = data.weight
    else:
        ones = mask.astype(jnp.int32)
        before = jnp.cumsum(ones, axis=1) - ones  # set bits before each, in its row
        w = weight_at(data.weight, data.row_start[ids][:, None] + before)
    w = times_amplitude(jnp.where(mask, w, 0), ids, amplitudes)
    return g + w.sum(axis=0)


def deliver(data, g, events):
    """For each pre neuron with an event, add its weights onto the set bits of its row.

    Needs ``bitmask`` (as ``bits`` uint8 [n_pre + 1, ceil(n_post / 8)], the extra row
    empty) and the row starts of ``pre_slice`` (``row_start`` [n_pre + 1]); g [n_post];
    static ``max_spikes`` (K). The spiking ids are compacted K at a time. Cost per step:
    O(K * n_post) per block (every bit of K rows unpacked); nothing without spikes.
    """
    return deliver_in_blocks(add, data, g, events)


register("bitmask", prepare=prepare, deliver=deliver, conductance=post_is_state,
         add_events=add)
