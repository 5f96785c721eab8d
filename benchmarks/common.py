"""Shared, seeded inputs for the asv suites, built from the registry (no hand-kept lists).

Rule: only append here, never change what an existing builder returns, so that every
commit is benchmarked on identical data.

asv runs every (benchmark, parameters) in a fresh process and calls ``setup`` again
before every timed sample, so the builders below are cached per process: the first
``setup`` builds, the next ones reuse.
"""

from functools import cache

import numpy as np

import synbench
from synbench.core import registry
from synbench.core.errors import SynbenchError

SEED = 20051115  # fixed for ever: changing it changes every benchmark's input
DT = 0.1
DTYPE = "float64"
SPIKE_POOL = 20  # distinct spike vectors cycled through by the kernel benchmarks
MEMORY_FRACTION = 0.5  # skip what would need more than this share of the free memory

# "strategy-backend" ids for every pair that could exist; setup skips what cannot run.
ENTRY_IDS = [f"{s}-{b}" for b in registry.BACKENDS for s in registry.STRATEGIES]


def entry_or_skip(entry_id):
    """The registry entry, or NotImplementedError (asv's skip) when it cannot run here."""
    strategy, backend = entry_id.rsplit("-", 1)
    try:
        return registry.get(strategy, backend)
    except SynbenchError as err:
        raise NotImplementedError(str(err)) from None


def backend_module(entry):
    return registry.BACKENDS[entry.backend].load()


def p_for(n):
    """The COBA rule: 0.02 at 4000, else 80 / n (80 synapses per neuron on average)."""
    return 0.02 if n == 4000 else 80.0 / n


@cache
def connectivity(n_pre, n_post, p):
    """FixedProb(p) between n_pre and n_post neurons with the suite's seed."""
    return synbench.FixedProb(p, seed=SEED).build(n_pre, n_post)


@cache
def prepared(entry_id, n_pre):
    """The entry's data for the square projection ``connectivity(n_pre, n_pre, p_for(n_pre))``."""
    entry = entry_or_skip(entry_id)
    return entry.prepare(connectivity(n_pre, n_pre, p_for(n_pre)), 0.6, DTYPE)


def spike_train(n_pre, rate_hz, n_steps, seed=SEED):
    """A fixed-seed Poisson spike train: (n_steps, n_pre) bool, rate in Hz at dt = 0.1 ms."""
    rng = np.random.default_rng([seed, n_pre, int(rate_hz)])
    return rng.random((n_steps, n_pre)) < rate_hz * DT / 1000.0


@cache
def spike_pool(backend, n_pre, rate_hz):
    """``spike_train(n_pre, rate_hz, SPIKE_POOL)`` as arrays on ``backend``."""
    module = registry.BACKENDS[backend].load()
    return tuple(module.asarray(s) for s in spike_train(n_pre, rate_hz, SPIKE_POOL))


@cache
def network_spec(name, n):
    """COBA or COBAHH with n neurons (p = 0.02 at 4000, else 80 / n), network seed 0."""
    return synbench.network(name, n)


@cache
def network_connectivity(name, n):
    """Every projection of ``network_spec(name, n)``, built once per process."""
    return network_spec(name, n).connectivity()


def skip_if_too_big(entry, conns, dtype=DTYPE):
    """NotImplementedError when the entry's structures would not fit in memory here.

    ``conns`` is one Connectivity or a dict of them (a network's projections).
    """
    conns = conns.values() if isinstance(conns, dict) else [conns]
    need = sum(entry.nbytes(c, dtype) for c in conns)
    free = backend_module(entry).free_memory()
    if need > MEMORY_FRACTION * free:
        raise NotImplementedError(
            f"{entry.id} needs {need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free")
