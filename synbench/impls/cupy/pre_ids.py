"""pre_ids on CuPy: per-synapse vectors, every synapse every step (cuda/pre_ids.cu)."""

from . import events_array, i64, index_array, kernel_data, launch, out_array, register


def prepare(conn, weight, dtype):
    pre_ids, post_ids = conn.require("pre_ids", "post_ids")
    return kernel_data(conn, weight, dtype, pre_ids=index_array(pre_ids),
                       post_ids=index_array(post_ids))


def update(data, g, events, decay):
    """g = g * decay + events[pre_ids] * w, one thread per synapse (in place).

    Needs ``pre_ids`` (and ``post_ids`` for the conductance) [n_syn] int32; ``g`` is
    [n_syn], canonical order; weight shared or [n_syn]. O(n_syn) per step whatever the
    firing rate.
    """
    events = events_array(events, data)
    if data.n_syn:
        launch("pre_ids.cu", "pre_ids_update", data.n_syn, g, data.pre_ids, data.w,
               data.w_stride, events, data.dtype.type(decay), i64(data.n_syn),
               dtype=data.dtype, events=events.dtype)
    return g




def conductance(data, g, out=None):
    """Scatter-add of every synapse onto its post neuron: one thread each, atomic."""
    out = out_array(data, out)
    out.fill(0)
    if data.n_syn:
        launch("pre_ids.cu", "pre_ids_conductance", data.n_syn, out, g, data.post_ids,
               i64(data.n_syn), dtype=data.dtype)
    return out


# In the network step each synapse's thread also adds it onto its post neuron's buffer.
register("pre_ids", prepare=prepare, update=update, conductance=conductance,
         reads="READ_CLEAR", cuda="pre_ids.cu", functor="PreIds", launches=("network_items",),
         items=lambda data: data.n_syn,
         record=lambda data: {"pre": data.pre_ids, "post": data.post_ids})
