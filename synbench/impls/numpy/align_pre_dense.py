"""align_pre_dense on NumPy: state per pre neuron, summed onto post neurons by BLAS gemv."""

import numpy as np

from . import register, weight_matrix
from .align_pre_csr import deliver


def conductance(data, state, out=None):
    """g_post = W^T state: one dense mat-vec (BLAS gemv) over the whole weight matrix.

    Needs ``conn_mat`` (as a weight matrix). Cost per step: O(n_pre * n_post), whatever
    the firing rate.
    """
    return np.matmul(state, data.weight_matrix, out=out)


register("align_pre_dense", prepare=weight_matrix, deliver=deliver, conductance=conductance)
