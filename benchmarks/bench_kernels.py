"""One projection, kernel alone: every (strategy, backend) x n_pre x firing rate."""

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
    spike_pool,
)

N_PRE = [1000, 4000, 64000]
RATES_HZ = [1, 10, 50]
_calls = itertools.count()  # successive samples step through the spike pool


class KernelStep:
    """One ``entry.step`` then ``entry.conductance`` on an n_pre x n_pre projection.

    p = 0.02 at n_pre = 4000, else 80 / n_pre; one weight (0.6), float64; Poisson spikes
    at ``rate_hz`` (dt = 0.1 ms), a different spike vector in every call.
    """

    params = (ENTRY_IDS, N_PRE, RATES_HZ)
    param_names = ("entry", "n_pre", "rate_hz")
    timeout = 300
    version = 1

    def setup(self, entry_id, n_pre, rate_hz):
        self.entry = entry_or_skip(entry_id)
        skip_if_too_big(self.entry, connectivity(n_pre, n_pre, p_for(n_pre)))
        self.module = backend_module(self.entry)
        self.data = prepared(entry_id, n_pre)  # built once per process, reused by every sample
        self.spikes = spike_pool(self.entry.backend, n_pre, rate_hz)
        self.decay = np.float64(decay_factor(5.0, DT, "exp_euler"))
        self.state = self.entry.init_state(self.data)
        self.time_step()  # the first call compiles (Numba, JAX): never timed

    def time_step(self, *params):
        spikes = self.spikes[next(_calls) % SPIKE_POOL]
        self.state = self.entry.step(self.data, self.state, spikes, self.decay)
        self.module.synchronize(self.entry.conductance(self.data, self.state))


class KernelPrepare:
    """Peak memory of ``prepare``: the structures and weights moved to the backend."""

    params = (ENTRY_IDS, N_PRE)
    param_names = ("entry", "n_pre")
    timeout = 300
    version = 1

    def setup(self, entry_id, n_pre):
        self.entry = entry_or_skip(entry_id)
        self.conn = connectivity(n_pre, n_pre, p_for(n_pre))
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

    def track_bytes_per_synapse(self, entry_id, n_pre):
        return self.entry.nbytes(self.conn, DTYPE) / max(self.conn.n_syn, 1)

    track_bytes_per_synapse.unit = "bytes"
