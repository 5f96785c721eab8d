"""pre_slice on NumPy: pre-major slices, state per post neuron."""

import numpy as np

from . import kernel_data, post_is_state, register, scaled, scatter_add


def prepare(conn, weight, dtype):
    return kernel_data(conn, weight, dtype, "pre_slice", "post_ids", add=scatter_add(conn))


def deliver(data, g, events):
    """For each pre neuron with an event, add its weights over its slice of targets.

    Needs ``pre_slice`` and ``post_ids``. Cost per step: one Python iteration per spike
    over its contiguous slice. A target in the slice twice (multapses) gets both
    weights: ``data.add`` is ``np.add.at`` then.
    """
    for pre in np.flatnonzero(events):
        start, end = data.pre_slice[pre]
        w = data.weight if data.weight.ndim == 0 else data.weight[start:end]
        data.add(g, data.post_ids[start:end], scaled(w, events, pre))
    return g


register("pre_slice", prepare=prepare, deliver=deliver, conductance=post_is_state)
