"""One projection, kernel alone: every (strategy, backend) x n_pre x firing rate.

Every entry is checked against ``synbench.core.reference`` before it is timed
(``common.prepared``). Which strategy wins where is a claim about timings, so it lives
here, never in a test (DESIGN section 6); the docstrings say what each suite predicts.
"""

import itertools

import numpy as np

from synbench.core.integrators import decay_factor

from .common import (
    DT,
    DTYPE,
    ENTRY_IDS,
    SPIKE_POOL,
    backend_module,
    connectivity,
    entry_or_skip,
    p_for,
    prepared,
    skip_if_too_big,
    skip_if_unsuited,
    spike_pool,
)

N_PRE = [1000, 4000, 64000]
RATES_HZ = [1, 10, 50]
_calls = itertools.count()  # successive samples step through the spike pool


class KernelStep:
    """One ``entry.step`` then ``entry.conductance`` on an n_pre x n_pre projection.

    p = 0.02 at n_pre = 4000, else 80 / n_pre; one weight (0.6), float64; Poisson spikes
    at ``rate_hz`` (dt = 0.1 ms), a different spike vector in every call.

    Predicted: at 1 Hz and n_pre = 64000 (about 50 synaptic events per step against
    5 x 10^6 synapses) an event-driven strategy wins on every backend, and the matrix
    strategies do not fit.
    """

    params = (ENTRY_IDS, N_PRE, RATES_HZ)
    param_names = ("entry", "n_pre", "rate_hz")
    timeout = 300
    version = 1
    p = None  # p_for(n_pre)

    def setup(self, entry_id, n_pre, rate_hz):
        self.entry = entry_or_skip(entry_id)
        p = p_for(n_pre) if self.p is None else self.p
        skip_if_unsuited(self.entry, connectivity(n_pre, n_pre, p))
        skip_if_too_big(self.entry, connectivity(n_pre, n_pre, p))
        self.module = backend_module(self.entry)
        # Built and checked once per process, reused by every sample.
        self.data = prepared(entry_id, n_pre, self.p)
        self.spikes = spike_pool(self.entry.backend, n_pre, rate_hz)
        self.decay = np.float64(decay_factor(5.0, DT, "exp_euler"))
        self.state = self.entry.init_state(self.data)
        self.time_step()  # the first call compiles (Numba, JAX): never timed

    def time_step(self, *params):
        spikes = self.spikes[next(_calls) % SPIKE_POOL]
        self.state = self.entry.step(self.data, self.state, spikes, self.decay)
        self.module.synchronize(self.entry.conductance(self.data, self.state))


class KernelAllToAll(KernelStep):
    """``KernelStep`` on an all-to-all 500 x 500 projection at high firing rates.

    Predicted by construction (these were once assertions in the tests):

    - ``all2all`` wins on every backend at both rates: with every pair connected, a step
      costs O(n_pre + n_post) whatever the synapses (Numba, 2000 x 2000: 1.95x faster than
      pre_slice at 10 Hz, 6.4x at 100 Hz, measured in one process, runs alternated).
    - NumPy at 2000 Hz (20 % of the pre neurons spike in each step, ~100 per step): one
      Python iteration per spike in the event loops costs more than one vectorised pass
      over all 250 000 synapses, so among the others a full pass wins (``dense_post``'s
      one gemv, or ``event_dense_post``'s rows, vectorised).
    - Numba at 200 Hz (2 % spike): a spike costs its fan-out and nothing more, so the
      event-driven strategies with post-neuron state (event_dense_post, bitmask,
      pre_slice, pre2post) win over ``dense_post`` (a gemv over every element every
      step: 18x slower than pre_slice at 100 Hz), the matrix-state strategies (which
      decay every element) and the per-synapse ones.
    """

    params = (ENTRY_IDS, [500], [200, 2000])
    p = 1.0  # FixedProb(1.0) is all-to-all


class KernelPrepare:
    """Peak memory of ``prepare``: the structures and weights moved to the backend."""

    params = (ENTRY_IDS, N_PRE)
    param_names = ("entry", "n_pre")
    timeout = 300
    version = 1

    def setup(self, entry_id, n_pre):
        self.entry = entry_or_skip(entry_id)
        self.conn = connectivity(n_pre, n_pre, p_for(n_pre))
        skip_if_unsuited(self.entry, self.conn)
        skip_if_too_big(self.entry, self.conn)

    def peakmem_prepare(self, entry_id, n_pre):
        self.entry.prepare(self.conn, 0.6, DTYPE)


class KernelMemory:
    """Bytes per synapse an entry holds (structures, state, weights; float64), estimated.

    Not skipped when it would not fit: the dense strategies' growth is the point.
    """

    params = (ENTRY_IDS, N_PRE)
    param_names = ("entry", "n_pre")
    version = 1

    def setup(self, entry_id, n_pre):
        self.entry = entry_or_skip(entry_id)
        self.conn = connectivity(n_pre, n_pre, p_for(n_pre))
        skip_if_unsuited(self.entry, self.conn)

    def track_bytes_per_synapse(self, entry_id, n_pre):
        return self.entry.nbytes(self.conn, DTYPE) / max(self.conn.n_syn, 1)

    track_bytes_per_synapse.unit = "bytes"
