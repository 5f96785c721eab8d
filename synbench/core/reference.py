"""The one independent oracle: what every strategy must compute, by other means.

It shares no code with any strategy (DESIGN section 5): the weight matrix is built
straight from the canonical COO (``conn.pre_ids``, ``conn.post_ids``) with scipy.sparse,
and every step is one float64 mat-vec,

    g_t = decay * g_{t-1} + W^T e_t,

where ``e_t`` is step t's events: a bool spike per pre neuron (amplitude 1) or a float
amplitude per pre neuron. The tests, ``synbench.fastest`` and the asv benchmarks check
against it.

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
