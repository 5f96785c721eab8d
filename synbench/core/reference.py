"""The one independent oracle: what every strategy must compute, by other means.

It shares no code with any strategy (DESIGN section 5): the weight matrix is built
straight from the canonical COO (``conn.pre_ids``, ``conn.post_ids``) with scipy.sparse,
and every step is one float64 mat-vec,

    g_t = decay * g_{t-1} + W^T e_t,

where ``e_t`` is step t's events: a bool spike per pre neuron (amplitude 1) or a float
amplitude per pre neuron. The tests, ``synbench.fastest`` and the asv benchmarks check
against it.

With per-synapse delays (DESIGN section 4c; ``d_k`` whole steps per synapse), the
synapses are split by delay value into one matrix ``W_d`` each, and

    g_t = decay * g_{t-1} + sum over delay values d of W_d^T e_{t-d}

(:func:`reference_delayed_conductances`): nothing of the delay mechanisms' rings,
queues or slots, so a mechanism that loses, repeats or misplaces an event disagrees.

>>> from synbench.core.connect import IJConn
>>> conn = IJConn([0, 0, 1], [0, 1, 1]).build(2, 2)
>>> [g.tolist() for g in reference_conductances(conn, 2.0, [[True, False], [0.0, 1.0]], 0.5)]
[[2.0, 2.0], [1.0, 3.0]]
"""

from __future__ import annotations

import numpy as np

from .connect.structures import require_memory


def reference_nbytes(conn, n_steps: int = 1) -> int:
    """Bytes the reference takes, about: W^T (float64 values and int64 indices, as COO then
    CSR: O(n_syn + n_post)), one float64 event vector (n_pre) and ``n_steps`` conductances."""
    return 8 * (5 * conn.n_syn + conn.n_pre + (n_steps + 2) * conn.n_post + 1)


def check_reference_fits(conn, n_steps: int = 1) -> None:
    """Refuse, before allocating, a reference that would not fit in memory.

    The group sizes may come from a file or from index arrays, so a reference for a few
    synapses between 10**12 neurons would otherwise try to allocate terabytes.
    """
    require_memory(reference_nbytes(conn, n_steps),
                   f"the reference for {conn.n_pre} -> {conn.n_post} neurons",
                   "use smaller groups (n_pre and n_post, not only fewer synapses)")


def weight_transpose(conn, weight):
    """W^T as a float64 scipy.sparse CSR matrix of shape (n_post, n_pre).

    ``weight``: one value for all synapses or one per synapse in canonical order.
    """
    import scipy.sparse

    check_reference_fits(conn)
    values = np.broadcast_to(np.asarray(weight, dtype=np.float64), (conn.n_syn,))
    return scipy.sparse.coo_matrix((values, (conn.post_ids, conn.pre_ids)),
                                   shape=(conn.n_post, conn.n_pre)).tocsr()


def reference_conductances(conn, weight, events_seq, decay, g0=None) -> list[np.ndarray]:
    """The (n_post,) float64 conductance after each step of ``events_seq``.

    Step t computes ``g = decay * g + W^T e_t`` from ``g0`` (default zero).
    """
    w_t = weight_transpose(conn, weight)
    g = np.zeros(conn.n_post) if g0 is None else np.asarray(g0, dtype=np.float64)
    out = []
    for events in events_seq:
        g = float(decay) * g + w_t @ np.asarray(events, dtype=np.float64)
        out.append(g)
    return out


def reference_scales(conn, weight, events_seq, decay) -> list[np.ndarray]:
    """The size of what each post neuron summed: ``reference_conductances`` of |w| and |e|.

    A tolerance relative to this judges mixed-sign weights or amplitudes fairly: a sum
    that cancels to zero is still expected to within rounding of its terms.
    """
    return reference_conductances(conn, np.abs(np.asarray(weight, dtype=np.float64)),
                                  [np.abs(np.asarray(e, dtype=np.float64)) for e in events_seq],
                                  decay)


def delayed_reference_nbytes(conn, window: int = 1) -> int:
    """Bytes the delayed reference takes, about: the matrices of every delay value (COO:
    float64 values and indices, O(n_syn) in all whatever the number of delay values), the
    sorting of the synapses by delay, ``window`` float64 event vectors held while their
    events are on the way, and three conductances."""
    return reference_nbytes(conn, 1) + 8 * (2 * conn.n_syn + window * conn.n_pre)


