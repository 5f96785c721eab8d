"""csr on NumPy: scipy.sparse mat-vec with the transpose W^T stored once."""

import numpy as np

from . import kernel_data, post_is_state, register


def prepare(conn, weight, dtype):
    import scipy.sparse

    data = kernel_data(conn, weight, dtype, "csc", "post_order")
    indptr, pre_by_post = data.csc
    values = np.broadcast_to(data.weight, (conn.n_syn,))[data.post_order].astype(dtype)
    # The CSC of W is the CSR of W^T: the per-step product is a plain CSR mat-vec.
    data.matrix_t = scipy.sparse.csr_matrix((values, pre_by_post, indptr),
                                            shape=(conn.n_post, conn.n_pre))
    return data


def deliver(data, g, events):
    """g += W^T events (scipy.sparse).

    Needs ``csc`` (and ``post_order`` for per-synapse weights). Cost per step:
    O(n_syn) for the mat-vec, whatever the firing rate.
    """
    g += data.matrix_t @ events.astype(data.dtype)
    return g


register("csr", prepare=prepare, deliver=deliver, conductance=post_is_state)
