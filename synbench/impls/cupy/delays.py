"""The delay mechanisms on CuPy (``synbench.core.delays``): per-synapse delays as CUDA
kernels (``cuda/delay_kernels.cu``).

Each ``deliver(data, state, buffer, spikes, step) -> (state, buffer)`` records the bool
``spikes`` of step ``step``, then adds every event that arrives at ``step`` into the
strategy's state (flattened; synapse k's value lives at ``slots[k]``), both in place, on
the current stream. D is the ring's depth, the longest delay + 1. Callable from the
user's own CuPy code, like the strategies' kernels:

>>> import cupy
>>> from synbench import FixedProb, registry
>>> from synbench.core.delays import UniformDelay
>>> conn = FixedProb(0.1, seed=0).build(100, 50)
>>> mechanism = registry.delay_entry("pre_slice", "cupy", "input_ring")
>>> steps = UniformDelay(0.1, 2.0).steps(conn.n_syn, 0.1)
>>> data = mechanism.prepare(conn, 0.5, steps, conn.post_ids, "float64")
>>> g, ring = cupy.zeros(50), mechanism.init_buffer(data)
>>> for t in range(30):  # every pre neuron spikes at step 0
...     g, ring = mechanism.deliver(data, g, ring, cupy.full(100, t == 0), t)
>>> float(g.sum()) == 0.5 * conn.n_syn
True

- ``spike_ring``: one thread per synapse reads its pre neuron's spike d_k steps back
  from a ring of the last D spike vectors and adds its weight atomically (one pass, the
  spikes of now recorded by the same launch);
- ``input_ring``: a warp per spiking pre neuron adds its synapses' weights into the ring
  slot of their arrival step (atomically); a second launch adds the slot of now into the
  post state and clears it;
- ``spike_queue``: a warp per spiking pre neuron appends its synapses to the bins of
  their arrival steps (an atomic counter per bin); one thread per place of the bin of now
  adds its weight. A place past a bin's end is counted, not written: the host reads the
  fullest count after the push, and on overflow grows the queue (to ``max(need, 2 x
  capacity)``, as the NumPy queue), restores the counts and pushes again, so nothing is
  dropped. That check needs the host every step, so the fused runner hands a
  spike_queue run to ``ArraySimulation``.

The runner's fused step runs ``spike_ring`` and ``input_ring`` through
:data:`NETWORK` (their launches bound to its buffers, the step read from its control
block on the GPU, so that CUDA graphs replay them).

Atomic additions sum in an order of their own, so float64 states agree with the NumPy
mechanisms to a few ulp, not bit for bit.
"""

from __future__ import annotations

from types import SimpleNamespace

import cupy
import numpy as np

from ...core import delays, registry
from ...core.errors import SynbenchError
from . import BLOCK, blocks, i64, index_array, kernel, kernel_data

SOURCE = "delay_kernels.cu"


def prepare(conn, weight, steps, slots, dtype):
    """Per synapse (canonical order): its delay in steps, its slot in the state and its
    weight, on the GPU; the pre_slice and pre ids that find a neuron's synapses."""
    registry.check_connectivity(conn)
    dtype = registry.check_dtype(dtype)
    steps = _per_synapse("steps", steps, conn.n_syn)
    slots = _per_synapse("slots", slots, conn.n_syn)
    pre_slice, pre_ids = conn.require("pre_slice", "pre_ids")
    return kernel_data(
        conn, weight, dtype, depth=delays.ring_depth(steps), steps=index_array(steps),
        slots=index_array(slots, np.int64), n_slots=int(slots.max(initial=-1)) + 1,
        pre_slice=index_array(pre_slice, np.int64), pre_ids=index_array(pre_ids),
        step_zero=cupy.zeros(1, np.int32))  # what step_at points at for calls from Python


def _per_synapse(name, x, n_syn) -> np.ndarray:
    """``x`` (NumPy or CuPy) as one int >= 0 per synapse, on the host, or a SynbenchError."""
    x = cupy.asnumpy(x) if isinstance(x, cupy.ndarray) else np.asarray(x)
    if x.shape != (n_syn,) or x.dtype.kind not in "iu":
        raise SynbenchError(f"{name} must be one integer per synapse ({n_syn},), not "
                            f"{x.dtype.name} of shape {x.shape}")
    if x.size and x.min() < 0:
        raise SynbenchError(f"{name} must be >= 0, not {x.min()}")
    return x.astype(np.int64)


def _device(data, state, spikes, step, size=None):
    """(spikes as a contiguous CuPy array, step as an int), after checking what the
    kernels need beyond ``registry.check_delayed`` (which ``deliver`` passes first; a
    runner calls the unchecked ``kernel`` with arrays it made): a contiguous CuPy state
    (of ``size`` values, where given) and CuPy spikes."""
    if not isinstance(state, cupy.ndarray) or not state.flags.c_contiguous:
        raise SynbenchError("state must be a contiguous CuPy array, not "
                            f"{type(state).__name__}"
                            f"{' (strided)' if isinstance(state, cupy.ndarray) else ''}")
    if size is not None and state.size != size:
        raise SynbenchError(f"state must hold one value per post neuron ({size}), "
                            f"not {state.size}")
    if not isinstance(spikes, cupy.ndarray):
        raise SynbenchError(f"spikes must be a CuPy array, not {type(spikes).__name__}")
    return cupy.ascontiguousarray(spikes), int(step)


def _launch(launches) -> None:
    for function, grid, args in launches:
        function(grid, (BLOCK,), args)


