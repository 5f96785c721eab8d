"""event_dense_post on CuPy: the rows of W of the pre neurons with an event, one thread
per post neuron (kernel ``event_dense_post_update``, cuda/event_dense_post.cu)."""

import functools

from . import events_array, i64, launch, post_is_state, register, weight_matrix


def update(data, g, events, decay):
    """g = g * decay, plus W[i, j] times its event for every pre neuron i with one (in
    place).

    Needs ``conn_mat`` (as ``weight_matrix`` [n_pre, n_post]); ``g`` is [n_post]. One
    thread per post neuron walks the events (each warp tests them once for its 32
    lanes), reading W on the rows with an event only: O(n_pre * n_post / 32) event
    tests and O(n_spikes * n_post) weights per step.
    """
    events = events_array(events, data)
    launch("event_dense_post.cu", "event_dense_post_update", data.n_post, g,
           data.weight_matrix, events, data.dtype.type(decay), i64(data.n_pre),
           i64(data.n_post), dtype=data.dtype, events=events.dtype)
    return g


def network_call(data, g, buf, spikes, decay):
    """The runner's per-step call for one projection: the kernel on its state, decay
    included (a launch: no allocation, no host round trip, so a CUDA graph holds it)."""
    return functools.partial(update, data, g, spikes, decay)


register("event_dense_post", prepare=weight_matrix, update=update, conductance=post_is_state,
         reads="STATE", library=network_call)
