"""align_pre_dense on CuPy: state per pre neuron (kernel ``align_pre_update``,
cuda/align_pre.cu), summed onto post neurons by one cuBLAS gemv."""

import functools

from . import register, weight_matrix, weighted_column_sums
from .align_pre_csr import update


def conductance(data, state, out=None):
    """g_post = W^T state: one cuBLAS gemv over the weight matrix.

    Needs ``conn_mat`` (as ``weight_matrix``, zero off synapses). O(n_pre * n_post) per
    step whatever the firing rate.
    """
    return weighted_column_sums(data, data.weight_matrix, state, out)


def network_call(data, state, buf, spikes, decay):
    """The runner's per-step call for one projection: g_post = W^T state into ``buf``,
    after network_items advanced the state."""
    return functools.partial(conductance, data, state, buf)


register("align_pre_dense", prepare=weight_matrix, update=update, conductance=conductance,
         reads="READ", cuda="align_pre.cu", functor="AlignPre", launches=("network_items",),
         items=lambda data: data.n_pre, library=network_call)
