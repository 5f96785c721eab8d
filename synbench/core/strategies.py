"""Each strategy declared once: what it keeps, what it needs, whether it is event-driven.

A *strategy* is how one step's spikes reach a projection's synaptic state (DESIGN
section 4). Its declaration here is the one place that says:

- ``state``: where one state value lives, which decides which synapse models it can
  hold exactly (section 4b):

  * ``matrix``: one per element of the (n_pre, n_post) matrix (zero where no synapse);
  * ``synapse``: one per synapse;
  * ``post``: one per post neuron (AlignPost: exact for models linear in their input);
  * ``pre``: one per pre neuron, summed onto post neurons through the weights every
    step (AlignPre: exact for any model driven by pre spikes alone);

- ``event_driven``: whether delivery costs work per spike (True) or per synapse or
  matrix element every step whatever the rate (False);
- ``needs``: the connectivity structures it reads (section 2); a backend may read a
  fixed-shape form instead (JAX and CuPy ``pre2post`` read ``ell``) and says so when it
  registers;
- ``connectivity``: where the strategy holds only one kind of connectivity (no index
  arrays for all-to-all or one-to-one, synapses regenerated from a counter-based
  connector), the name of that requirement in ``CONNECTIVITY``; a connectivity
  that does not meet it is refused with the reason (``unsuited_reason``);
- ``scalar_weight``: whether it holds one weight for all synapses only;
- ``multapses``: whether it holds several synapses between one (pre, post) pair
  (default True; ``bitmask``, one bit per pair, does not): a connectivity that has
  some (``conn.has_multapses``) is refused with the reason where it does not;
- ``doc``: one paragraph for ``synbench list``, the README and the tutorials.

Backends register only their functions (``synbench.core.registry.register``). A new
strategy is one :func:`declare` call (here, or in your own code before registering)
plus one module per backend.

>>> from synbench.core.strategies import strategy
>>> strategy("pre_slice").state
'post'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STATE_KINDS = ("matrix", "synapse", "post", "pre")


@dataclass(frozen=True)
class Strategy:
    """One way to propagate spikes: its state kind, cost class and structures."""

    name: str
    state: str
    event_driven: bool
    needs: tuple[str, ...]
    doc: str = ""
    seed: str = ""  # where the strategy comes from (the seed tutorial's name for it)
    connectivity: str = ""
    scalar_weight: bool = False
    multapses: bool = True  # holds several synapses between one (pre, post) pair


def state_shape(state_kind: str, data) -> tuple[int, ...]:
    """The shape of a state held per ``state_kind``, from ``data``'s n_pre, n_post, n_syn."""
    return {"matrix": (data.n_pre, data.n_post), "synapse": (data.n_syn,),
            "post": (data.n_post,), "pre": (data.n_pre,)}[state_kind]


_DECLARED: dict[str, Strategy] = {}


def declare(name: str, *, state: str, event_driven: bool, needs: tuple[str, ...],
            doc: str = "", seed: str = "", connectivity: str = "",
            scalar_weight: bool = False, multapses: bool = True) -> Strategy:
    """Declare strategy ``name`` (once); returns its :class:`Strategy`.

    Declaring the same name again with the same facts returns the first declaration;
    different facts raise ``ValueError`` (a strategy is declared in one place).
    """
    from .connect import STRUCTURES

    if state not in STATE_KINDS:
        raise ValueError(f"state must be one of {STATE_KINDS}, not {state!r}")
    unknown = [s for s in needs if s not in STRUCTURES]
    if unknown:
        raise ValueError(f"unknown structures {unknown}; known: {STRUCTURES}")
    if connectivity and connectivity not in CONNECTIVITY:
        raise ValueError(f"connectivity must be one of {tuple(CONNECTIVITY)}, not {connectivity!r}")
    new = Strategy(name, state, bool(event_driven), tuple(needs), " ".join(doc.split()), seed,
                   connectivity, bool(scalar_weight), bool(multapses))
    old = _DECLARED.get(name)
    if old is not None and old != new:
        raise ValueError(f"strategy {name!r} is already declared differently: {old}")
    _DECLARED[name] = new
    return new


