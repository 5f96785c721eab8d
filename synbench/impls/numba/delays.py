"""The delay mechanisms on Numba (``synbench.core.delays``): per-synapse delays as loops.

Each ``deliver(data, state, buffer, spikes, step) -> (state, buffer)`` records the bool
``spikes`` of step ``step``, then adds every event that arrives at ``step`` into the
strategy's state (flattened; synapse k's value lives at ``slots[k]``), both in place. D
is the ring's depth, the longest delay + 1. Callable from Python or from the user's own
``@njit`` loop, like the kernels.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ...core import delays, registry
from . import SIZES, _weight_at, jit, sizes, spiking, weights

DelayData = namedtuple("DelayData", SIZES + ("depth", "n_slots", "steps", "slots", "weight",
                                             "pre_slice"))


def prepare(conn, weight, steps, slots, dtype):
    """Per synapse (canonical order): its delay in steps, its slot in the state and its
    weight; the pre_slice that finds a neuron's synapses."""
    pre_slice = conn.require("pre_slice")
    slots = np.asarray(slots, np.int64)
    return DelayData(*sizes(conn, dtype), delays.ring_depth(steps),
                     int(slots.max()) + 1 if slots.size else 0, np.asarray(steps, np.int32), slots,
                     weights(conn, weight, dtype), pre_slice)


@jit
def spike_ring(data, state, buffer, spikes, step):
    """Every synapse of a pre neuron that spiked within the last D steps reads its spike
    d_k steps back from a ring of the last D spike vectors. Cost per step: O(n_pre) plus
    O(fan-out) for each pre neuron still within reach of a spike (about rate x D steps of
    spikes); holds D x n_pre bools."""
    ring, last = buffer
    now = step % data.depth
    ring[now, :] = spikes
    for i in spiking(spikes):
        last[i] = step
    flat = state.reshape(-1)
    for i in range(data.n_pre):
        if step - last[i] < data.depth:
            for k in range(data.pre_slice[i, 0], data.pre_slice[i, 1]):
                then = now - data.steps[k]
                if ring[then + data.depth if then < 0 else then, i]:
                    flat[data.slots[k]] += _weight_at(data.weight, k)
    return state, buffer


@jit
def input_ring(data, state, ring, spikes, step):
    """Each spike adds its synapses' weights into the ring slot of their arrival step;
    then the slot of now goes into the post state and is cleared. Cost per step:
    O(fan-out) per spike plus O(n_post); holds D x n_post values."""
    for i in spiking(spikes):
        for k in range(data.pre_slice[i, 0], data.pre_slice[i, 1]):
            ring[(step + data.steps[k]) % data.depth, data.slots[k]] += \
                _weight_at(data.weight, k)
    now = ring[step % data.depth]
    for j in range(state.size):
        state[j] += now[j]
        now[j] = 0
    return state, ring


@jit
def _doubled(queue):
    grown = np.zeros((queue.shape[0], 2 * queue.shape[1]), queue.dtype)
    grown[:, :queue.shape[1]] = queue
    return grown


@jit
def spike_queue(data, state, buffer, spikes, step):
    """Brian 1's SpikeQueue: each spike appends its synapses to the bins of their arrival
    steps (a full bin doubles the queue's capacity into a new array, returned in the
    buffer: nothing is dropped); then the weights of the synapses in the bin of now are
    added into their states and the bin empties. Cost: O(1) per event; holds D x
    capacity indices."""
    queue, counts = buffer
    for i in spiking(spikes):
        for k in range(data.pre_slice[i, 0], data.pre_slice[i, 1]):
            b = (step + data.steps[k]) % data.depth
            if counts[b] == queue.shape[1]:
                queue = _doubled(queue)
            queue[b, counts[b]] = k
            counts[b] += 1
    now = step % data.depth
    flat = state.reshape(-1)
    for q in range(counts[now]):
        k = queue[now, q]
        flat[data.slots[k]] += _weight_at(data.weight, k)
    counts[now] = 0
    return state, (queue, counts)


for _name, _deliver in (("spike_ring", spike_ring), ("input_ring", input_ring),
                       ("spike_queue", spike_queue)):
    registry.register_delays(_name, "numba", prepare=prepare, deliver=_deliver,
                             **delays.host_buffers(_name))
