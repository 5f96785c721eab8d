"""The CuPy runner: every step on the GPU, a chunk of steps per host round trip.

What it needs from a strategy it reads from the strategy's registration (``reads``,
``cuda``, ``functor``, ``launches``, ``items``, ``record``, ``library``,
``float_spikes``: see :func:`synbench.impls.cupy.register`), never from its name; what
it needs from a delay mechanism, from ``synbench.impls.cupy.delays.NETWORK``.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from functools import cache

import cupy
import numpy as np

from ...core import registry, strategies
from ...core.errors import SynbenchError
from ...core.neurons import NEVER_SPIKED, neuron_model
from ...core.synapses import COBA
from ..numpy import runner as array_runner
from . import BLOCK, COMPILE_OPTIONS, CTYPES, blocks, cuda_source, kernel, modes, source_path
from . import delays as delay_kernels
from . import to_numpy as _to_numpy
from ._neurons import neuron_source


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() not in ("0", "false", "no", "")


# --- the projection record (struct Proj of cuda/common.cuh) ---

_C_FIELD_TYPES = {"long long": np.int64, "unsigned long long": np.uint64, "double": np.float64}
_FIELD = re.compile(r"(unsigned long long|long long|double)\s+([\w\s,]+)")


def _struct_dtype(text: str, name: str) -> np.dtype:
    """The NumPy record of C ``struct name`` in ``text``, whose fields are all 8 bytes."""
    body = re.search(rf"struct {name} \{{(.*?)\}};", text, re.S).group(1)
    fields = []
    for declaration in re.sub(r"//[^\n]*", "", body).split(";"):
        if not declaration.strip():
            continue
        match = _FIELD.fullmatch(declaration.strip())
        if match is None:
            raise SynbenchError(f"struct {name}: {declaration.strip()!r} is not a long long, "
                                "unsigned long long or double field")
        fields += [(f.strip(), _C_FIELD_TYPES[match.group(1)]) for f in match.group(2).split(",")]
    return np.dtype(fields)


#: ``struct Proj``, read from its definition so that NumPy and C agree on the layout.
PROJ_DTYPE = _struct_dtype(source_path("common.cuh").read_text(), "Proj")


def _ptr(x) -> int:
    return 0 if x is None else int(x.data.ptr)


#: Where network.cu's control block ``ctl`` holds the step being computed.
CTL_STEP = int(re.search(r"^#define CTL_STEP (\d+)", source_path("network.cu").read_text(),
                         re.M).group(1))


# --- what the runner needs from a strategy ---


@dataclass(frozen=True)
class NetworkPlan:
    """A strategy's part in the network step, from its registration extras."""

    reads: str
    cuda: object = None
    functor: str | None = None
    launches: tuple[str, ...] = ()
    items: object = None
    record: object = None
    library: object = None
    float_spikes: bool = False

    @classmethod
    def of(cls, entry) -> NetworkPlan:
        x = entry.extras
        if "reads" not in x:
            raise SynbenchError(f"{entry.id} registers no network step for the CuPy runner "
                                "(synbench.impls.cupy.register says what it needs)")
        return cls(x["reads"], x.get("cuda"), x.get("functor"), tuple(x.get("launches", ())),
                   x.get("items"), x.get("record"), x.get("library"),
                   bool(x.get("float_spikes", False)))

    def stages(self, delayed: bool = False) -> tuple[str, ...]:
        """network.cu's stages this strategy launches. ``delayed``: its stages read spike
        vectors the runner delays (section 4c), not the step's own, so the list of this
        step's spikes (``network_spike_list``, which the neuron kernel fills) gives way
        to the same rows served from the flags (``network_spike_flags``)."""
        if not delayed:
            return self.launches
        return tuple("network_spike_flags" if s == "network_spike_list" else s
                     for s in self.launches)

    def kernels(self, ctype: str, delayed: bool = False) -> list[str]:
        """The instances of network.cu's stages this strategy launches."""
        return [f"{stage}<{ctype}, {self.functor}>" for stage in self.stages(delayed)]


def _network_entries(entry) -> list:
    """``entry`` and every other strategy registered on CuPy now: one module holds all
    their stages, so it compiles once per neuron model and dtype, whichever one runs."""
    found = []
    for name in strategies.names():  # in declaration order: the same text for every one
        try:
            found.append(registry.get(name, "cupy"))
        except SynbenchError:  # not on CuPy
            continue
    if entry is not None and entry not in found:
        found.append(entry)
    return found


