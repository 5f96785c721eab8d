"""Whole networks: COBA and COBAHH, 100 ms, every (strategy, backend) x n; COBA with
every synapse model and CUBA at n = 4000, every exact (strategy, backend).

Networks at n = 64000 and those of the matrix strategies are the heavy group, skipped
unless ``SYNBENCH_ASV_HEAVY=1`` (``common.skip_unless_heavy_wanted``).

Driven through the runner protocol of ``synbench.run`` (each backend module's
``Simulation``: build, ``compile()``, ``advance(n_steps)``), so that compilation is
set up outside the timed body and tracked apart (``track_compile_s``).
"""

import tempfile
import time

from synbench.core import registry
from synbench.core.delays import MECHANISMS
from synbench.core.errors import SynbenchError
from synbench.core.synapses import MODELS
from synbench.run import n_steps_for, plan_delays, threads_of

from .common import (
    DT,
    DTYPE,
    ENTRY_IDS,
    backend_module,
    entry_or_skip,
    network_connectivity,
    network_spec,
    skip_if_inexact,
    skip_if_too_big,
    skip_if_unsuited,
    skip_unless_heavy_wanted,
)

DURATION = 100.0  # ms
N_STEPS = n_steps_for(DURATION, DT)
SIZES = [4000, 64000]


class _Network:
    params = (ENTRY_IDS, SIZES)
    param_names = ("entry", "n")
    timeout = 900
    network = "coba"
    synapse = "exponential"
    # One run is long enough to time once per sample, and a few samples suffice.
    number = 1
    repeat = (1, 3, 60.0)
    warmup_time = 0
    version = 1

    def setup(self, entry_id, n):
        self.entry = entry_or_skip(entry_id)
        skip_unless_heavy_wanted(self.entry, n)
        self.spec = network_spec(self.network, n, self.synapse)
        skip_if_inexact(self.entry, self.spec)
        self.conns = network_connectivity(self.network, n)
        skip_if_unsuited(self.entry, self.conns)
        skip_if_too_big(self.entry, self.conns)
        try:
            self.entry.check_fits(self.conns.values(), DTYPE)  # synbench.run's own refusal
        except SynbenchError as err:
            raise NotImplementedError(str(err)) from None
        self.module = backend_module(self.entry)

    delays = None  # the run's DelayPlan (``CobaDelays``)

    def simulation(self):
        """A fresh network on the backend (structures prepared, nothing compiled yet)."""
        options = {} if self.delays is None else {"delays": self.delays}
        return self.module.Simulation(self.spec, self.entry, self.conns, DT, DTYPE, N_STEPS,
                                      **options)


class _NetworkRun(_Network):
    def setup(self, entry_id, n):
        super().setup(entry_id, n)
        # asv calls setup before every sample: each one times 100 ms from the initial state.
        self.sim = self.simulation()
        self.sim.compile()

    def time_run(self, entry_id, n):
        # advance returns the spikes as host (NumPy) arrays, so it has waited for the
        # backend: the timing includes every asynchronous step.
        self.sim.advance(N_STEPS)

    def track_rate_hz(self, entry_id, n):
        """Mean rate of all neurons over 100 ms: a correctness drift shows on the chart."""
        _, ids = self.sim.advance(N_STEPS)
        return ids.size / n / (DURATION / 1000.0)

    track_rate_hz.unit = "Hz"


class _NetworkCompile(_Network):
    def track_compile_s(self, entry_id, n):
        """Seconds of just-in-time compilation before the first step (as RunResult.compile_s),
        with Numba's on-disk cache in an empty folder: a compilation, not a cache load."""
        import numba

        with tempfile.TemporaryDirectory() as empty:
            before, numba.config.CACHE_DIR = numba.config.CACHE_DIR, empty
            try:
                sim = self.simulation()
                start = time.perf_counter()
                sim.compile()
                return time.perf_counter() - start
            finally:
                numba.config.CACHE_DIR = before

    track_compile_s.unit = "seconds"


class Coba(_NetworkRun):
    network = "coba"


class CobaCompile(_NetworkCompile):
    network = "coba"


class Cobahh(_NetworkRun):
    network = "cobahh"


class CobahhCompile(_NetworkCompile):
    network = "cobahh"


class CobaSynapses(_NetworkRun):
    """COBA at n = 4000 with each synapse model (``coba(synapse=...)``)."""

    params = (ENTRY_IDS, list(MODELS))
    param_names = ("entry", "synapse")

    def setup(self, entry_id, synapse):
        self.synapse = synapse
        super().setup(entry_id, 4000)

    def time_run(self, entry_id, synapse):
        super().time_run(entry_id, 4000)

    def track_rate_hz(self, entry_id, synapse):
        return super().track_rate_hz(entry_id, 4000)

    track_rate_hz.unit = "Hz"