def _delay_matrices(conn, weight, steps) -> dict:
    """{d: W_d^T}: a float64 scipy.sparse COO matrix (n_post, n_pre) of the synapses whose
    delay is d steps, for every delay value d in ``steps`` (one int per synapse, canonical
    order, or one for all). COO keeps the memory O(n_syn) whatever the number of values."""
    import scipy.sparse

    steps = np.asarray(steps)
    if steps.dtype.kind not in "iu" or steps.ndim > 1:
        raise ValueError(f"steps must be an integer or one integer per synapse, not "
                         f"{steps.dtype.name} of shape {steps.shape}")
    steps = np.broadcast_to(steps.astype(np.int64), (conn.n_syn,))
    if steps.size and steps.min() < 0:
        raise ValueError(f"delays must be >= 0 steps, not {int(steps.min())}")
    values = np.broadcast_to(np.asarray(weight, dtype=np.float64), (conn.n_syn,))
    order = np.argsort(steps, kind="stable")
    found, first = np.unique(steps[order], return_index=True)
    bounds = np.append(first, conn.n_syn)
    return {int(d): scipy.sparse.coo_matrix(
                (values[order[a:b]], (conn.post_ids[order[a:b]], conn.pre_ids[order[a:b]])),
                shape=(conn.n_post, conn.n_pre))
            for d, a, b in zip(found, bounds[:-1], bounds[1:], strict=True)}


def iter_delayed_conductances(conn, weight, steps, events_seq, decay, g0=None):
    """Yield the (n_post,) float64 conductance after each step of ``events_seq`` (any
    iterable, read once), with per-synapse delays of ``steps`` (whole steps, one per
    synapse in canonical order, or one for all):

        g_t = decay * g_{t-1} + sum over delay values d of W_d^T e_{t-d},

    events before step 0 being none. Holds the event vectors that are not all zero for
    as long as their events are on the way (the longest delay), no more.
    """
    require_memory(delayed_reference_nbytes(conn),
                   f"the delayed reference for {conn.n_pre} -> {conn.n_post} neurons",
                   "use smaller groups (n_pre and n_post, not only fewer synapses)")
    matrices = _delay_matrices(conn, weight, steps)
    longest = max(matrices, default=0)
    g = np.zeros(conn.n_post) if g0 is None else np.array(g0, dtype=np.float64)
    held: dict[int, np.ndarray] = {}  # step -> its events, while they are on the way
    for t, events in enumerate(events_seq):
        e = np.asarray(events, dtype=np.float64)
        if e.shape != (conn.n_pre,):
            raise ValueError(f"step {t}'s events must have shape ({conn.n_pre},), "
                             f"not {e.shape}")
        if e.any():
            held[t] = e
        held.pop(t - longest - 1, None)
        arriving = np.zeros(conn.n_post)
        if len(held) < len(matrices):
            pairs = ((t - s, e_s) for s, e_s in held.items())
        else:
            pairs = ((d, held.get(t - d)) for d in matrices)
        for d, e_s in pairs:
            if e_s is not None and d in matrices:
                arriving += matrices[d] @ e_s
        g = float(decay) * g + arriving
        yield g


def reference_delayed_conductances(conn, weight, steps, spikes_list, decay,
                                   g0=None) -> list[np.ndarray]:
    """The (n_post,) float64 conductance after each step of ``spikes_list``, a spike of
    pre neuron i at step t reaching synapse k at step t + ``steps[k]``:

        g_t = decay * g_{t-1} + sum over delay values d of W_d^T s_{t-d}

    with one scipy.sparse matrix W_d per delay value (DESIGN section 4c: an event is added
    where a zero-delay one would be, after the decay of its step).

    >>> from synbench.core.connect import IJConn
    >>> conn = IJConn([0, 0, 1], [0, 1, 1]).build(2, 2)
    >>> spikes = [[True, False], [False, True], [False, False]]
    >>> [g.tolist() for g in reference_delayed_conductances(conn, 1.0, [0, 1, 1], spikes, 0.5)]
    [[1.0, 0.0], [0.5, 1.0], [0.25, 1.5]]
    """
    return list(iter_delayed_conductances(conn, weight, steps, spikes_list, decay, g0))


def reference_delayed_scales(conn, weight, steps, spikes_list, decay) -> list[np.ndarray]:
    """``reference_delayed_conductances`` of |w| and |e|: the size of what each post
    neuron summed, for tolerances (as :func:`reference_scales`)."""
    return reference_delayed_conductances(
        conn, np.abs(np.asarray(weight, dtype=np.float64)), steps,
        [np.abs(np.asarray(e, dtype=np.float64)) for e in spikes_list], decay)


def mismatch(g, expected, scale, rtol) -> str | None:
    """None when ``|g - expected| <= rtol * scale`` everywhere, else the first offence.

    NaN counts as a mismatch.
    """
    g = np.asarray(g, dtype=np.float64)
    error = np.abs(g - expected)
    bad = ~(error <= rtol * scale)
    if not bad.any():
        return None
    j = int(np.flatnonzero(bad)[0])
    rel = error[j] / scale[j] if scale[j] else float("inf")
    return (f"post {j}: {float(g[j])!r} vs {float(expected[j])!r} "
            f"(relative {rel:.2g} > {rtol:g}); {int(bad.sum())} of {g.size} post neurons differ")
