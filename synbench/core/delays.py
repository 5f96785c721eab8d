"""Transmission delays (DESIGN section 4c): what a delay is, and the mechanisms that hold one.

A projection's ``delay`` is one number of ms for every synapse (homogeneous), one per
synapse, ``UniformDelay(low, high)`` (drawn per synapse from the network seed), or None
(the delays its connectivity carries). Delays become whole steps (:func:`to_steps`): a
spike of pre neuron i at step t reaches synapse k at step t + d_k and is added there
exactly where a zero-delay event would be, after the state advances (section 4b).

How a delay is realised is a choice with its own cost, like the strategy. Three
*mechanisms*, declared here once; each backend registers its functions for them
(``registry.register_delays``) or says why it cannot:

- ``spike_ring``: the last D = max_delay + 1 spike vectors of the pre group. With one
  delay d for every synapse the strategy's own kernel delivers the vector of step t - d
  (every strategy, every backend); with one delay per synapse each synapse of a pre
  neuron that spiked within the last D steps reads its spike d_k steps back: each spike
  is looked at again on every step it stays within reach, so the cost grows with the
  rate times D (on JAX and CuPy every synapse reads every step, in parallel: O(n_syn));
- ``input_ring``: D x n_post arriving input: a spike adds each synapse's weight into the
  slot of its arrival step at once (event-driven), each step adds the slot of now into the
  post state and clears it. Only for a state per post neuron;
- ``spike_queue``: Brian 1's ``SpikeQueue``, a circular array of D bins of synapse
  indices: a spike appends its synapses to the bins of their arrival steps, each step adds
  the weights of the synapses in its bin into their states. A full bin doubles; nothing is
  dropped. For any state with one value per synapse (or per post neuron).

A strategy with a state per pre neuron (AlignPre) cannot hold per-synapse delays, and one
without per-synapse data (all2all, one2one, procedural) holds none: both take a
homogeneous delay only.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .errors import SynbenchError

#: Relative tolerance of "a whole number of steps" (DESIGN section 4c).
WHOLE_STEPS_RTOL = 1e-9


@dataclass(frozen=True)
class Mechanism:
    """One way to hold delayed events: the state kinds it delivers into, its cost."""

    name: str
    state_kinds: tuple[str, ...]
    doc: str


MECHANISMS = {m.name: m for m in (
    Mechanism("spike_ring", ("matrix", "synapse", "post"),
              "The last max_delay + 1 pre spike vectors; each synapse of a pre neuron that "
              "spiked within them reads its spike d_k steps back. Holds D x n_pre bools and "
              "one delay per synapse; costs O(fan-out) per spike on each of the D steps it "
              "stays within reach: it grows with the rate times D."),
    Mechanism("input_ring", ("post",),
              "Arriving input per post neuron, max_delay + 1 steps deep: a spike adds its "
              "synapses' weights into the slots of their arrival steps at once; each step "
              "adds the slot of now into the state and clears it. Holds D x n_post values; "
              "costs O(fan-out) per spike plus O(n_post) per step."),
    Mechanism("spike_queue", ("matrix", "synapse", "post"),
              "Brian 1's SpikeQueue: max_delay + 1 bins of synapse indices; a spike appends "
              "its synapses to the bins of their arrival steps, each step adds the weights of "
              "the synapses in its bin. A full bin doubles, nothing is dropped. Holds D x "
              "capacity indices; costs O(1) per event."),
)}


def mechanism(name: str) -> Mechanism:
    if name not in MECHANISMS:
        import difflib

        close = difflib.get_close_matches(str(name), list(MECHANISMS), n=2, cutoff=0.5)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise SynbenchError(f"unknown delay mechanism {name!r}{hint} "
                            f"(choose from {', '.join(MECHANISMS)})")
    return MECHANISMS[name]


def default_mechanism(strategy) -> str:
    """The mechanism that matches a strategy's way of working under per-synapse delays:
    events into a post state ring up their input at once (``input_ring``), events into a
    state per synapse or matrix element queue up (``spike_queue``), and a strategy that
    reads every synapse every step reads its spikes from the past (``spike_ring``)."""
    if not strategy.event_driven:
        return "spike_ring"
    return "input_ring" if strategy.state == "post" else "spike_queue"


def unsuited_reason(strategy, mechanism_name: str | None = None) -> str | None:
    """None when ``strategy`` can hold per-synapse delays with ``mechanism_name`` (None:
    its default), else one line saying why not and what to use instead."""
    if strategy.state == "pre":
        return (f"{strategy.name} keeps one state per pre neuron, which cannot hold a delay "
                "per synapse (DESIGN section 4c); it takes one delay for every synapse only. "
                "Per-synapse delays: pre_slice, csr or pre2syn")
    if strategy.connectivity:
        return (f"{strategy.name} holds no per-synapse data, so no per-synapse delays; it "
                "takes one delay for every synapse only. Per-synapse delays: pre_slice or csr")
    name = mechanism_name or default_mechanism(strategy)
    if strategy.state not in mechanism(name).state_kinds:
        fits = [m for m in MECHANISMS.values() if strategy.state in m.state_kinds]
        return (f"{name} holds input per post neuron, but {strategy.name} keeps its state "
                f"per {strategy.state}: use {' or '.join(m.name for m in fits)}")
    return None


#: The shapes of each mechanism's buffer arrays, in the order the buffer holds them
#: (``registry.check_delayed`` compares them; None: any size, a queue's capacity).
BUFFER_SHAPES = {
    "spike_ring": lambda data: [(data.depth, data.n_pre), (data.n_pre,)],
    "input_ring": lambda data: [(data.depth, data.n_post)],
    "spike_queue": lambda data: [(data.depth, None), (data.depth,)],
}


def _spike_ring_buffer(data):
    """The last D spike vectors, and each pre neuron's last spike step (never: -D)."""
    return (np.zeros((data.depth, data.n_pre), dtype=bool),
            np.full(data.n_pre, -data.depth, dtype=np.int64))


