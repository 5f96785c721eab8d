"""The delay mechanisms on JAX (``synbench.core.delays``): per-synapse delays, fixed shapes.

Functional, as every JAX kernel: ``deliver(data, state, buffer, spikes, step)`` returns
``(state, buffer)``, the new state and the new ring (JAX arrays are immutable, so
nothing is updated in place as on NumPy and Numba). It records the bool ``spikes`` of
step ``step`` (a Python int or a traced int32), then adds every event that arrives at
``step`` into the strategy's state (flattened; synapse k's value lives at ``slots[k]``).
D is the ring's depth, the longest delay + 1. ``data`` is a ``KernelData`` pytree, so a
mechanism runs inside the user's own ``jax.jit`` / ``jax.lax.scan`` like the kernels:

>>> import numpy as np
>>> from synbench import FixedProb, registry
>>> conn = FixedProb(0.1, seed=0).build(100, 50)
>>> ring = registry.delay_entry("pre_slice", "jax", "input_ring")
>>> steps = np.random.default_rng(0).integers(0, 20, conn.n_syn).astype(np.int32)
>>> data = ring.prepare(conn, 0.5, steps, conn.post_ids, "float32")
>>> state, buffer = np.zeros(50, np.float32), ring.init_buffer(data)
>>> for t in range(30):  # every pre neuron spikes at step 0
...     state, buffer = ring.deliver(data, state, buffer, np.full(100, t == 0), t)
>>> float(state.sum()) == 0.5 * conn.n_syn
True

- ``spike_ring``: every synapse gathers its pre neuron's spike of step t - d_k from a
  (D, n_pre) ring of bools, every step: O(n_syn) whatever the rate, any state kind;
- ``input_ring``: a spike scatters its synapses' weights into a (D, n_post) ring at the
  slots of their arrival steps (t + d_k) % D; then the slot of now is added into the post
  state and cleared. Event-driven: the spiking pre neurons are compacted into blocks of
  ``max_spikes`` (as the event-driven kernels, ``_events``), each block costs
  O(max_spikes x max fan-out), plus O(n_post) per step. Its block adder is
  ``input_ring.add_events(data, step, ring, ids)`` and the arrival of now
  ``input_ring.arrive(data, state, ring, step)``: the runner feeds the adder the spike ids
  it has compacted once for the whole network instead of compacting again;
- ``spike_queue`` is unavailable: its bins grow on demand, which no fixed shape can.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np
from jax import lax

from ...core import delays, registry
from ...core.errors import SynbenchError
from . import kernel, make_data, new_state, weight_at
from ._events import for_each_spike_block


def prepare(conn, weight, steps, slots, dtype, max_spikes=None):
    """Per synapse (canonical order): its delay in steps, its slot in the flattened state
    and its weight; each pre neuron's first synapse and count (its slice of the canonical
    order, one extra empty row for the fill id n_pre). Static: ``depth`` (D), ``n_slots``
    (the largest slot + 1), ``max_fanout`` and ``max_spikes`` (the block size of
    ``input_ring``)."""
    registry.check_connectivity(conn)
    dtype = registry.check_dtype(dtype)
    steps = np.asarray(steps)
    slots = np.asarray(slots)
    for name, a in (("steps", steps), ("slots", slots)):
        if a.shape != (conn.n_syn,) or a.dtype.kind not in "iu":
            raise SynbenchError(f"{name} must be one integer per synapse ({conn.n_syn},), "
                                f"not {a.dtype.name} of shape {a.shape}")
    if steps.size and steps.min() < 0:
        raise SynbenchError(f"steps must be >= 0, not {int(steps.min())}")
    if slots.size and slots.min() < 0:
        raise SynbenchError(f"slots must be >= 0, not {int(slots.min())}")
    # Int32 indices where they fit (JAX keeps int64 only under x64).
    index = np.int32 if slots.max(initial=0) < np.iinfo(np.int32).max else np.int64
    pre_slice, pre_ids = conn.require("pre_slice", "pre_ids")
    pre_slice = np.asarray(pre_slice, dtype=np.int64)
    counts = np.append(pre_slice[:, 1] - pre_slice[:, 0], 0).astype(np.int32)
    starts = np.append(pre_slice[:, 0], conn.n_syn).astype(np.int32)
    return make_data(conn, weight, dtype, {
        "steps": steps.astype(np.int32), "slots": slots.astype(index),
        "pre_ids": np.asarray(pre_ids, np.int32), "starts": starts, "counts": counts,
    }, max_spikes, depth=delays.ring_depth(steps), n_slots=int(slots.max(initial=-1)) + 1,
        max_fanout=max(int(counts.max(initial=0)), 1))


def _check(data, state, buffer, spikes, buffer_shape, buffer_dtype):
    """Shapes and dtypes, read at trace time (nothing of it is left in compiled code)."""
    if np.dtype(getattr(state, "dtype", None)) != np.dtype(data.dtype):
        raise SynbenchError(f"state must have dtype {data.dtype}, not "
                            f"{np.dtype(getattr(state, 'dtype', None)).name}")
    if tuple(getattr(spikes, "shape", ())) != (data.n_pre,) or spikes.dtype != bool:
        raise SynbenchError(f"spikes must be bool of shape ({data.n_pre},) (one per pre "
                            f"neuron), not {getattr(spikes, 'dtype', type(spikes))} of shape "
                            f"{getattr(spikes, 'shape', None)}")
    if tuple(buffer.shape) != buffer_shape or np.dtype(buffer.dtype) != buffer_dtype:
        raise SynbenchError(f"buffer must be {np.dtype(buffer_dtype).name} of shape "
                            f"{buffer_shape} (init_buffer(data)), not "
                            f"{np.dtype(buffer.dtype).name} of shape {tuple(buffer.shape)}")


# --- spike_ring ---


def spike_ring_buffer(data):
    """The last D spike vectors of the pre group: (D, n_pre) bools."""
    return jnp.zeros((data.depth, data.n_pre), dtype=bool)


def _spike_ring(data, state, ring, spikes, step):
    """Every synapse reads its pre neuron's spike d_k steps back from a ring of the last
    D spike vectors. Cost per step: O(n_syn) whatever the rate; holds D x n_pre bools."""
    _check(data, state, ring, spikes, (data.depth, data.n_pre), np.dtype(bool))
    ring = ring.at[step % data.depth].set(spikes)
    arrived = ring[(step - data.steps) % data.depth, data.pre_ids]
    w = jnp.where(arrived, data.weight, jnp.zeros((), state.dtype))
    # Into the state as it is shaped: a matrix through (row, column), which XLA updates
    # in place (a scatter into its flattened view measured 2x slower on CPU).
    where = jnp.unravel_index(data.slots, state.shape)
    return state.at[where].add(w, mode="drop"), ring


# --- input_ring ---


def input_ring_buffer(data):
    """Arriving input per post neuron, D steps ahead: (D, n_post) values."""
    return new_state(data, (data.depth, data.n_post))


def input_ring_add(data, step, ring, ids):
    """Add the events of the pre neurons ``ids`` [K] (padded with n_pre), spiking at
    ``step``, into the ring slots of their arrival steps: ring[(step + d_k) % D, slot_k]
    += w_k. Entries past a slice's end point at the extra synapse n_syn, whose slot
    n_post is dropped."""
    offsets = lax.iota(jnp.int32, data.max_fanout)
    start, count = data.starts[ids][:, None], data.counts[ids][:, None]
    syn = jnp.where(offsets < count, start + offsets, data.n_syn)
    arrival = (step + data.steps.at[syn].get(mode="fill", fill_value=0)) % data.depth
    slot = data.slots.at[syn].get(mode="fill", fill_value=data.n_post)
    w = jnp.broadcast_to(weight_at(data.weight, syn), syn.shape)
    return ring.at[arrival, slot].add(w, mode="drop")


def input_ring_arrive(data, state, ring, step):
    """The input arriving at ``step`` added into the post state, its slot cleared."""
    now = step % data.depth
    return state + ring[now], ring.at[now].set(0)


def _input_ring(data, state, ring, spikes, step):
    """Each spike adds its synapses' weights into the ring slot of their arrival step;
    then the slot of now goes into the post state and is cleared. The spiking ids are
    compacted ``max_spikes`` (K) at a time. Cost per step: O(K x max fan-out) per block,
    nothing without spikes, plus O(n_post); holds D x n_post values."""
    _check(data, state, ring, spikes, (data.depth, data.n_post), np.dtype(data.dtype))
    if tuple(state.shape) != (data.n_post,):
        raise SynbenchError(f"input_ring holds input per post neuron: state must have shape "
                            f"({data.n_post},), not {tuple(state.shape)}; use spike_ring for "
                            "a state per synapse or matrix element")
    ring = for_each_spike_block(spikes, data.max_spikes,
                                functools.partial(input_ring_add, data, step), ring)
    return input_ring_arrive(data, state, ring, step)


spike_ring = kernel(_spike_ring)
input_ring = kernel(_input_ring)
# What the runner needs to feed the ring from its own compacted spike ids.
input_ring.add_events = input_ring_add
input_ring.arrive = input_ring_arrive


for _name, _deliver, _buffer in (("spike_ring", spike_ring, spike_ring_buffer),
                                 ("input_ring", input_ring, input_ring_buffer)):
    registry.register_delays(_name, "jax", prepare=prepare, init_buffer=_buffer,
                             deliver=_deliver)

registry.register_delays(
    "spike_queue", "jax",
    unavailable="its bins grow when they fill, and under jax.jit every array has a fixed "
                "shape (a fixed capacity would drop spikes); spike_ring (any state) and "
                "input_ring (a state per post neuron) hold the same delays in fixed shapes")
