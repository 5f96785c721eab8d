"""post_slice on NumPy: synapses in post-major order, summed slice by slice."""

import numpy as np

from . import kernel_data, register


def prepare(conn, weight, dtype):
    data = kernel_data(conn, weight, dtype, "post_slice", "pre_ids", "post_order")
    data.pre_by_post = data.pre_ids[data.post_order]
    if data.weight.ndim:
        data.weight = data.weight[data.post_order]
    nonempty = data.post_slice[:, 1] > data.post_slice[:, 0]
    data.nonempty, data.starts = nonempty, data.post_slice[nonempty, 0]
    return data


def conductance(data, g):
    """Every post neuron sums its own contiguous slice (np.add.reduceat, no scatter)."""
    out = np.zeros(data.n_post, dtype=data.dtype)
    if data.starts.size:
        # Segments run from one non-empty start to the next: exactly each post's slice.
        out[data.nonempty] = np.add.reduceat(g, data.starts)
    return out


def deliver(data, g, events):
    """Every synapse (post-major order) gathers its pre neuron's event.

    Needs ``post_slice`` and ``pre_ids`` in post-major order (via ``post_order``).
    Cost per step: O(n_syn) gather, then O(n_syn) segment sums. Vectorised.
    """
    g += events[data.pre_by_post] * data.weight
    return g


register("post_slice", prepare=prepare, deliver=deliver, conductance=conductance)