def network_source(entries, neurons: str, dtype, delayed: bool = False) -> tuple[str, list[str]]:
    """The runner's module for ``entries``: (CUDA code, the kernel instances to compile).

    The code is common.cuh, each strategy's source (once), network.cu and the generated
    neuron kernel ``neurons``; the instances are ``network_currents`` and every stage of
    every entry, with its functor (``delayed``: the stages of a run with delays,
    :meth:`NetworkPlan.stages`).
    """
    ctype = CTYPES[np.dtype(dtype).name]
    plans = [NetworkPlan.of(e) for e in entries]
    sources = list(dict.fromkeys(p.cuda for p in plans if p.cuda is not None))
    names = [f"network_currents<{ctype}>"]
    for plan in plans:
        names += [k for k in plan.kernels(ctype, delayed) if k not in names]
    return cuda_source("common.cuh", *sources, "network.cu") + neurons, names


@cache
def _network_module(code: str, names: tuple[str, ...]) -> cupy.RawModule:
    return cupy.RawModule(code=code, options=COMPILE_OPTIONS, name_expressions=list(names))


def _sm_count() -> int:
    return int(cupy.cuda.Device().attributes["MultiProcessorCount"])


def _resident_blocks(n_threads: int) -> tuple[int]:
    """Blocks for a grid-stride loop over ``n_threads``, at most what the GPU holds at once."""
    return (max(1, min(-(-int(n_threads) // BLOCK), _sm_count() * (2048 // BLOCK))),)


class _Projection:
    """One projection on the GPU: the entry's data and state plus the runner's buffers."""

    def __init__(self, spec, p, entry, plan, conn, dt, dtype):
        self.name = p.name
        self.pre, self.post = spec.group(p.pre), spec.group(p.post)
        # Where the stages find this projection's spikes in the spike vector they read:
        # the network's own (its pre group's ids), or the runner's delayed vectors.
        self.pre_offset = self.pre.start
        self.data = entry.prepare(conn, p.weight, dtype)
        self.state = entry.init_state(self.data)
        self.decay = dtype.type(p.synapse.factors(dt, spec.method)[0])
        self.e_rev = dtype.type(p.e_rev)
        g_init = spec.initial_g.get(p.name)
        self.g_init = None if g_init is None else cupy.asarray(np.asarray(g_init, dtype))
        self.plan = plan
        self.items = int(plan.items(self.data)) if plan.items is not None else 0
        # g_post as network_currents reads it (MODE_* in network.cu): set by a stage or
        # a library call (READ), accumulated atomically (READ_CLEAR), this step's events
        # (DECAY_INC); the state itself holds it for STATE.
        self.buf = None if plan.reads == "STATE" else cupy.zeros(self.post.size, dtype)

    def record(self) -> np.ndarray:
        """This projection as one ``struct Proj`` of common.cuh."""
        d = self.data
        r = np.zeros((), PROJ_DTYPE)
        r["mode"] = modes()[self.plan.reads]
        r["pre_start"], r["n_pre"] = self.pre_offset, self.pre.size
        r["post_start"], r["n_post"] = self.post.start, self.post.size
        r["n_syn"], r["items"], r["decay"], r["e_rev"] = d.n_syn, self.items, self.decay, self.e_rev
        r["state"], r["buf"], r["g_init"] = _ptr(self.state), _ptr(self.buf), _ptr(self.g_init)
        r["w"], r["w_stride"] = _ptr(d.w), d.w_stride
        fields = self.plan.record(d) if self.plan.record is not None else {}
        for field, value in fields.items():
            r[field] = _ptr(value) if isinstance(value, cupy.ndarray) else value
        return r


def Simulation(spec, entry, conns, dt, dtype, chunk_steps, *, delays=None,  # noqa: N802
               **options):
    """The ``Simulation`` protocol of ``synbench.run`` on CuPy: the fused network kernels
    (:class:`FusedSimulation`) for what they hold, one decaying conductance per
    projection through COBA's output, no spike sources (the networks synbench started
    with) and delays they can hold (:func:`fused_delays`), else :class:`ArraySimulation`.

    ``delays`` is the run's ``DelayPlan`` (``synbench.run.plan_delays``), or None.
    """
    if entry is None or (not spec.sources and all(fused_synapses(p) for p in spec.projections)
                         and fused_delays(entry, delays)):
        return FusedSimulation(spec, entry, conns, dt, dtype, chunk_steps, delays=delays,
                               **options)
    return ArraySimulation(spec, entry, conns, dt, dtype, chunk_steps, delays=delays)


def fused_synapses(projection) -> bool:
    """Whether the fused kernels hold this projection's synapse model and output."""
    model = projection.synapse
    return model.single_decay and not model.voltage_jump and isinstance(projection.output, COBA)


def fused_delays(entry, delays) -> bool:
    """Whether the fused kernels hold the run's delays (DESIGN section 4c).

    One delay per projection: always (the strategy's stages read delayed spike vectors).
    Per-synapse delays: where the mechanism runs without the host (spike_ring and
    input_ring: ``delays.NETWORK``; spike_queue's growth needs the host every step) and
    the strategy's network step adds its events into a buffer that ``network_currents``
    adds to the decayed state (``reads="DECAY_INC"``, a state per post neuron: the
    mechanism adds what arrives there instead, exactly after the state advances).
    Other strategies fuse the decay with the conductance, leaving no point between them
    to add delayed events at: ``ArraySimulation`` runs them.
    """
    if delays is None or delays.mechanism is None:
        return True
    return (delays.mechanism in delay_kernels.NETWORK
            and NetworkPlan.of(entry).reads == "DECAY_INC")


class ArraySimulation(array_runner.Simulation):
    """Any synapse model and output: the NumPy runner's step (DESIGN section 4b's
    advance, deliver, conductance, output) on CuPy arrays, array by array from Python,
    with the strategy's CuPy kernels. Slower than the fused runner (a few launches per
    projection and a copy of the spikes per step), and as exact."""

    xp = cupy

    @staticmethod
    def to_numpy(x):
        return cupy.asnumpy(x)


class FusedSimulation:
    """The ``Simulation`` protocol of ``synbench.run``: each step a few kernels, no host.

    One step is (DESIGN section 3): the neuron kernel (update, threshold, reset,
    refractoriness; it also appends the step's spikes to the monitor on the GPU), the
    strategy's stages of network.cu, each for all projections at once, running the
    strategy's own body (pre_slice: one warp per spike of the step; post_slice: one warp
    per post neuron updating and summing its slice; ...), any library call per
    projection (cuBLAS for the matrix strategies, cuSPARSE for csr), then
    ``network_currents``, which folds each projection's decay into reading its
    conductance and accumulates I_syn in projection order. ``launches_per_step`` counts
    them: 3 for pre_slice, pre2post, pre_ids and post_slice, 4 for pre2syn, 6 for csr,
    7 for dense and event_dense.

    Delays (``delays``, a ``DelayPlan``; DESIGN section 4c): with one delay d per
    projection, one launch after the neuron kernel records each projection's pre spikes
    in a ring of d + 1 vectors and writes those of step t - d into a vector of its own
    (``delay_spike_vectors``, cuda/delay_kernels.cu), where the strategy's stages and
    library calls read its spikes (the records' ``pre_start`` points there; a strategy
    that walks the step's spike list walks those flags instead). With per-synapse
    delays (spike_ring or input_ring, post-state strategies: :func:`fused_delays`), the
    stages see no spikes and the mechanism's launches add what arrives into the buffer
    that ``network_currents`` adds to the decayed state. The ring slots follow the step
    index in ``ctl``, so graphs replay them.

    Everything that changes between steps (the step index, the monitor's fill) lives
    on the GPU, so ``graph_steps`` steps are captured once as a CUDA graph and replayed;
    ``use_graphs = False`` (or the environment variable ``SYNBENCH_CUPY_GRAPHS=0``)
    launches every kernel from Python instead. CuPy refuses cuBLAS and cuSPARSE calls
    during capture, so dense, event_dense and csr always launch step by step
    (``graph_error`` says why). The host sees the GPU once per chunk: the chunk's spikes
    are sorted (by step, then neuron) on the GPU and copied.

    The arithmetic and its order are those of ``synbench.impls.numpy.runner``, without
    fused multiply-adds; CUDA's ``exp`` and the atomic or library sums may differ from
    NumPy's in the last bit.
    """

    use_graphs = _env_flag("SYNBENCH_CUPY_GRAPHS", True)
    graph_steps = int(os.environ.get("SYNBENCH_CUPY_GRAPH_STEPS", "100"))
    #: Largest spike monitor, in spikes per chunk (a smaller chunk_steps lowers the need).
    max_capacity = 1 << 26

    def __init__(self, spec, entry, conns, dt, dtype, chunk_steps, *, use_graphs=None,
                 graph_steps=None, delays=None):
        self.dtype = np.dtype(dtype)
        self.entry, self.n, self.chunk_steps = entry, spec.n, int(chunk_steps)
        self.step_index = 0
        if use_graphs is not None:
            self.use_graphs = bool(use_graphs)
        if graph_steps is not None:
            self.graph_steps = int(graph_steps)
        self.graph_steps = max(1, min(self.graph_steps, self.chunk_steps))
        self.graph_error = None
        self._graph = None
        self.neurons = neuron_model(spec, dt, np)  # parameters, method, ref_steps, integrator
        self.vars = {k: cupy.asarray(np.asarray(v, self.dtype)) for k, v in spec.initial.items()}
        self.last_spike = cupy.full(spec.n, NEVER_SPIKED, dtype=np.int32)
        self.i_syn = cupy.zeros(spec.n, dtype=self.dtype)
        self.spiked = cupy.zeros(spec.n, dtype=bool)
        self.ctl = cupy.zeros(4, dtype=np.int32)
        self.ends = cupy.zeros(self.chunk_steps, dtype=np.int32)
        # A neuron spikes at most once per refractory period plus one step.
        per_neuron = -(-self.chunk_steps // (self.neurons.ref_steps + 1))
        self.capacity = min(spec.n * per_neuron, self.max_capacity)
        self.spike_ids = cupy.zeros(max(self.capacity, 1), dtype=np.int32)
        self.plan = NetworkPlan.of(entry) if entry is not None else None
        self.projections = [
            _Projection(spec, p, entry, self.plan, conns[p.name], dt, self.dtype)
            for p in (spec.projections if entry is not None else ())
        ]
        # The neuron kernel writes the spikes as floats too when a library call reads them.
        float_spikes = self.plan is not None and self.plan.float_spikes
        self.spikes_float = cupy.zeros(spec.n if float_spikes else 1, self.dtype)
        self.neuron_source = neuron_source(self.neurons, self.dtype, float_spikes)
        # The spike vectors the stages and library calls read (the network's own unless
        # delayed); the delays' launches before and after the stages (each a callable
        # giving (kernel, grid, arguments): compiled when the program is built, in
        # ``compile``), and the arrays they write.
        self.stage_spikes, self.stage_spikes_float = self.spiked, self.spikes_float
        self.delays = delays if self.projections else None
        self._delay_first, self._delay_last, self._delay_arrays = [], [], []
        if self.delays is not None:
            self._set_up_delays(spec, conns, float_spikes)
        table = np.stack([p.record() for p in self.projections]) if \
            self.projections else np.zeros(1, PROJ_DTYPE)
        self.table = cupy.asarray(table.view(np.uint8))
        self._module = self._program = None
        self._compiled = False
        cupy.cuda.Device().synchronize()
        self.stream = cupy.cuda.Stream(non_blocking=True)

    def _set_up_delays(self, spec, conns, float_spikes: bool) -> None:
        """The delayed spike vectors, and the launches that fill them or deliver the
        per-synapse delays (see the class's docstring)."""
        delays, projections = self.delays, self.projections
        offsets = np.cumsum([0] + [p.pre.size for p in projections])
        for p, offset in zip(projections, offsets, strict=False):
            p.pre_offset = int(offset)
        total = int(offsets[-1])
        self.stage_spikes = cupy.zeros(max(total, 1), dtype=bool)
        self.stage_spikes_float = cupy.zeros(total if float_spikes else 1, self.dtype)
        self._delay_arrays += [self.stage_spikes, self.stage_spikes_float]
        step_at = self.ctl[CTL_STEP:CTL_STEP + 1]
        if delays.mechanism is None:  # one delay per projection: rings of spike vectors
            rings = [cupy.zeros((delays.depth(p.name), p.pre.size), dtype=bool)
                     for p in projections]
            self._delay_arrays += rings
            table = np.array([[_ptr(ring), ring.shape[0], p.pre.start, p.pre.size, p.pre_offset]
                              for p, ring in zip(projections, rings, strict=True)], np.int64)
            self._delay_table = cupy.asarray(table)
            grid = (blocks(max(p.pre.size for p in projections))[0], len(projections))
            args = (self._delay_table, self.spiked, self.stage_spikes, self.stage_spikes_float,
                    np.int32(float_spikes), step_at)
            self._delay_first.append(lambda: [(
                kernel("delay_spike_vectors", self.dtype, delay_kernels.SOURCE), grid, args)])
            return
        # Per-synapse delays: the stages see no spikes (stage_spikes stays zero); the
        # mechanism adds what arrives into the buffer network_currents adds (DECAY_INC).
        launches = delay_kernels.NETWORK[delays.mechanism]
        for p, spec_p in zip(projections, spec.projections, strict=True):
            conn = conns[spec_p.name]
            data = delays.entry.prepare(conn, spec_p.weight, delays.steps[spec_p.name],
                                        self.entry.synapse_slots(conn), self.dtype)
            buffer = delays.entry.init_buffer(data)
            self._delay_arrays.append(buffer)
            spikes = self.spiked[p.pre.start:p.pre.stop]
            self._delay_last.append(functools.partial(launches, data, p.buf, buffer, spikes,
                                                      step_at))

    # --- one step as a list of launches ---

    @property
    def launches_per_step(self) -> int:
        """Kernel launches (and library calls) per step, without graphs."""
        return len(self._get_program())

    def _kernel(self, name: str):
        if self._module is None:
            entries = _network_entries(self.entry) if self.entry is not None else []
            code, names = network_source(entries, self.neuron_source, self.dtype,
                                         delayed=self.delays is not None)
            self._module = _network_module(code, tuple(names))
        return self._module.get_function(name)

    def _get_program(self):
        if self._program is None:
            self._program = self._build_program()
        return self._program

    def _build_program(self):
        """The launches of one step, as argument-free callables (kernels bound to args)."""
        n, n_proj = np.int64(self.n), np.int32(len(self.projections))
        ctype = CTYPES[self.dtype.name]
        state = [self.vars[x] for x in self.neurons.integrator.variables]
        program = [_bind(self._kernel("neuron_update"), blocks(self.n), (
            *state, self.i_syn, self.last_spike, self.spiked, self.spikes_float, self.ctl,
            self.spike_ids, np.int64(self.capacity), n))]
        program += [_bind(*launch) for make in self._delay_first for launch in make()]
        if self.projections:
            delayed = self.delays is not None
            for stage, name in zip(self.plan.stages(delayed), self.plan.kernels(ctype, delayed),
                                   strict=True):
                shape = self._stage_shape(stage)
                if shape is not None:
                    program.append(_bind(self._kernel(name), *shape))
            if self.plan.library is not None:
                for p in self.projections:
                    where = slice(p.pre_offset, p.pre_offset + p.pre.size)
                    spikes = self.stage_spikes_float[where] if self.plan.float_spikes else \
                        self.stage_spikes[where]
                    program.append(self.plan.library(p.data, p.state, p.buf, spikes, p.decay))
        program += [_bind(*launch) for make in self._delay_last for launch in make()]
        program.append(_bind(self._kernel(f"network_currents<{ctype}>"), blocks(self.n), (
            self.i_syn, self.vars["v"], self.table, n_proj, self.spiked, n, self.ctl, self.ends)))
        return program

    def _stage_shape(self, stage: str):
        """(grid, arguments) of a network.cu stage, from its launch shape; None when
        there is nothing to do."""
        n, n_proj = np.int64(self.n), np.int32(len(self.projections))
        spiked = self.stage_spikes  # each projection's at its record's pre_start
        if stage == "network_items":  # a thread per item, blockIdx.y the projection
            work = max(p.items for p in self.projections)
            return ((blocks(work)[0], len(self.projections)), (self.table, spiked)) \
                if work else None
        if stage == "network_post_sums":  # a warp per neuron
            return blocks(32 * self.n), (self.table, n_proj, spiked, n)
        if stage == "network_spike_flags":  # a thread per flag, as many as are resident
            flags = spiked.size if self.delays is not None else self.n
            return _resident_blocks(flags), (self.table, n_proj, spiked, np.int64(flags))
        if stage == "network_spike_list":  # a warp per neuron, as many as are resident
            return _resident_blocks(32 * self.n), (self.table, n_proj, self.spike_ids, self.ctl,
                                                   np.int64(self.capacity))
        raise SynbenchError(f"network.cu has no stage {stage!r}")

    def _steps(self, count: int) -> None:
        program = self._get_program()
        for _ in range(count):
            for launch in program:
                launch()

    # --- the protocol ---

    def compile(self) -> None:
        """Compile every kernel, warm the libraries up, and capture the step graph.

        One step (and the monitor's sort) runs on a copy of the state, restored after, so
        that lazy module loading and library set-up happen here, not in the timed run.
        """
        saved = [(x, x.copy()) for x in self._mutable()]
        with self.stream:
            self.ctl.set(np.array([0, 0, 0, 0], np.int32), stream=self.stream)
            self._steps(1)
            self.stream.synchronize()
            self._sorted_spikes(1, 1)  # loads (or compiles) the sort kernels
            for x, copy in saved:
                x[...] = copy
            self.stream.synchronize()
        if self.use_graphs and self._graph is None:
            self._capture()
        self._compiled = True

    def _capture(self) -> None:
        graph_safe = all(getattr(f, "graph_safe", True) for f in self._get_program())
        if not graph_safe:
            self.graph_error = "a library call allocates per call"
            return
        try:
            with self.stream:
                self.stream.begin_capture()
                try:
                    self._steps(self.graph_steps)
                finally:
                    graph = self.stream.end_capture()
        except Exception as err:  # report it, and launch step by step instead
            self.graph_error = f"{type(err).__name__}: {err}"
            graph = None
        self._graph = graph

    def advance(self, n_steps):
        if not self._compiled:
            self.compile()
        steps, ids = [], []
        done = 0
        while done < n_steps:
            size = min(self.chunk_steps, n_steps - done)
            chunk_steps, chunk_ids = self._chunk(size)
            steps.append(chunk_steps)
            ids.append(chunk_ids)
            done += size
        if not steps:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        return np.concatenate(steps), np.concatenate(ids)

    def _chunk(self, size: int):
        first = self.step_index
        with self.stream:
            self.ctl.set(np.array([first, first, 0, 0], np.int32), stream=self.stream)
            replays = size // self.graph_steps if self._graph is not None else 0
            for _ in range(replays):
                self._graph.launch(self.stream)
            self._steps(size - replays * self.graph_steps)
            total = int(self.ends[size - 1].get(stream=self.stream))
            if total > self.capacity:
                raise SynbenchError(
                    f"{total} spikes in {size} steps overflow the GPU spike monitor "
                    f"({self.capacity}); use a smaller chunk_steps")
            keys = self._sorted_spikes(size, total).get(stream=self.stream)
        self.step_index += size
        steps, fired = np.divmod(keys, self.n)
        return (first + steps).astype(np.int32), fired.astype(np.int32)

    def _sorted_spikes(self, size: int, total: int):
        """The chunk's spikes as keys step_in_chunk * n + neuron, sorted on the GPU.

        As NumPy's nonzero lists them: by step, then neuron. The monitor holds them
        grouped by step already, unordered within one.
        """
        keys = cupy.searchsorted(self.ends[:size], cupy.arange(total, dtype=np.int32),
                                 side="right").astype(np.int64)
        keys *= self.n
        keys += self.spike_ids[:total]
        return cupy.sort(keys)

    def _mutable(self):
        """Every array a step writes."""
        arrays = [*self.vars.values(), self.last_spike, self.i_syn, self.spiked, self.ctl,
                  self.ends, self.spike_ids, self.spikes_float]
        for p in self.projections:
            arrays += [x for x in (p.state, p.buf, p.g_init) if x is not None]
        arrays += [x for x in self._delay_arrays if isinstance(x, cupy.ndarray)]
        unique = {id(x): x for x in arrays}
        return list(unique.values())

    def finite(self) -> bool:
        self.stream.synchronize()
        return all(bool(cupy.isfinite(v).all()) for v in self.vars.values())

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the state as NumPy arrays: as the NumPy runner's ``snapshot``."""
        self.stream.synchronize()
        out = {k: _to_numpy(v).copy() for k, v in self.vars.items()}
        out["i_syn"] = _to_numpy(self.i_syn).copy()
        out["last_spike"] = _to_numpy(self.last_spike).copy()
        for p in self.projections:
            g = self.entry.conductance(p.data, p.state)
            if p.g_init is not None:
                g = g + p.g_init
            out[f"g:{p.name}"] = _to_numpy(g).copy()
        return out


class _bind:  # noqa: N801 - reads as a function
    """A kernel bound to its launch configuration and arguments: call it to launch."""

    __slots__ = ("kernel", "grid", "args")

    def __init__(self, k, grid, args):
        self.kernel, self.grid, self.args = k, tuple(grid), tuple(args)

    def __call__(self):
        self.kernel(self.grid, (BLOCK,), self.args)


__all__ = ["PROJ_DTYPE", "ArraySimulation", "FusedSimulation", "NetworkPlan", "Simulation",
           "fused_delays", "network_source"]
