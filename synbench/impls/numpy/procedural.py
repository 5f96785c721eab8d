"""procedural on NumPy: no synapse stored, each spiking row regenerated (GeNN's procedural
connectivity), state per post neuron."""

from types import SimpleNamespace

import numpy as np

from ...core.registry import as_weight
from . import post_is_state, register

#: Synapses generated at once: a burst is handled in chunks of rows of about this many.
_CHUNK = 1 << 20


def prepare(conn, weight, dtype):
    """The generator of ``conn`` (its keys, sizes and count table) and the one weight."""
    return SimpleNamespace(n_pre=conn.n_pre, n_post=conn.n_post, n_syn=conn.n_syn,
                           dtype=np.dtype(dtype), weight=as_weight(weight, conn.n_syn, dtype),
                           generator=conn.generator)


def deliver(data, g, events):
    """For each pre neuron with an event, regenerate its targets and add its weight to each.

    Needs the connectivity's ``RowGenerator`` (O(1) parameters and its count table), no
    structure. Cost per step: O(count * cycle walk) hashes per spike, vectorised over the
    spiking rows (in chunks of about 2**20 synapses); no memory per synapse is kept.
    """
    ids = np.flatnonzero(events)
    if ids.size == 0:
        return g
    gen = data.generator
    counts = gen.row_counts(ids)
    ends = np.cumsum(counts)
    first = 0
    while first < ids.size:  # rows first .. last - 1 hold about _CHUNK synapses
        done = ends[first - 1] if first else 0
        last = max(int(np.searchsorted(ends, done + _CHUNK, "right")), first + 1)
        rows, c = ids[first:last], counts[first:last]
        starts = np.cumsum(c) - c
        ks = np.arange(int(c.sum()), dtype=np.int64) - np.repeat(starts, c)
        targets = gen.targets(np.repeat(rows, c), ks)
        w = data.weight if events.dtype == np.bool_ else np.repeat(events[rows], c) * data.weight
        np.add.at(g, targets, np.broadcast_to(w, targets.shape))
        first = last
    return g


register("procedural", prepare=prepare, deliver=deliver, conductance=post_is_state)
