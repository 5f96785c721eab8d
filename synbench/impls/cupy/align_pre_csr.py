"""align_pre_csr on CuPy: state per pre neuron (kernel ``align_pre_update``,
cuda/align_pre.cu), summed onto post neurons by cuSPARSE's SpMV (through ``cupyx``)."""

from . import events_array, i64, launch, out_array, register
from .csr import SpMV, prepare


def update(data, state, events, decay):
    """state = state * decay + events, one thread per pre neuron (in place); no weights.

    Needs only the sizes; ``state`` is [n_pre]. O(n_pre) per step whatever the firing
    rate.
    """
    events = events_array(events, data)
    launch("align_pre.cu", "align_pre_update", data.n_pre, state, events,
           data.dtype.type(decay), i64(data.n_pre), dtype=data.dtype, events=events.dtype)
    return state


def conductance(data, state, out=None):
    """g_post = W^T state: one SpMV with beta = 0.

    Needs ``csc`` (and ``post_order`` for per-synapse weights), as ``matrix_t``
    (``cupyx.scipy.sparse.csr_matrix`` [n_post, n_pre] holding the weights).
    O(n_post + n_syn) per step whatever the firing rate: every synapse, every step.
    """
    import cupyx.cusparse

    out = out_array(data, out)
    out.fill(0)  # so that beta = 0 never meets a stale NaN in ``out``
    if data.n_syn:
        cupyx.cusparse.spmv(data.matrix_t, state, y=out, alpha=1.0, beta=0.0)
    return out


def network_call(data, state, buf, spikes, decay):
    """The runner's per-step call for one projection: g_post = W^T state into ``buf``
    (zero from the start, and left so without synapses), after network_items advanced
    the state."""
    if data.n_syn == 0:
        return lambda: None
    return SpMV(data.matrix_t, state, buf, 0.0)


register("align_pre_csr", prepare=prepare, update=update, conductance=conductance,
         reads="READ", cuda="align_pre.cu", functor="AlignPre", launches=("network_items",),
         items=lambda data: data.n_pre, library=network_call)