class CobaDelays(_NetworkRun):
    """COBA at n = 4000 with delays (DESIGN section 4c): 1.5 ms on every synapse, or
    random per-synapse delays over [0.1, 5] ms; through each strategy's own mechanism
    ("default": a ring of pre spike vectors for one delay) or the one named.

    Predicted: one delay for every synapse costs little more than none on any entry
    (a copy of the pre spike vector per step); per-synapse delays through ``spike_ring``
    cost O(n_syn) per step, so event-driven strategies lose most with it; ``input_ring``
    and ``spike_queue`` stay event-driven.
    """

    params = (ENTRY_IDS, ["1.5", "0.1:5"], ["default", *MECHANISMS])
    param_names = ("entry", "delay_ms", "mechanism")

    def setup(self, entry_id, delay_ms, mechanism):
        low, _, high = delay_ms.partition(":")
        delay = (float(low), float(high)) if high else float(low)
        self.entry = entry_or_skip(entry_id)
        skip_unless_heavy_wanted(self.entry, 4000)
        self.spec = network_spec("coba", 4000, delay=delay)
        self.conns = network_connectivity("coba", 4000)
        skip_if_unsuited(self.entry, self.conns)
        try:
            self.delays = plan_delays(self.spec, self.conns, self.entry, DT,
                                      None if mechanism == "default" else mechanism)
        except SynbenchError as err:  # a strategy or backend without that mechanism
            raise NotImplementedError(str(err)) from None
        self.module = backend_module(self.entry)
        self.sim = self.simulation()
        self.sim.compile()

    def time_run(self, entry_id, delay_ms, mechanism):
        super().time_run(entry_id, 4000)

    def track_rate_hz(self, entry_id, delay_ms, mechanism):
        return super().track_rate_hz(entry_id, 4000)

    track_rate_hz.unit = "Hz"


class Cuba(_NetworkRun):
    network = "cuba"
    params = (ENTRY_IDS, [4000])


class CobaThreads(_NetworkRun):
    """COBA on the multi-threaded backend (numba_parallel) at 1 to 16 threads, n = 4000
    and 64000 (p = 80/n); counts above what this machine allows (``NUMBA_NUM_THREADS``,
    its cores by default) are skipped.

    Predicted: gathers onto post neurons (``csr``, ``post_slice``) and the neuron pass
    scale with the threads until memory bandwidth runs out; scatters (``pre_slice``,
    ``pre2post``) scale less, each thread walking every spike to find its own block of
    post neurons; at n = 4000 a step is a few microseconds, so starting the threads of
    every parallel loop costs as much as the work and one thread may be fastest.
    """

    params = ([e for e in ENTRY_IDS if registry.BACKENDS[e.rsplit("-", 1)[1]].threaded],
              [1, 2, 4, 8, 16], SIZES)
    param_names = ("entry", "threads", "n")

    def setup(self, entry_id, threads, n):
        strategy, backend = entry_id.rsplit("-", 1)
        try:
            self.threads = threads_of(backend_module(registry.get(strategy, backend)),
                                      backend, threads)
        except SynbenchError as err:  # more threads than this machine allows
            raise NotImplementedError(str(err)) from None
        self.threads.__enter__()  # held until teardown: setup compiles, time_run runs
        super().setup(entry_id, n)

    def teardown(self, entry_id, threads, n):
        self.threads.__exit__(None, None, None)

    def time_run(self, entry_id, threads, n):
        super().time_run(entry_id, n)

    def track_rate_hz(self, entry_id, threads, n):
        return super().track_rate_hz(entry_id, n)

    track_rate_hz.unit = "Hz"


class CobaSharded(_NetworkRun):
    """COBA split over 1 to 8 devices on JAX's SPMD runtime (DESIGN section 8), n = 4000
    and 64000 (p = 80/n). Device counts beyond what JAX sees are skipped: on a CPU, run
    asv with ``XLA_FLAGS=--xla_force_host_platform_device_count=8`` for host devices
    (they share the machine's cores, so they show the cost structure, not a speed-up).

    Predicted: the neurons and the synapses of a device shrink as 1/D (``track_synapse_mib``
    as 1/D plus a few % of padding); each step adds one all-gather of n / 8 bytes of
    spike bits and the scan of all n spikes on every device, so the step time falls
    with D on separate accelerators until that collective and scan dominate.
    """

    params = ([e for e in ENTRY_IDS if registry.BACKENDS[e.rsplit("-", 1)[1]].sharded],
              [1, 2, 4, 8], SIZES)
    param_names = ("entry", "devices", "n")

    def setup(self, entry_id, devices, n):
        self.devices = devices
        super().setup(entry_id, n)

    def simulation(self):
        try:  # more devices than there are, or a strategy that cannot be split
            return self.module.ShardedSimulation(self.spec, self.entry, self.conns, DT, DTYPE,
                                                 N_STEPS, devices=self.devices)
        except SynbenchError as err:
            raise NotImplementedError(str(err)) from None

    def time_run(self, entry_id, devices, n):
        super().time_run(entry_id, n)

    def track_rate_hz(self, entry_id, devices, n):
        return super().track_rate_hz(entry_id, n)

    track_rate_hz.unit = "Hz"

    def track_synapse_mib(self, entry_id, devices, n):
        """MiB of synapse structures and weights on each device."""
        return self.sim.device_bytes()["synapses"] / 2**20

    track_synapse_mib.unit = "MiB"
