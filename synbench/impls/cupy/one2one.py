"""one2one on CuPy: no index arrays, pre neuron i onto post neuron i alone (kernel
``one2one_update``, cuda/one2one.cu)."""

import functools

from . import events_array, i64, kernel_data, launch, post_is_state, register


def prepare(conn, weight, dtype):
    return kernel_data(conn, weight, dtype)


def update(data, g, events, decay):
    """g = g * decay + events * w, one thread per neuron (in place; synapse i is i -> i).

    Needs no structure (one-to-one connectivity); weight shared or [n]; ``g`` is [n].
    O(n) per step, whatever the firing rate.
    """
    events = events_array(events, data)
    launch("one2one.cu", "one2one_update", data.n_post, g, events, data.w, data.w_stride,
           data.dtype.type(decay), i64(data.n_post), dtype=data.dtype, events=events.dtype)
    return g


def network_call(data, g, buf, spikes, decay):
    """The runner's per-step call for one projection: the kernel on its state, decay
    included (a launch only, so a CUDA graph holds it)."""
    return functools.partial(update, data, g, spikes, decay)


register("one2one", prepare=prepare, update=update, conductance=post_is_state,
         reads="STATE", library=network_call)
