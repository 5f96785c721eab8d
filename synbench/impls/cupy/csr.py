"""csr on CuPy: the library's sparse mat-vec (cuSPARSE SpMV through ``cupyx``) with the
transpose W^T stored once."""

import cupy
import numpy as np

from ...core.registry import as_weight
from . import events_array, kernel_data, post_is_state, register, scale


def prepare(conn, weight, dtype):
    import cupyx.scipy.sparse
    import scipy.sparse

    indptr, pre_by_post = conn.require("csc")
    post_order = np.asarray(conn.require("post_order"))
    values = np.broadcast_to(as_weight(weight, conn.n_syn, dtype), (conn.n_syn,))[post_order]
    # The CSC of W is the CSR of W^T: the per-step product is a plain CSR mat-vec.
    matrix_t = scipy.sparse.csr_matrix((values, pre_by_post, indptr),
                                       shape=(conn.n_post, conn.n_pre))
    # Sorted, and the synapses of one pair (multapses, one column twice in a row) merged
    # into one entry holding their summed weight: W^T x is the same, and cuSPARSE gets
    # the canonical CSR it documents (no repeated column in a row).
    matrix_t.sum_duplicates()
    data = kernel_data(conn, 0.0, dtype)
    data.matrix_t = cupyx.scipy.sparse.csr_matrix(matrix_t)
    data.x = cupy.zeros(conn.n_pre, dtype=dtype)  # the events as floats
    return data


def update(data, g, events, decay):
    """g = W^T events + decay * g: one SpMV with beta = decay (in place).

    Needs ``csc`` (and ``post_order`` for per-synapse weights), as ``matrix_t``
    (``cupyx.scipy.sparse.csr_matrix`` [n_post, n_pre] holding the weights); ``x``
    [n_pre] is scratch for the events as floats; ``g`` is [n_post]. O(n_post + n_syn)
    per step whatever the firing rate.
    """
    import cupyx.cusparse

    if data.n_syn == 0:  # cuSPARSE's SpMV on an empty matrix would zero g
        return scale(g, decay)
    data.x[...] = events_array(events, data)
    return cupyx.cusparse.spmv(data.matrix_t, data.x, y=g, alpha=1.0, beta=float(decay))




class SpMV:
    """``y = A x + beta y`` by cuSPARSE, its descriptors and workspace made once.

    Nothing is allocated per call, so the call can be captured in a CUDA graph
    (``cupyx.cusparse.spmv`` allocates its workspace on every call). ``graph_safe`` is
    False when this CuPy lacks the internals used, and the call falls back to ``cupyx``.
    """

    def __init__(self, matrix, x, y, beta):
        import cupyx.cusparse

        self.args = (matrix, x, y, float(beta))
        self.graph_safe = False
        try:
            from cupy._core import _dtype
            from cupy_backends.cuda.libs import cusparse

            self.lib = cusparse
            self.descs = (cupyx.cusparse.SpMatDescriptor.create(matrix),
                          cupyx.cusparse.DnVecDescriptor.create(x),
                          cupyx.cusparse.DnVecDescriptor.create(y))
            self.alpha, self.beta = np.ones((), y.dtype), np.array(beta, y.dtype)
            self.cuda_dtype = _dtype.to_cuda_dtype(y.dtype)
            handle = cupy.cuda.device.get_cusparse_handle()
            size = cusparse.spMV_bufferSize(
                handle, cusparse.CUSPARSE_OPERATION_NON_TRANSPOSE, self.alpha.ctypes.data,
                self.descs[0].desc, self.descs[1].desc, self.beta.ctypes.data, self.descs[2].desc,
                self.cuda_dtype, cusparse.CUSPARSE_MV_ALG_DEFAULT)
            self.buffer = cupy.empty(max(int(size), 1), np.int8)
            self.graph_safe = True
        except (ImportError, AttributeError, TypeError):
            pass

    def __call__(self):
        if not self.graph_safe:
            import cupyx.cusparse

            matrix, x, y, beta = self.args
            cupyx.cusparse.spmv(matrix, x, y=y, alpha=1.0, beta=beta)
            return
        lib, (a, x, y) = self.lib, self.descs
        handle = cupy.cuda.device.get_cusparse_handle()
        lib.setStream(handle, cupy.cuda.get_current_stream().ptr)
        lib.spMV(handle, lib.CUSPARSE_OPERATION_NON_TRANSPOSE, self.alpha.ctypes.data, a.desc,
                 x.desc, self.beta.ctypes.data, y.desc, self.cuda_dtype,
                 lib.CUSPARSE_MV_ALG_DEFAULT, self.buffer.data.ptr)


def network_call(data, g, buf, spikes, decay):
    """The runner's per-step call for one projection: the fused SpMV on its state, the
    spikes as floats (or, without synapses, the decay alone)."""
    if data.n_syn == 0:
        return lambda: scale(g, decay)
    return SpMV(data.matrix_t, spikes, g, decay)


# No CUDA source of its own: the runner calls cuSPARSE once per projection, and reads the
# state (the post conductance) as it is.
register("csr", prepare=prepare, update=update, conductance=post_is_state,
         reads="STATE", library=network_call, float_spikes=True)
