"""align_pre_csr on Numba: state per pre neuron, a row-wise sparse mat-vec onto post neurons."""

from numba import prange

from . import jit, register, zeroed
from .csr import prepare


@jit
def deliver(data, state, events):
    """Add each pre neuron's event (a spike counts 1) to its own state; no weights.

    Needs only the sizes. Cost per step: O(n_pre), whatever the firing rate.
    """
    for i in prange(data.n_pre):
        state[i] += events[i]
    return state


@jit
def step(data, state, spikes, decay):
    """``deliver`` fused with the decay: state = decay state + spikes, one pass."""
    for i in prange(data.n_pre):
        state[i] = state[i] * decay + spikes[i]
    return state


@jit
def conductance(data, state, out=None):
    """g_post = W^T state, W^T stored as CSR: each post neuron gathers its pre neurons'
    states over its own slice of the CSC (no scatter).

    Needs ``csc`` (and ``post_order`` for the weights). Cost per step: O(n_post + n_syn),
    whatever the firing rate: every synapse, every step.
    """
    out = zeroed(data, state, out)
    for j in prange(data.n_post):
        acc = state.dtype.type(0)
        for k in range(data.indptr[j], data.indptr[j + 1]):
            acc += data.values[k] * state[data.indices[k]]
        out[j] = acc
    return out


register("align_pre_csr", prepare=prepare, deliver=deliver, conductance=conductance, step=step)
