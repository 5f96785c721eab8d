"""The delay mechanisms on NumPy (``synbench.core.delays``): per-synapse delays.

Each ``deliver(data, state, buffer, spikes, step) -> (state, buffer)`` records this
step's spikes, then adds every event that arrives at ``step`` into the strategy's state
(flattened; synapse k's value lives at ``slots[k]``), both in place. D is the ring's
depth, the longest delay + 1.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ...core import delays, registry
from ...core.registry import as_weight


def prepare(conn, weight, steps, slots, dtype):
    """Per synapse (canonical order): its delay in steps, its slot in the state and its
    weight; the pre_slice that finds a neuron's synapses."""
    pre_slice = conn.require("pre_slice")
    return SimpleNamespace(
        n_pre=conn.n_pre, n_post=conn.n_post, n_syn=conn.n_syn, dtype=np.dtype(dtype),
        depth=delays.ring_depth(steps), steps=np.asarray(steps, np.int32), slots=slots,
        n_slots=int(slots.max()) + 1 if len(slots) else 0,
        weight=as_weight(weight, conn.n_syn, dtype), pre_slice=pre_slice)


def _synapses_of(data, spikes):
    """The canonical indices of the synapses of every spiking pre neuron, and the pre
    neuron of each."""
    starts, ends = data.pre_slice[spikes].T
    counts = ends - starts
    first = np.repeat(starts - np.cumsum(counts) + counts, counts)
    return first + np.arange(counts.sum()), np.repeat(np.flatnonzero(spikes), counts)


def _weights(data, k):
    return np.broadcast_to(data.weight, k.shape) if data.weight.ndim == 0 else data.weight[k]


def spike_ring(data, state, buffer, spikes, step):
    """Every synapse of a pre neuron that spiked within the last D steps reads its spike
    d_k steps back from a ring of the last D spike vectors. Cost per step: O(n_pre) plus
    O(fan-out) for each pre neuron still within reach of a spike (about rate x D steps of
    spikes); holds D x n_pre bools."""
    ring, last = buffer
    ring[step % data.depth] = spikes
    last[spikes] = step
    k, pre = _synapses_of(data, step - last < data.depth)
    arrived = k[ring[(step - data.steps[k]) % data.depth, pre]]
    np.add.at(state.reshape(-1), data.slots[arrived], _weights(data, arrived))
    return state, buffer


def input_ring(data, state, ring, spikes, step):
    """Each spike adds its synapses' weights into the ring slot of their arrival step;
    then the slot of now goes into the post state and is cleared. Cost per step:
    O(fan-out) per spike plus O(n_post); holds D x n_post values."""
    k, _ = _synapses_of(data, spikes)
    arrival = (step + data.steps[k]) % data.depth
    np.add.at(ring, (arrival, data.slots[k]), _weights(data, k))
    now = step % data.depth
    state += ring[now]
    ring[now] = 0
    return state, ring


def spike_queue(data, state, buffer, spikes, step):
    """Brian 1's SpikeQueue: each spike appends its synapses to the bins of their arrival
    steps (a full bin doubles the queue's capacity into a new array, returned in the
    buffer: nothing is dropped); then the weights of the synapses in the bin of now are
    added into their states and the bin empties. Cost: O(1) per event; holds D x
    capacity indices."""
    queue, counts = buffer
    k, _ = _synapses_of(data, spikes)
    if k.size:
        arrival = (step + data.steps[k]) % data.depth
        order = np.argsort(arrival, kind="stable")
        bins, first, sizes = np.unique(arrival[order], return_index=True, return_counts=True)
        need = int((counts[bins] + sizes).max())
        if need > queue.shape[1]:
            grown = np.zeros((data.depth, max(need, 2 * queue.shape[1])), np.int64)
            grown[:, :queue.shape[1]] = queue
            queue = grown
        for b, a, size in zip(bins, first, sizes, strict=True):
            queue[b, counts[b]:counts[b] + size] = k[order[a:a + size]]
            counts[b] += size
    now = step % data.depth
    due = queue[now, :counts[now]]
    np.add.at(state.reshape(-1), data.slots[due], _weights(data, due))
    counts[now] = 0
    return state, (queue, counts)


for _name, _deliver in (("spike_ring", spike_ring), ("input_ring", input_ring),
                       ("spike_queue", spike_queue)):
    registry.register_delays(_name, "numpy", prepare=prepare, deliver=_deliver,
                             **delays.host_buffers(_name))
