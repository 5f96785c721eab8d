"""dense_post on CuPy: the dense weight matrix, state per post neuron, one cuBLAS gemv
with beta = decay."""

import functools

import cupy
import numpy as np

from . import events_array, post_is_state, register, scale, weight_matrix


def prepare(conn, weight, dtype):
    data = weight_matrix(conn, weight, dtype)
    data.x = cupy.zeros(conn.n_pre, dtype=dtype)  # the events as floats
    return data


def gemv(data, x, g, decay):
    """g = W^T x + decay * g: one cuBLAS gemv (in place), the row-major (n_pre, n_post)
    ``weight_matrix`` read as (n_post, n_pre) column-major. Allocates nothing on the GPU
    and waits for nothing, so it can be captured in a CUDA graph."""
    from cupy_backends.cuda.libs import cublas

    if data.n_post == 0:
        return g
    if data.n_pre == 0:  # BLAS returns at once for an empty matrix, without scaling g
        return scale(g, decay)
    beta = np.array(decay, dtype=data.dtype)  # a host scalar, read when the call is made
    handle = cupy.cuda.device.get_cublas_handle()
    cublas.setStream(handle, cupy.cuda.get_current_stream().ptr)
    cublas.setPointerMode(handle, cublas.CUBLAS_POINTER_MODE_HOST)
    matrix_vector = cublas.dgemv if data.dtype == np.float64 else cublas.sgemv
    matrix_vector(handle, cublas.CUBLAS_OP_N, data.n_post, data.n_pre, data.alpha.ctypes.data,
                  data.weight_matrix.data.ptr, data.n_post, x.data.ptr, 1, beta.ctypes.data,
                  g.data.ptr, 1)
    return g


def update(data, g, events, decay):
    """g = W^T events + decay * g: the events as floats, then one gemv (in place).

    Needs ``conn_mat`` (as ``weight_matrix`` [n_pre, n_post], zero off synapses); ``x``
    [n_pre] is scratch for the events as floats; ``g`` is [n_post]. O(n_pre * n_post)
    per step whatever the firing rate.
    """
    data.x[...] = events_array(events, data)
    return gemv(data, data.x, g, decay)


def network_call(data, g, buf, spikes, decay):
    """The runner's per-step call for one projection: the gemv on its state, decay
    included, the spikes as floats."""
    return functools.partial(gemv, data, spikes, g, decay)


# No CUDA source of its own: the runner calls cuBLAS once per projection, and reads the
# state (the post conductance) as it is.
register("dense_post", prepare=prepare, update=update, conductance=post_is_state,
         reads="STATE", library=network_call, float_spikes=True)
