"""The CuPy runner: every step on the GPU, a chunk of steps per host round trip.

What it needs from a strategy it reads from the strategy's registration (``reads``,
``cuda``, ``functor``, ``launches``, ``items``, ``record``, ``library``,
``float_spikes``: see :func:`synbench.impls.cupy.register`), never from its name.
"""

from __future__ import annotations

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
from . import BLOCK, COMPILE_OPTIONS, CTYPES, blocks, cuda_source, modes, source_path
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

    def kernels(self, ctype: str) -> list[str]:
        """The instances of network.cu's stages this strategy launches."""
        return [f"{stage}<{ctype}, {self.functor}>" for stage in self.launches]


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


def network_source(entries, neurons: str, dtype) -> tuple[str, list[str]]:
    """The runner's module for ``entries``: (CUDA code, the kernel instances to compile).

    The code is common.cuh, each strategy's source (once), network.cu and the generated
    neuron kernel ``neurons``; the instances are ``network_currents`` and every stage of
    every entry, with its functor.
    """
    ctype = CTYPES[np.dtype(dtype).name]
    plans = [NetworkPlan.of(e) for e in entries]
    sources = list(dict.fromkeys(p.cuda for p in plans if p.cuda is not None))
    names = [f"network_currents<{ctype}>"]
    for plan in plans:
        names += [k for k in plan.kernels(ctype) if k not in names]
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
        r["pre_start"], r["n_pre"] = self.pre.start, self.pre.size
        r["post_start"], r["n_post"] = self.post.start, self.post.size
        r["n_syn"], r["items"], r["decay"], r["e_rev"] = d.n_syn, self.items, self.decay, self.e_rev
        r["state"], r["buf"], r["g_init"] = _ptr(self.state), _ptr(self.buf), _ptr(self.g_init)
        r["w"], r["w_stride"] = _ptr(d.w), d.w_stride
        fields = self.plan.record(d) if self.plan.record is not None else {}
        for field, value in fields.items():
            r[field] = _ptr(value) if isinstance(value, cupy.ndarray) else value
        return r


def Simulation(spec, entry, conns, dt, dtype, chunk_steps, **options):  # noqa: N802
    """The ``Simulation`` protocol of ``synbench.run`` on CuPy: the fused network kernels
    (:class:`FusedSimulation`) for what they hold, one decaying conductance per
    projection through COBA's output, and no spike sources (the networks synbench
    started with), else :class:`ArraySimulation`."""
    if entry is None or (not spec.sources and all(fused_synapses(p) for p in spec.projections)):
        return FusedSimulation(spec, entry, conns, dt, dtype, chunk_steps, **options)
    return ArraySimulation(spec, entry, conns, dt, dtype, chunk_steps)


def fused_synapses(projection) -> bool:
    """Whether the fused kernels hold this projection's synapse model and output."""
    model = projection.synapse
    return model.single_decay and not model.voltage_jump and isinstance(projection.output, COBA)


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
                 graph_steps=None):
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
        table = np.stack([p.record() for p in self.projections]) if \
            self.projections else np.zeros(1, PROJ_DTYPE)
        self.table = cupy.asarray(table.view(np.uint8))
        self._module = self._program = None
        self._compiled = False
        cupy.cuda.Device().synchronize()
        self.stream = cupy.cuda.Stream(non_blocking=True)

    # --- one step as a list of launches ---

    @property
    def launches_per_step(self) -> int:
        """Kernel launches (and library calls) per step, without graphs."""
        return len(self._get_program())

    def _kernel(self, name: str):
        if self._module is None:
            entries = _network_entries(self.entry) if self.entry is not None else []
            code, names = network_source(entries, self.neuron_source, self.dtype)
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
        if self.projections:
            for stage, name in zip(self.plan.launches, self.plan.kernels(ctype), strict=True):
                shape = self._stage_shape(stage)
                if shape is not None:
                    program.append(_bind(self._kernel(name), *shape))
            if self.plan.library is not None:
                for p in self.projections:
                    spikes = self.spikes_float[p.pre.start:p.pre.stop] if \
                        self.plan.float_spikes else self.spiked[p.pre.start:p.pre.stop]
                    program.append(self.plan.library(p.data, p.state, p.buf, spikes, p.decay))
        program.append(_bind(self._kernel(f"network_currents<{ctype}>"), blocks(self.n), (
            self.i_syn, self.vars["v"], self.table, n_proj, self.spiked, n, self.ctl, self.ends)))
        return program

    def _stage_shape(self, stage: str):
        """(grid, arguments) of a network.cu stage, from its launch shape; None when
        there is nothing to do."""
        n, n_proj = np.int64(self.n), np.int32(len(self.projections))
        if stage == "network_items":  # a thread per item, blockIdx.y the projection
            work = max(p.items for p in self.projections)
            return ((blocks(work)[0], len(self.projections)), (self.table, self.spiked)) \
                if work else None
        if stage == "network_post_sums":  # a warp per neuron
            return blocks(32 * self.n), (self.table, n_proj, self.spiked, n)
        if stage == "network_spike_flags":  # a thread per neuron, as many as are resident
            return _resident_blocks(self.n), (self.table, n_proj, self.spiked, n)
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
           "network_source"]
