"""pre_slice on Numba: pre-major slices, state per post neuron."""

from collections import namedtuple

from . import SIZES, _weight_at, jit, post_is_state, register, sizes, spiking, weights

PreSliceData = namedtuple("PreSliceData", SIZES + ("pre_slice", "post_ids", "weight"))


def prepare(conn, weight, dtype):
    pre_slice, post_ids = conn.require("pre_slice", "post_ids")
    return PreSliceData(*sizes(conn, dtype), pre_slice, post_ids, weights(conn, weight, dtype))


@jit
def deliver(data, g, events):
    """Each pre neuron with an event adds its weights over its slice of targets.

    Needs ``pre_slice`` and ``post_ids``. Cost per step: O(fan-out) per spike, over
    contiguous memory. Serial (two spikers may share a target).
    """
    for i in spiking(events):
        a = g.dtype.type(events[i])
        for k in range(data.pre_slice[i, 0], data.pre_slice[i, 1]):
            g[data.post_ids[k]] += a * _weight_at(data.weight, k)
    return g


register("pre_slice", prepare=prepare, deliver=deliver, conductance=post_is_state)