# --- spike_ring ---


def spike_ring_buffer(data):
    return cupy.zeros((data.depth, data.n_pre), dtype=bool)


def spike_ring_launches(data, target, ring, spikes, step_at, step=0):
    """(kernel, grid, arguments) of one step of ``spike_ring`` into ``target``."""
    n = max(data.n_pre, data.n_syn)
    return [(kernel("spike_ring_deliver", data.dtype, SOURCE), blocks(n),
             (target, ring, spikes, data.pre_ids, data.steps, data.slots, data.w, data.w_stride,
              i64(data.n_pre), i64(data.n_syn), i64(data.depth), step_at, i64(step)))]


def spike_ring(data, state, ring, spikes, step):
    """Every synapse reads its pre neuron's spike d_k steps back from a ring of the last
    D spike vectors. Cost per step: O(n_syn) whatever the rate; holds D x n_pre bools."""
    spikes, step = _device(data, state, spikes, step)
    _launch(spike_ring_launches(data, state, ring, spikes, data.step_zero, step))
    return state, ring


# --- input_ring ---


def input_ring_buffer(data):
    return cupy.zeros((data.depth, data.n_post), dtype=data.dtype)


def input_ring_launches(data, target, ring, spikes, step_at, step=0):
    """(kernel, grid, arguments) of one step of ``input_ring`` into ``target``."""
    push = kernel("input_ring_push", data.dtype, SOURCE)
    collect = kernel("input_ring_collect", data.dtype, SOURCE)
    found = [] if not data.n_syn else [(push, blocks(data.n_pre), (
        ring, spikes, data.pre_slice, data.steps, data.slots, data.w, data.w_stride,
        i64(data.n_pre), i64(data.n_post), i64(data.depth), step_at, i64(step)))]
    return found + [(collect, blocks(data.n_post), (
        target, ring, i64(data.n_post), i64(data.depth), step_at, i64(step)))]


def input_ring(data, state, ring, spikes, step):
    """Each spike adds its synapses' weights into the ring slot of their arrival step;
    then the slot of now goes into the post state and is cleared. Cost per step:
    O(fan-out) per spike plus O(n_post); holds D x n_post values."""
    spikes, step = _device(data, state, spikes, step, size=data.n_post)
    _launch(input_ring_launches(data, state, ring, spikes, data.step_zero, step))
    return state, ring


# --- spike_queue ---


def spike_queue_buffer(data):
    """D bins of synapse indices (``queue`` [D, capacity] int32), each filled up to
    ``counts[bin]``; ``before``, the counts before this step's push (to push again into
    a grown queue)."""
    capacity = delays.initial_queue_capacity(data.n_syn)
    return SimpleNamespace(queue=cupy.zeros((data.depth, capacity), dtype=np.int32),
                           counts=cupy.zeros(data.depth, dtype=np.int32),
                           before=cupy.zeros(data.depth, dtype=np.int32))


def _push(data, buffer, spikes, step) -> int:
    """Append the synapses of this step's spikes; the fullest bin's count (it may
    exceed the capacity: then the places past it were counted, not written)."""
    kernel("spike_queue_push", data.dtype, SOURCE)(blocks(data.n_pre), (BLOCK,), (
        buffer.queue, buffer.counts, spikes, data.pre_slice, data.steps, i64(data.n_pre),
        i64(data.depth), i64(buffer.queue.shape[1]), data.step_zero, i64(step)))
    return int(buffer.counts.max())  # waits for the push


def spike_queue(data, state, buffer, spikes, step):
    """Brian 1's SpikeQueue: each spike appends its synapses to the bins of their arrival
    steps (a full bin grows the queue: nothing is dropped); then the weights of the
    synapses in the bin of now are added into their states and the bin empties.
    Cost: O(1) per event, plus one host read per step; holds D x capacity indices."""
    spikes, step = _device(data, state, spikes, step)
    if not data.n_syn:
        return state, buffer
    buffer.before[...] = buffer.counts
    need = _push(data, buffer, spikes, step)
    while need > buffer.queue.shape[1]:  # counted past a bin's end: grow, push again
        capacity = buffer.queue.shape[1]
        grown = cupy.zeros((data.depth, max(need, 2 * capacity)), dtype=np.int32)
        grown[:, :capacity] = buffer.queue
        buffer.queue = grown
        buffer.counts[...] = buffer.before
        need = _push(data, buffer, spikes, step)
    capacity = buffer.queue.shape[1]
    kernel("spike_queue_deliver", data.dtype, SOURCE)(blocks(capacity), (BLOCK,), (
        state, buffer.queue, buffer.counts, data.slots, data.w, data.w_stride,
        i64(data.depth), i64(capacity), data.step_zero, i64(step)))
    now = step % data.depth
    buffer.counts[now:now + 1].fill(0)
    return state, buffer


#: The mechanisms the fused runner's step holds: ``launches(data, target, buffer, spikes,
#: step_at)`` -> (kernel, grid, arguments) of one step, the step read at ``step_at`` on
#: the GPU. spike_queue is not among them: its growth needs the host.
NETWORK = {"spike_ring": spike_ring_launches, "input_ring": input_ring_launches}

for _name, _deliver, _buffer in (("spike_ring", spike_ring, spike_ring_buffer),
                                 ("input_ring", input_ring, input_ring_buffer),
                                 ("spike_queue", spike_queue, spike_queue_buffer)):
    registry.register_delays(_name, "cupy", prepare=prepare, init_buffer=_buffer,
                             deliver=_deliver)