def _input_ring_buffer(data):
    return np.zeros((data.depth, data.n_post), dtype=data.dtype)


def _spike_queue_buffer(data):
    """(the (D, capacity) bins of synapse indices, the count in each bin)."""
    return (np.zeros((data.depth, initial_queue_capacity(data.n_syn)), dtype=np.int64),
            np.zeros(data.depth, dtype=np.int64))


_HOST_BUFFERS = {"spike_ring": _spike_ring_buffer, "input_ring": _input_ring_buffer,
                 "spike_queue": _spike_queue_buffer}


def host_buffers(mechanism_name: str) -> dict:
    """``init_buffer`` and ``buffer_shapes`` of a mechanism whose buffer is NumPy arrays
    (the NumPy and Numba backends register these)."""
    return {"init_buffer": _HOST_BUFFERS[mechanism_name],
            "buffer_shapes": BUFFER_SHAPES[mechanism_name]}


# --- delays as steps ------------------------------------------------------------------


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def to_steps(delay_ms, dt: float, what: str = "delay"):
    """``delay_ms`` (a number, or an array of one per synapse) as whole steps of ``dt``:
    an int, or an int32 array. Negative, NaN or infinite delays, and delays off the step
    grid by more than ``WHOLE_STEPS_RTOL`` (relative), are refused naming the first one.

    >>> to_steps(1.5, 0.1), to_steps([0.0, 0.3], 0.1).tolist()
    (15, [0, 3])
    """
    d = np.asarray(delay_ms, dtype=np.float64)
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        bad = d.reshape(-1)[np.argmax(~np.isfinite(d.reshape(-1)) | (d.reshape(-1) < 0))]
        raise SynbenchError(f"{what} must be finite and >= 0 ms, not {bad}")
    exact = d / dt
    steps = np.rint(exact)
    off = np.abs(exact - steps) > WHOLE_STEPS_RTOL * np.maximum(1.0, np.abs(exact))
    if np.any(off):
        bad = d.reshape(-1)[np.argmax(off.reshape(-1))]
        raise SynbenchError(f"{what} {bad} ms is not a whole number of steps of dt = {dt} ms; "
                            f"use a multiple of {dt} ms such as {round(bad / dt) * dt:.6g}")
    if steps.size and steps.max() > np.iinfo(np.int32).max // 2:
        raise SynbenchError(f"{what} {d.max()} ms is too long: at most "
                            f"{np.iinfo(np.int32).max // 2} steps")
    return int(steps) if steps.ndim == 0 else steps.astype(np.int32)


@dataclass(frozen=True)
class UniformDelay:
    """Per-synapse delays drawn uniformly over the whole steps of [low, high] ms, both
    ends included (DESIGN section 4c), from ``seed``: the same delays for the same
    (seed, number of synapses, dt) on every machine.

    >>> UniformDelay(0.1, 0.3, seed=1).steps(5, 0.1).tolist()
    [1, 3, 2, 3, 3]
    """

    low: float
    high: float
    seed: int = 0

    def __post_init__(self):
        if not (_is_number(self.low) and _is_number(self.high)
                and math.isfinite(self.low) and math.isfinite(self.high)
                and 0 <= self.low <= self.high):
            raise SynbenchError(f"UniformDelay needs 0 <= low <= high ms, finite, not "
                                f"low={self.low!r}, high={self.high!r}")

    def steps(self, n_syn: int, dt: float) -> np.ndarray:
        low = to_steps(self.low, dt, "UniformDelay's low")
        high = to_steps(self.high, dt, "UniformDelay's high")
        rng = np.random.default_rng([self.seed, 0x64656c6179])  # a stream of its own
        return rng.integers(low, high + 1, size=n_syn, dtype=np.int64).astype(np.int32)