def undeclare(name: str) -> None:
    """Forget strategy ``name`` (and every backend's registration of it)."""
    from . import registry

    _DECLARED.pop(name, None)
    registry.unregister(name)


def strategy(name: str) -> Strategy:
    return _DECLARED[name]


# --- strategies that hold one kind of connectivity only ---


_MULTAPSES = "this connectivity has several synapses between some (pre, post) pairs (multapses)"


def _all_to_all(conn) -> str | None:
    pairs = conn.n_pre * conn.n_post
    if conn.has_multapses:  # the count alone could match with repeats and pairs missing
        return _MULTAPSES
    if conn.n_syn == pairs or (conn.n_pre == conn.n_post and conn.n_syn == pairs - conn.n_pre
                               and not np.any(conn.pre_ids == conn.post_ids)):
        return None
    return f"this connectivity has {conn.n_syn} of the {pairs} pairs"


def without_self_connections(conn) -> bool:
    """For an all-to-all connectivity: whether pre i -> post i is left out (then
    n_pre == n_post and every other pair is connected)."""
    return conn.n_syn != conn.n_pre * conn.n_post


def _one_to_one(conn) -> str | None:
    if conn.has_multapses:
        return _MULTAPSES
    if conn.n_pre == conn.n_post == conn.n_syn and np.array_equal(conn.pre_ids, conn.post_ids):
        return None
    return (f"this connectivity has {conn.n_syn} synapses between {conn.n_pre} pre and "
            f"{conn.n_post} post neurons, not pre i -> post i for every i")


def _counter_based(conn) -> str | None:
    if conn.generator is not None:
        return None
    return ("this connectivity's synapses are stored, not generated: build it with "
            "FixedProb(p, seed=s, counter_based=True) or FixedPostNum(num, seed=s, "
            "counter_based=True) (--counter-based on the command line)")


#: requirement -> (what it says, check(conn) -> None or why this connectivity fails it).
CONNECTIVITY = {
    "all_to_all": ("every pre neuron connected to every post neuron (All2All, with or "
                   "without self-connections)", _all_to_all),
    "one_to_one": ("pre neuron i connected to post neuron i alone (One2One)", _one_to_one),
    "counter_based": ("a counter-based connectivity, whose synapses it regenerates from "
                  "(seed, pre index)", _counter_based),
}


def unsuited_reason(name: str, conn, weight=None) -> str | None:
    """None when strategy ``name`` holds ``conn`` (and ``weight``, if given), else one
    line saying why not and what to use instead."""
    declared = strategy(name)
    if declared.connectivity:
        what, check = CONNECTIVITY[declared.connectivity]
        why = check(conn)
        if why is not None:
            return f"{name} holds only {what}; {why}. Use pre_slice, csr or dense_post instead"
    if not declared.multapses and conn.has_multapses:
        return (f"{name} holds at most one synapse per (pre, post) pair; {_MULTAPSES}. "
                "Use pre_slice, csr or dense_post instead")
    if declared.scalar_weight and weight is not None and np.ndim(weight) > 0 \
            and np.size(weight) > 1:
        return (f"{name} holds one weight for every synapse, not one per synapse; "
                "per-synapse weights need another strategy, such as pre_slice or dense_post")
    return None


def names() -> tuple[str, ...]:
    """Every declared strategy, in declaration order."""
    return tuple(_DECLARED)


declare("dense", state="matrix", event_driven=False, needs=("conn_mat",), seed='SynMat1 "mat 1"',
        doc="Dense weight matrix, state per matrix element: every element is updated "
            "every step, whatever the firing rate. The reference.")
declare("event_dense", state="matrix", event_driven=True, needs=("conn_mat",),
        seed='SynMat2 "mat 2"',
        doc="Dense weight matrix, state per matrix element: only the rows of the pre "
            "neurons that spiked receive events.")
declare("pre_ids", state="synapse", event_driven=False, needs=("pre_ids", "post_ids"),
        seed="SynVec1 / SynVecJax",
        doc="Per-synapse vectors: every synapse gathers its pre neuron's spike every step; "
            "a scatter-sum onto post neurons gives the conductance.")
