"""all2all on CuPy: no index arrays, every pre neuron onto every post neuron (kernels
``all2all_total`` and ``all2all_update``, cuda/all2all.cu)."""

import functools

import cupy
import numpy as np

from ...core.registry import one_weight
from ...core.strategies import without_self_connections
from . import BLOCK, events_array, i64, kernel, kernel_data, launch, post_is_state, register


def prepare(conn, weight, dtype):
    data = kernel_data(conn, weight, dtype, total=cupy.zeros(1, dtype=dtype))
    data.weight = one_weight(weight, conn.n_syn, dtype)[()]
    data.self_excluded = np.int32(without_self_connections(conn))
    return data


def update(data, g, events, decay):
    """g = g * decay + w * (the sum of the events, less post neuron j's own pre event
    where self-connections are left out) (in place).

    Needs no structure (all-to-all connectivity, one weight); ``total`` [1] is scratch
    for the sum; ``g`` is [n_post]. One block sums the events, then one thread per post
    neuron adds: O(n_pre + n_post) per step, whatever the number of synapses.
    """
    events = events_array(events, data)
    kernel("all2all_total", data.dtype, "all2all.cu", events.dtype)(
        (1,), (BLOCK,), (events, i64(data.n_pre), data.total))
    launch("all2all.cu", "all2all_update", data.n_post, g, events, data.total, data.weight,
           data.dtype.type(decay), i64(data.n_post), data.self_excluded,
           dtype=data.dtype, events=events.dtype)
    return g


def network_call(data, g, buf, spikes, decay):
    """The runner's per-step call for one projection: both kernels on its state, decay
    included (launches only, so a CUDA graph holds them)."""
    return functools.partial(update, data, g, spikes, decay)


register("all2all", prepare=prepare, update=update, conductance=post_is_state,
         reads="STATE", library=network_call)
