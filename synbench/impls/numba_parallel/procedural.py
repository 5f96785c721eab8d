"""procedural on Numba, threaded: no synapse stored; the spiking rows regenerated in
parallel, then each thread adds onto its own block of post neurons."""

import numpy as np
from numba import prange

from ..numba import post_is_state
from ..numba.procedural import prepare, round_keys, row_count, row_key, target
from . import block, calls, jit, num_threads, register, spike_list


@jit
def _onto_blocks(data, g, events, decay, with_decay):
    """The targets of every spiking row, generated in parallel (one row per iteration)
    into one buffer, rows in increasing order; then each thread decays (``with_decay``)
    its block of post neurons and adds every target that falls in it, rows in order and
    targets in the generator's order within a row (the serial kernel's)."""
    spikes = spike_list(events)
    start = np.zeros(spikes.size + 1, np.int64)  # row s's targets: start[s]:start[s + 1]
    for s in prange(spikes.size):
        start[s + 1] = row_count(data, row_key(data, spikes[s]))
    for s in range(spikes.size):
        start[s + 1] += start[s]
    targets = np.empty(start[spikes.size], np.int64)
    for s in prange(spikes.size):
        i = spikes[s]
        keys = round_keys(row_key(data, i))
        for k in range(start[s + 1] - start[s]):
            targets[start[s] + k] = target(data, keys, i, k)
    n_blocks = num_threads()
    for b in prange(n_blocks):
        lo, hi = block(data.n_post, b, n_blocks)
        if with_decay:
            for j in range(lo, hi):
                g[j] *= decay
        for s in range(spikes.size):
            a = g.dtype.type(events[spikes[s]]) * data.weight[0]
            for m in range(start[s], start[s + 1]):
                t = targets[m]
                if lo <= t < hi:
                    g[t] += a
    return g


@calls
def deliver(data, g, events):
    """Each pre neuron with an event regenerates its targets and adds its weight to each.

    Needs no structure: the generator's keys, sizes and count table (a few hundred
    values). Cost per step: O(count * cycle walk) hashes per spike (the serial kernel's:
    7 mixes per row, 4 per Feistel pass per synapse, 1 to 4 passes), split over the
    threads by row; then every thread reads every generated target (8 bytes each, held
    for the step) and adds those of its own block: O(fan-out) reads per spike and thread,
    O(fan-out) adds per spike in all. A row's targets are not sorted, so a thread cannot
    find its own without reading them all; the adds are cheap next to the hashing.
    Parallel over spiking rows (generation), then over blocks of post neurons (adds),
    each walking the rows in increasing order: the serial kernel's additions, in its order.
    """
    return _onto_blocks(data, g, events, 1.0, False)


@calls
def step(data, g, spikes, decay):
    """``deliver`` fused with the decay: each thread decays its own block, then adds onto it."""
    return _onto_blocks(data, g, spikes, decay, True)


register("procedural", prepare=prepare, deliver=deliver, conductance=post_is_state, step=step)