declare("pre2syn", state="synapse", event_driven=True, needs=("pre2syn", "post2syn"),
        seed="SynVec2",
        doc="Per-neuron synapse lists: each spiking pre neuron walks its list of synapses; "
            "each post neuron sums its own list.")
declare("pre2post", state="post", event_driven=True, needs=("pre2post",), seed="SynVec3",
        doc="Per-neuron post lists, state per post neuron: each spiking pre neuron adds "
            "its weights to its targets.")
declare("post_slice", state="synapse", event_driven=False,
        needs=("post_slice", "pre_ids", "post_order"), seed="SynVec4",
        doc="Synapses in post-major order: every synapse gathers its pre neuron's spike, "
            "every post neuron sums its own contiguous slice (no scatter).")
declare("pre_slice", state="post", event_driven=True, needs=("pre_slice", "post_ids"),
        seed="SynVec5",
        doc="Pre-major slices, state per post neuron: each spiking pre neuron adds its "
            "weights over its contiguous slice of targets.")
declare("csr", state="post", event_driven=False, needs=("csc", "post_order"),
        seed="library sparse mat-vec",
        doc="Sparse matrix-vector product g += W^T s with the transpose stored once "
            "(CSR of W^T is the CSC of W), whatever the firing rate.")
declare("align_pre_csr", state="pre", event_driven=False, needs=("csc", "post_order"),
        seed="BrainPy AlignPre",
        doc="State per pre neuron (AlignPre): a spike adds 1 to its own neuron's state, "
            "then every step the sparse mat-vec g_post = W^T state over all synapses, "
            "whatever the firing rate. Exact for any synapse model driven by pre spikes "
            "alone (NMDA too).")
declare("align_pre_dense", state="pre", event_driven=False, needs=("conn_mat",),
        seed="BrainPy AlignPre",
        doc="State per pre neuron (AlignPre): a spike adds 1 to its own neuron's state, "
            "then every step the dense mat-vec g_post = W^T state over the whole "
            "n_pre x n_post matrix. Exact for any synapse model driven by pre spikes alone.")
declare("dense_post", state="post", event_driven=False, needs=("conn_mat",),
        seed="GeNN dense, Brian 2 / BrainPy dense mat-vec",
        doc="Dense weight matrix, state per post neuron (AlignPost): every step this "
            "step's input W^T s as one dense mat-vec (BLAS gemv), whatever the firing "
            "rate. The dense layout simulators use for all-to-all connections.")
declare("event_dense_post", state="post", event_driven=True, needs=("conn_mat",),
        seed="brainevent dense event mat-vec",
        doc="Dense weight matrix, state per post neuron: the sum of the rows of W of the "
            "pre neurons that spiked, nothing for the others.")
declare("bitmask", state="post", event_driven=True, needs=("bitmask", "pre_slice"),
        seed="GeNN bitmask", multapses=False,
        doc="One bit per (pre, post) pair (n_pre x n_post / 8 bytes), state per post "
            "neuron: each spiking pre neuron walks the set bits of its row. Per-synapse "
            "weights are stored alongside, in row order. One synapse per pair: refuses "
            "multapses.")
declare("all2all", state="post", event_driven=True, needs=(), connectivity="all_to_all",
        scalar_weight=True, seed="BrainPy all2all",
        doc="No index arrays: with every pair connected, each post neuron receives the "
            "weight times the number of spikes (less its own spike when self-connections "
            "are excluded). All-to-all connectivity and one weight only.")
declare("one2one", state="post", event_driven=False, needs=(), connectivity="one_to_one",
        seed="BrainPy one2one",
        doc="No index arrays: pre neuron i drives post neuron i alone, so the input is "
            "the spikes times the weights, elementwise. One-to-one connectivity only.")
declare("procedural", state="post", event_driven=True, needs=(), connectivity="counter_based",
        scalar_weight=True, seed="GeNN procedural connectivity, brainevent JIT connectivity",
        doc="No synapse stored: each spiking pre neuron's targets are regenerated from "
            "(seed, pre index) by the counter-based connector's hash, every time, so "
            "memory does not grow with the number of synapses. Counter-based FixedProb "
            "and FixedPostNum, one weight only.")
