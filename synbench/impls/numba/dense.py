"""dense on Numba: every matrix element, every step."""

from collections import namedtuple

from numba import prange

from ...core.connect.structures import weight_matrix
from ...core.registry import as_weight
from . import SIZES, jit, register, sizes, zeroed

MatrixData = namedtuple("MatrixData", SIZES + ("weight_matrix",))


def prepare(conn, weight, dtype):
    # Zero where no synapse; the weights of a pair's several synapses (multapses) summed.
    w = weight_matrix(conn, as_weight(weight, conn.n_syn, dtype), dtype)
    return MatrixData(*sizes(conn, dtype), w)


@jit
def column_sums(data, g, out=None):
    """g_post[j] = sum over pre i of g[i, j], row after row (NumPy's order for axis 0)."""
    out = zeroed(data, g, out)
    for i in range(data.n_pre):
        for j in range(data.n_post):
            out[j] += g[i, j]
    return out


@jit
def deliver(data, g, events):
    """Add each pre neuron's row of weights, times its event, to every element ("mat 1").

    Needs ``conn_mat`` (as a weight matrix). Cost per step: O(n_pre * n_post),
    whatever the firing rate. Rows are independent (parallel over pre neurons).
    """
    w = data.weight_matrix
    for i in prange(data.n_pre):
        a = g.dtype.type(events[i])
        for j in range(data.n_post):
            g[i, j] += a * w[i, j]
    return g


@jit
def step(data, g, spikes, decay):
    """``deliver`` fused with the decay: one pass over the matrix instead of two."""
    w = data.weight_matrix
    for i in prange(data.n_pre):
        for j in range(data.n_post):
            g[i, j] = g[i, j] * decay + spikes[i] * w[i, j]
    return g


register("dense", prepare=prepare, deliver=deliver, conductance=column_sums, step=step)
