"""post_slice on CuPy: synapses in post-major order, each post neuron sums its own slice
(cuda/post_slice.cu)."""

import numpy as np

from ...core.registry import as_weight
from . import events_array, i64, index_array, kernel_data, launch, out_array, register


def prepare(conn, weight, dtype):
    post_slice, pre_ids, post_order = conn.require("post_slice", "pre_ids", "post_order")
    post_order = np.asarray(post_order)
    w = as_weight(weight, conn.n_syn, dtype)
    return kernel_data(conn, w[post_order] if w.ndim else w, dtype,
                       post_slice=index_array(post_slice, np.int64),
                       pre_by_post=index_array(np.asarray(pre_ids)[post_order]))


def update(data, g, events, decay):
    """g_k = g_k * decay + events[pre_k] * w_k, one thread per synapse (in place).

    Needs ``post_slice`` [n_post, 2] int64 and ``pre_by_post`` [n_syn] (the pre id of
    each synapse, post-major); ``g`` is [n_syn], post-major; weight shared or [n_syn]
    (post-major). O(n_syn) per step whatever the firing rate.
    """
    events = events_array(events, data)
    if data.n_syn:
        launch("post_slice.cu", "post_slice_update", data.n_syn, g, data.pre_by_post, data.w,
               data.w_stride, events, data.dtype.type(decay), i64(data.n_syn),
               dtype=data.dtype, events=events.dtype)
    return g




def conductance(data, g, out=None):
    """Each post neuron sums its own contiguous slice, one thread each: no atomics."""
    out = out_array(data, out)
    launch("post_slice.cu", "post_slice_conductance", data.n_post, out, g, data.post_slice,
           i64(data.n_post), dtype=data.dtype)
    return out


# In the network step one warp per post neuron updates its slice and sums it at once.
register("post_slice", prepare=prepare, update=update, conductance=conductance,
         reads="READ", cuda="post_slice.cu", functor="PostSlice",
         launches=("network_post_sums",),
         record=lambda data: {"slices": data.post_slice, "pre": data.pre_by_post})
