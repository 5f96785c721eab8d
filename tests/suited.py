"""The network a strategy can run: most run any connectivity, a few hold one kind only.

The network tests are parametrized over every registry entry; this gives each one its
network with no code per strategy, from the declaration alone (``connectivity``):
counter-based connectivity for ``procedural``, all-to-all for ``all2all``, one-to-one
between equal E and I groups for ``one2one``. All-to-all weights are scaled by p / 10:
with p alone (the same mean input) every neuron gets the same input, fires in the same
step, and the inhibition that follows silences the network (15 spikes in 100 ms of COBA
at n = 400), which would leave the raster tests nothing to compare.
"""

import numpy as np

from synbench.core import strategies
from synbench.core.connect import All2All, FixedProb, One2One
from synbench.core.networks import with_connector


def network_for(strategy: str | None, build, **kwargs):
    """``build(**kwargs)`` (coba, cuba, cobahh), connected so that ``strategy`` holds it."""
    kind = strategies.strategy(strategy).connectivity if strategy else ""
    if kind == "counter_based":
        return build(counter_based=True, **kwargs)
    if kind == "all_to_all":
        spec = build(**kwargs)
        return with_connector(spec, All2All(include_self=False), spec.p / 10)
    if kind == "one_to_one":
        return with_connector(build(exc_fraction=0.5, **kwargs), One2One())
    return build(**kwargs)


def connectivity_kind(strategy: str | None) -> str:
    """What ``network_for`` changes for ``strategy`` ('' when nothing): a cache key."""
    return strategies.strategy(strategy).connectivity if strategy else ""


def connectivity_for(strategy: str, n_pre: int, n_post: int, seed: int = 1, p: float = 0.3):
    """A small random connectivity ``strategy`` holds: FixedProb(p) (counter-based for
    ``procedural``), all-to-all for ``all2all``, one-to-one (n_pre x n_pre) for ``one2one``."""
    kind = strategies.strategy(strategy).connectivity
    if kind == "all_to_all":
        return All2All().build(n_pre, n_post)
    if kind == "one_to_one":
        return One2One().build(n_pre)
    return FixedProb(p, seed=seed, counter_based=kind == "counter_based").build(n_pre, n_post)


def weight_for(strategy: str, conn, seed: int = 3):
    """Per-synapse weights in [0.5, 1.5), or one weight where ``strategy`` holds one only."""
    if strategies.strategy(strategy).scalar_weight:
        return 0.75
    return np.random.default_rng(seed).uniform(0.5, 1.5, conn.n_syn)
