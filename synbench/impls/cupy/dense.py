"""dense on CuPy: every matrix element, every step (kernel ``dense_update``, cuda/dense.cu)."""

from . import ColumnSums, column_sums, events_array, i64, launch, register, weight_matrix


def update(data, g, events, decay):
    """g = g * decay + events[:, None] * W, one thread per element (in place).

    Needs ``conn_mat`` (as ``weight_matrix`` [n_pre, n_post], zero off synapses); ``g``
    is [n_pre, n_post]. O(n_pre n_post) per step whatever the firing rate; the
    conductance g_post_j = sum_i g_ij is a cuBLAS mat-vec with a vector of ones.
    """
    events = events_array(events, data)
    launch("dense.cu", "dense_update", g.size, g, data.weight_matrix, events,
           data.dtype.type(decay), i64(data.n_pre), i64(data.n_post),
           dtype=data.dtype, events=events.dtype)
    return g




register("dense", prepare=weight_matrix, update=update, conductance=column_sums,
         reads="READ", cuda="dense.cu", functor="Dense", launches=("network_items",),
         items=lambda data: data.n_pre * data.n_post,
         record=lambda data: {"matrix": data.weight_matrix}, library=ColumnSums)
