"""Shared, seeded inputs for the asv suites, built from the registry (no hand-kept lists).

Rule: only append here, never change what an existing builder returns, so that every
commit is benchmarked on identical data.

asv runs every (benchmark, parameters) in a fresh process and calls ``setup`` again
before every timed sample, so the builders below are cached per process: the first
``setup`` builds, the next ones reuse.
"""

import os
from functools import cache

import numpy as np

import synbench
from synbench.core import registry, strategies
from synbench.core.errors import SynbenchError
from synbench.core.reference import mismatch, reference_conductances, reference_scales

SEED = 20051115  # fixed for ever: changing it changes every benchmark's input
DT = 0.1
DTYPE = "float64"
SPIKE_POOL = 20  # distinct spike vectors cycled through by the kernel benchmarks
MEMORY_FRACTION = 0.5  # skip what would need more than this share of the free memory
CHECK_STEPS = 3  # steps checked against the reference before an entry is timed
CHECK_RATE_HZ = 200.0
RTOL = {"float32": 1e-5, "float64": 1e-12}

# The heavy group, opt in with SYNBENCH_ASV_HEAVY=1: networks at more than HEAVY_ABOVE
# neurons and networks of the strategies with a state per matrix element (25-95 s a run
# at n = 4000). Without them one commit's `asv run --quick` took 14 minutes here.
HEAVY = os.environ.get("SYNBENCH_ASV_HEAVY", "") == "1"
HEAVY_ABOVE = 4000

# asv's forkserver (asv.conf.json's launch_method) imports this suite once and forks a
# process for each benchmark and parameter set: the backends imported here, once, spare
# each fork their import (seconds for Numba and JAX). JAX is imported, not started.
for _backend, _missing in registry.available().items():
    if _missing is None:
        registry.BACKENDS[_backend].load()

# "strategy-backend" ids for every pair that could exist; setup skips what cannot run.
ENTRY_IDS = [f"{s}-{b}" for b in registry.BACKENDS for s in strategies.names()]


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
    """FixedProb(p) between n_pre and n_post neurons with the suite's seed, counter-based
    (each neuron's synapses from (seed, neuron) alone) so that ``procedural`` runs too."""
    return synbench.FixedProb(p, seed=SEED, counter_based=True).build(n_pre, n_post)


@cache
def prepared(entry_id, n_pre, p=None):
    """The entry's data for the square projection ``connectivity(n_pre, n_pre, p)``
    (``p`` defaults to ``p_for(n_pre)``), checked against the reference once."""
    entry = entry_or_skip(entry_id)
    conn = connectivity(n_pre, n_pre, p_for(n_pre) if p is None else p)
    skip_if_unsuited(entry, conn)
    data = entry.prepare(conn, 0.6, DTYPE)
    check_against_reference(entry, data, conn, 0.6)
    return data


def check_against_reference(entry, data, conn, weight, dtype=DTYPE):
    """Raise unless ``entry`` computes what ``synbench.core.reference`` does, step by step.

    A benchmark of a wrong kernel would be a number about nothing: asv reports it failed.
    """
    module = backend_module(entry)
    spikes = spike_train(conn.n_pre, CHECK_RATE_HZ, CHECK_STEPS)
    decay = np.dtype(dtype).type(np.exp(-DT / 5.0))
    expected = reference_conductances(conn, weight, spikes, decay)
    scales = reference_scales(conn, weight, spikes, decay)
    state = entry.init_state(data)
    for k, s in enumerate(spikes):
        state = entry.step(data, state, module.asarray(s), decay)
        g = module.to_numpy(entry.conductance(data, state))
        problem = mismatch(g, expected[k], scales[k], RTOL[dtype])
        if problem is not None:
            raise AssertionError(f"{entry.id} disagrees with the reference at step {k}: "
                                 f"{problem}")


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
def network_spec(name, n, synapse="exponential", delay=0.0):
    """COBA, CUBA or COBAHH with n neurons (p = 0.02 at 4000, else 80 / n), network seed 0,
    counter-based connectivity (so that ``procedural`` runs too); COBA with ``synapse``'s
    model on its projections; ``delay`` as ``coba``'s (ms, or (low, high))."""
    kwargs = {} if synapse == "exponential" else {"synapse": synapse}
    if delay != 0.0:
        kwargs["delay"] = delay
    return synbench.network(name, n, counter_based=True, **kwargs)


@cache
def network_connectivity(name, n):
    """Every projection of ``network_spec(name, n)``, built once per process (the synapse
    model does not change the connectivity)."""
    return network_spec(name, n).connectivity()


def skip_if_inexact(entry, spec):
    """NotImplementedError (asv's skip) for a strategy that cannot hold the spec's
    synapse models exactly (``synbench.run`` refuses it too)."""
    why = registry.inexact_reason(entry.name, spec.synapse_models())
    if why is not None:
        raise NotImplementedError(why)


def skip_if_unsuited(entry, conns, weight=0.6):
    """NotImplementedError (asv's skip) for a strategy that holds one kind of connectivity
    only (all2all, one2one) when ``conns`` (one Connectivity or a network's dict) is not
    of that kind."""
    for conn in conns.values() if isinstance(conns, dict) else [conns]:
        why = strategies.unsuited_reason(entry.name, conn, weight)
        if why is not None:
            raise NotImplementedError(why)


def skip_unless_heavy_wanted(entry, n):
    """NotImplementedError (asv's skip) for a network in the heavy group, unless opted in."""
    if not HEAVY and (n > HEAVY_ABOVE or entry.dense):
        raise NotImplementedError(
            f"{entry.id} at n = {n} is in the heavy group: SYNBENCH_ASV_HEAVY=1 runs it")


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
