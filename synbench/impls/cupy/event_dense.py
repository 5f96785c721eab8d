"""event_dense on CuPy: the rows of the pre neurons with an event (kernel
``event_dense_update``, cuda/event_dense.cu)."""

from . import ColumnSums, column_sums, events_array, i64, launch, register, weight_matrix


def update(data, g, events, decay):
    """g = g * decay, plus W's row times its event on the rows with one (in place).

    Needs ``conn_mat`` (as ``weight_matrix`` [n_pre, n_post]); ``g`` is [n_pre,
    n_post]. One thread per element, branching on its row's event: every element is
    still read and written, but W only on rows with an event. The conductance is a
    cuBLAS mat-vec.
    """
    events = events_array(events, data)
    launch("event_dense.cu", "event_dense_update", g.size, g, data.weight_matrix, events,
           data.dtype.type(decay), i64(data.n_pre), i64(data.n_post),
           dtype=data.dtype, events=events.dtype)
    return g




register("event_dense", prepare=weight_matrix, update=update,
         conductance=column_sums, reads="READ", cuda="event_dense.cu", functor="EventDense",
         launches=("network_items",), items=lambda data: data.n_pre * data.n_post,
         record=lambda data: {"matrix": data.weight_matrix}, library=ColumnSums)
