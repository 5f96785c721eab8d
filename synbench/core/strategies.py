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


def state_shape(state_kind: str, data) -> tuple[int, ...]:
    """The shape of a state held per ``state_kind``, from ``data``'s n_pre, n_post, n_syn."""
    return {"matrix": (data.n_pre, data.n_post), "synapse": (data.n_syn,),
            "post": (data.n_post,), "pre": (data.n_pre,)}[state_kind]


_DECLARED: dict[str, Strategy] = {}


def declare(name: str, *, state: str, event_driven: bool, needs: tuple[str, ...],
            doc: str = "", seed: str = "") -> Strategy:
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
    new = Strategy(name, state, bool(event_driven), tuple(needs), " ".join(doc.split()), seed)
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
