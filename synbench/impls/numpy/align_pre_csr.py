"""align_pre_csr on NumPy: state per pre neuron, summed onto post neurons by scipy.sparse."""

from . import register
from .csr import prepare


def deliver(data, state, events):
    """Add each pre neuron's event (a spike counts 1) to its own state; no weights.

    Needs only the sizes. Cost per step: O(n_pre), whatever the firing rate. Vectorised.
    """
    state += events
    return state


def conductance(data, state, out=None):
    """g_post = W^T state: one scipy.sparse mat-vec, W^T stored as CSR (post rows).

    Needs ``csc`` (and ``post_order`` for per-synapse weights). Cost per step:
    O(n_post + n_syn), whatever the firing rate: every synapse, every step.
    """
    g = data.matrix_t @ state
    if out is None:
        return g
    out[...] = g
    return out


register("align_pre_csr", prepare=prepare, deliver=deliver, conductance=conductance)
