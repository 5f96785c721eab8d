"""align_pre_dense on Numba: state per pre neuron, a dense mat-vec onto post neurons."""

from . import jit, register, zeroed
from .align_pre_csr import deliver, step
from .dense import prepare


@jit
def conductance(data, state, out=None):
    """g_post[j] = sum over pre i of w[i, j] * state[i], row after row (W read in order).

    Needs ``conn_mat`` (as a weight matrix). Cost per step: O(n_pre * n_post), whatever
    the firing rate.
    """
    out = zeroed(data, state, out)
    w = data.weight_matrix
    for i in range(data.n_pre):
        for j in range(data.n_post):
            out[j] += w[i, j] * state[i]
    return out


register("align_pre_dense", prepare=prepare, deliver=deliver, conductance=conductance, step=step)