def check_delay(delay, what: str = "delay"):
    """``delay`` as a Projection holds it: a float (ms), a UniformDelay, a read-only
    float64 array (one per synapse, canonical order) or None; else a SynbenchError."""
    if delay is None or isinstance(delay, UniformDelay):
        return delay
    if _is_number(delay):
        if not (math.isfinite(delay) and delay >= 0):
            raise SynbenchError(f"{what} must be finite and >= 0 ms, not {delay!r}")
        return float(delay)
    d = np.asarray(delay)
    if d.ndim != 1 or d.dtype.kind not in "iuf":
        raise SynbenchError(f"{what} must be a number of ms, one number per synapse, "
                            f"UniformDelay(low, high) or None, not {type(delay).__name__}"
                            + (f" of shape {d.shape}" if d.ndim != 1 else ""))
    d = d.astype(np.float64)
    if not (np.all(np.isfinite(d)) and np.all(d >= 0)):
        raise SynbenchError(f"{what} must be finite and >= 0 ms for every synapse")
    d.flags.writeable = False
    return d


def delay_steps(delay, conn, dt: float, seed: int = 0, name: str = "this projection"):
    """The delay of a projection over ``conn`` in steps: an int (one for every synapse)
    or an int32 array (one per synapse, canonical order). ``delay`` as ``check_delay``
    gives it; None takes the connectivity's delays (0 when it carries none)."""
    what = f"{name}'s delay"
    if delay is None:
        delay = conn.delays if conn.delays is not None else 0.0
        what = f"{name}'s connectivity's delays"
    if isinstance(delay, UniformDelay):
        return delay.steps(conn.n_syn, dt)
    if isinstance(delay, np.ndarray) and delay is not conn.delays:
        if delay.shape != (conn.n_syn,):
            raise SynbenchError(f"{what} must be one number of ms or one per synapse "
                                f"({conn.n_syn}), not {delay.shape[0]} values: one delay "
                                "per synapse, in canonical order")
        if conn.order is not None:
            raise SynbenchError(
                f"{what} is read in canonical (pre, post) order, but this connectivity was "
                "built from ids in another order: pass delays in the order of the ids as "
                "Connectivity(..., delays=d) (sorted with them), or use conn.canonical()[0]")
    return to_steps(delay, dt, what)


def per_synapse(steps) -> bool:
    return np.ndim(steps) == 1


def max_delay(steps) -> int:
    return int(np.max(steps)) if np.size(steps) else 0


def ring_depth(steps) -> int:
    """D, the slots of a ring or queue: the longest delay + 1 (now, and each step ahead)."""
    return max_delay(steps) + 1


def nbytes(mechanism_name: str, conn, depth: int, dtype) -> int:
    """Estimated bytes a mechanism holds beyond the strategy, at the start of a run: its
    ring or queue, one delay (int32) and one state slot (int64) per synapse, and the
    pre_slice that finds a neuron's synapses. A queue starts at
    ``initial_queue_capacity`` int64 per bin and doubles when a bin fills, so a run at a
    high rate or with long delays ends up holding more."""
    itemsize = np.dtype(dtype).itemsize
    index = np.dtype(conn.index_dtype).itemsize
    n_pre, n_post = conn.n_pre, conn.n_post
    common = conn.n_syn * (4 + 8) + 2 * n_pre * index
    if mechanism_name == "spike_ring":
        return depth * n_pre + 8 * n_pre + common
    if mechanism_name == "input_ring":
        return depth * n_post * itemsize + common
    return depth * (initial_queue_capacity(conn.n_syn) + 1) * 8 + common


def initial_queue_capacity(n_syn: int) -> int:
    """A spike queue's first bin size: twice the events per step of 10 Hz firing with
    dt = 0.1 ms (each bin, when its step comes, holds about one step's events), at least
    16. Bins double when they fill."""
    return max(16, int(2 * n_syn * 10 * 1e-4))


@dataclass(frozen=True)
class DelayPlan:
    """The delays of a run, as a runner takes them (``run`` resolves them).

    ``steps``: each projection's delay in steps (an int, or an int32 array per synapse).
    ``mechanism`` None: every delay is one number for its projection, realised by a
    ``spike_ring`` of pre spike vectors that the strategy's own kernel delivers from;
    else the mechanism every projection's per-synapse delays go through (a projection
    given one number gets it for each of its synapses), and ``entry`` its functions on
    the backend (``registry.DelayEntry``).
    """

    steps: dict
    mechanism: str | None = None
    entry: object = None

    def depth(self, name: str) -> int:
        """The slots of projection ``name``'s ring or queue: its longest delay + 1."""
        return ring_depth(self.steps[name])
