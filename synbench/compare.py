"""Run many (strategy, backend) pairs on one network, cross-check them, tabulate, plot.

This is the main job (``synbench compare``): every available entry of the registry
runs the same network from the same connectivity; each raster is checked against the
reference (NumPy ``dense`` in float64 unless ``reference`` names another entry), and run
times are set against the slowest entry and against the same backend's neurons-alone run.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field

from .core import registry
from .core.errors import SynbenchError
from .core.networks import NetworkSpec
from .core.synapses import exactness
from .outputs import save_figure, write_text
from .run import (
    RunResult,
    check_dtype,
    check_spec,
    figure_and_axes,
    n_steps_for,
    run,
    thread_count,
    unsuited_reason,
)

# When dense does not fit at this n, the raster is checked against the first of these
# that runs here and holds the network's synapse models exactly (the table says which).
FALLBACK_REFERENCES = (("pre_slice", "numba"), ("pre_ids", "numba"), ("pre_slice", "numpy"),
                       ("pre_ids", "numpy"))


@dataclass
class Row:
    """One line of the comparison table."""

    strategy: str | None
    backend: str
    result: RunResult | None = None
    skipped: str | None = None
    first_difference: int | None = None
    checked: bool = False
    speedup: float | None = None
    vs_neurons: float | None = None
    #: The devices of a sharded row (``compare(devices=)``); None for one device.
    devices: int | None = None

    @property
    def label(self) -> str:
        inexact = " INEXACT" if self.result is not None and self.result.inexact else ""
        return f"{self.strategy or 'neurons alone'}-{self.backend_label}{inexact}"

    @property
    def backend_label(self) -> str:
        """The backend, with its thread count where it has threads of its own, or the
        devices of a sharded row."""
        if self.result is not None:
            return self.result.backend_label
        if self.devices is None:
            return self.backend
        return f"{self.backend} on {self.devices} devices"

    @property
    def agrees(self) -> str:
        if self.result is None or self.strategy is None:
            return ""
        if not self.checked:
            return "unchecked (no reference)"
        inexact = " (inexact on purpose)" if self.result.inexact else ""
        if self.first_difference is None:
            return "yes" + inexact
        return f"no (step {self.first_difference})" + inexact

    def outcome(self, check: str = "") -> str:
        """One line: the run and compile time and ``check``, or why it was skipped."""
        r = self.result
        if r is None:
            return f"{self.label}: skipped: {self.skipped}"
        return f"{self.label}: run {r.wall_s:.3g} s, compile {r.compile_s:.2f} s{check}"

    def to_json(self) -> dict:
        out = {"strategy": self.strategy, "backend": self.backend, "skipped": self.skipped,
               "devices": self.devices}
        if self.result is not None:
            out.update(self.result.summary())
            out.update(
                agrees=(self.first_difference is None) if self.checked else None,
                first_difference_step=self.first_difference,
                speedup_vs_slowest=self.speedup, ratio_to_neurons_alone=self.vs_neurons,
            )
        return out


@dataclass
class Comparison:
    spec: NetworkSpec
    duration: float
    dtype: str
    reference: str
    rows: list[Row] = field(default_factory=list)
    reference_run: RunResult | None = field(default=None, repr=False)

    def table(self) -> str:
        head = ("strategy", "backend", "compile s", "run s", "speed-up", "x neurons",
                "MiB held", "events/s", "rate E/I Hz", "agrees")
        lines = []
        for row in self.rows:
            r = row.result
            if r is None:
                lines.append((row.strategy or "neurons alone", row.backend_label, "", "", "", "",
                              "", "", "", f"skipped: {row.skipped}"))
                continue
            rates = "/".join(f"{v:.1f}" for v in r.rates.values())
            lines.append((
                row.strategy or "neurons alone", row.backend_label, f"{r.compile_s:.2f}",
                f"{r.wall_s:.3f}", _fmt(row.speedup, "x"), _fmt(row.vs_neurons, "x"),
                f"{r.held_bytes / 2**20:.3g}" if r.held_bytes else "",
                f"{r.events / r.wall_s:.3g}" if r.events and r.wall_s else "",
                rates, row.agrees,
            ))
        widths = [max(len(str(c)) for c in col) for col in zip(head, *lines, strict=True)]
        widths[-1] = len(head[-1])  # the last column, a skip's reason too, is not padded
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        rule = "  ".join("-" * w for w in widths)
        return "\n".join([fmt.format(*head), rule]
                         + [fmt.format(*line).rstrip() for line in lines])

    def header(self) -> str:
        return (f"{self.spec.describe()}, {self.duration:g} ms, {self.dtype}; "
                f"rasters checked against {self.reference}")

    def to_json(self) -> dict:
        return {
            "network": self.spec.name, "n": self.spec.n, "p": self.spec.p,
            "seed": self.spec.seed, "duration_ms": self.duration, "dtype": self.dtype,
            "reference": self.reference, "rows": [row.to_json() for row in self.rows],
        }

    def plot(self, path: str | None = None, ax=None):
        """Log-scale bar chart of run times, as in the seed tutorial's figure; the Axes.

        Draws into ``ax`` when given, else into a new pyplot-free figure; ``path`` saves
        it in the format its extension names (png, pdf, svg), written atomically.
        """
        from matplotlib.patches import Rectangle

        rows = sorted((r for r in self.rows if r.result is not None),
                      key=lambda r: r.result.wall_s, reverse=True)
        colors = {"numpy": "tab:blue", "numba": "tab:orange", "numba_parallel": "tab:brown",
                  "jax": "tab:green", "cupy": "tab:red"}
        fig, ax = figure_and_axes(ax, (9, 0.35 * len(rows) + 1.5))
        y = range(len(rows))
        ax.barh(list(y), [r.result.wall_s for r in rows],
                color=[colors.get(r.backend, "gray") for r in rows],
                hatch=None, edgecolor=["black" if r.strategy is None else "none" for r in rows])
        ax.set_yticks(list(y), [r.label + ("" if r.agrees in ("yes", "") else "  (DISAGREES)")
                                for r in rows])
        ax.set_xscale("log")
        ax.set_xlim(right=4 * max((r.result.wall_s for r in rows), default=1.0))  # labels
        ax.set_xlabel(f"run time (s) for {self.duration:g} ms of {self.spec.name.upper()}, "
                      f"n = {self.spec.n}")
        for i, r in enumerate(rows):
            ax.text(r.result.wall_s, i, f" {r.result.wall_s:.3g} s", va="center", fontsize=8)
        ax.set_title("synbench compare: time per strategy and backend (log scale)")
        present = [b for b in colors if any(r.backend == b for r in rows)]
        # Upper right is free: the fastest (shortest) bars are at the top.
        ax.legend([Rectangle((0, 0), 1, 1, color=colors[b]) for b in present], present,
                  loc="upper right")
        if path is not None:
            save_figure(fig, path, dpi=110)
        return ax

    def save_json(self, path: str) -> None:
        write_text(path, json.dumps(self.to_json(), indent=2, default=_json_default))


def _fmt(value, unit):
    return "" if value is None or not math.isfinite(value) else f"{value:.3g}{unit}"


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value)} to JSON")


def _same_raster(result: RunResult, other: RunResult, name: str) -> str:
    first = result.first_difference(other)
    return f", same raster as {name}: " + ("yes" if first is None else f"no (step {first})")


def _why_inexact(entry, models) -> str:
    return next(why for m in models if (why := exactness(entry.state, m)) is not None)


def check_reference_run(result: RunResult, spec: NetworkSpec, duration: float, dt: float):
    """A given reference run must be a float64 run of this network, duration and dt."""
    if result.strategy is None or result.dtype != "float64":
        raise SynbenchError("a reference run must be a float64 run with synapses, not "
                            f"{result.label} in {result.dtype}")
    same = (result.spec_identity == spec.identity and result.dt == dt
            and result.n_steps == n_steps_for(duration, dt))
    if not same:
        raise SynbenchError(
            f"the reference run ({result.network} n={result.n}, {result.duration_ms:g} ms at "
            f"dt {result.dt:g}) is not a run of this network ({spec.describe()}, seed "
            f"{spec.seed}) for {duration:g} ms at dt {dt:g}; run it again for this one")


def select(strategies=None, backends=None) -> tuple[list[registry.Entry], list[Row]]:
    """The entries to run, and rows for requested ones that cannot run here."""
    for name, chosen in (("strategies", strategies), ("backends", backends)):
        if chosen is not None and (isinstance(chosen, str) or len(chosen) == 0):
            raise SynbenchError(f"{name} must be a non-empty list of names, or None for all, "
                                f"not {chosen!r}")
    for s in strategies or ():
        registry.check_names(strategy=s)
    for b in backends or ():
        registry.check_names(backend=b)
    wanted_backends = list(backends) if backends else list(registry.BACKENDS)
    skipped = []
    for b in wanted_backends:
        reason = registry.available()[b]
        if reason is not None and backends:
            skipped.append(Row(None, b, skipped=reason))
    entries = [
        e for e in registry.entries(available_only=False)
        if e.backend in wanted_backends and (not strategies or e.name in strategies)
    ]
    for e in entries:
        if e.unavailable:
            skipped.append(Row(e.name, e.backend, skipped=e.unavailable))
    runnable = [e for e in entries if e.is_available]
    if not runnable:
        why = "; ".join(dict.fromkeys(f"{r.backend}: {r.skipped}" for r in skipped))
        raise SynbenchError("no selected (strategy, backend) can run here"
                            + (f" ({why})" if why else "") + "; see `synbench list`")
    return runnable, skipped


# compare's per-backend options: the Backend flag of the backends that take it, who
# they are, and the check of a value (too many threads or devices for this machine).
_OPTIONS = {
    "threads": ("threaded", "numba_parallel",
                lambda module, backend, value: thread_count(module, backend, value)),
    "devices": ("sharded", "the jax backend",
                lambda module, backend, value: module.device_mesh(value)),
}


def _check_option(option: str, value, entries) -> None:
    """Refuse, up front, a value of ``option`` no selected backend takes, or one that
    its backend refuses."""
    if value is None:
        return
    flag, who, check = _OPTIONS[option]
    takers = [e.backend for e in entries if getattr(registry.BACKENDS[e.backend], flag)]
    if not takers:
        raise SynbenchError(f"{option} (--{option}) is for {who}, which is not among the "
                            "selected backends")
    check(registry.BACKENDS[takers[0]].load(), takers[0], value)


def compare(
    spec: NetworkSpec,
    strategies: list[str] | None = None,
    backends: list[str] | None = None,
    duration: float = 100.0,
    dt: float = 0.1,
    dtype: str = "float64",
    progress: bool = True,
    log=print,
    reference: tuple[str, str] = ("dense", "numpy"),
    all_matrix: bool = False,
    allow_inexact: bool = False,
    delay_mechanism: str | None = None,
    threads: int | None = None,
    devices: int | None = None,
) -> Comparison:
    """Run every selected entry (plus neurons alone per backend) and cross-check.

    ``reference`` is the (strategy, backend) every raster is checked against, in float64,
    or the float64 :class:`RunResult` of such a run of this network, reused as it is (the
    reference of an earlier ``compare``, for example: ``result.rows`` hold its runs).

    Each answer is logged as soon as it is known, the fast entries first: neurons alone
    on each backend, then the strategies, the matrix strategies (those holding an
    n_pre x n_post matrix, ``entry.dense``: minutes each at n = 4000) last. A reference
    that is itself a matrix strategy (NumPy ``dense``, the default: the plainest) runs
    among them, at the end; until it
    has, each raster is checked against the first float64 raster (the log says which),
    and the table checks every row against the reference. With no ``strategies`` or
    ``backends`` named, the matrix strategies run on the reference's backend only;
    ``all_matrix=True`` runs them on every backend.

    Only the strategies that hold the network's synapse models exactly run (DESIGN
    section 4: no NMDA summed per post neuron), and hold its delays (section 4c:
    per-synapse delays through ``delay_mechanism``, None for each strategy's own); the
    others are listed as skipped with the reason, or refused when named in
    ``strategies``. ``allow_inexact=True`` runs
    them too, labelled inexact in every row (for teaching). ``threads``: the CPU threads
    of the multi-threaded backends (numba_parallel; None: every core), shown beside
    their name. ``devices``: each entry of a backend that shards (jax) runs a second time
    split over that many devices, in a row of its own (``pre_slice-jax on 4 devices``),
    checked like the others; a strategy that cannot be split is listed as skipped.
    """
    check_spec(spec)
    n_steps_for(duration, dt)
    dtype = check_dtype(dtype)
    given = reference if isinstance(reference, RunResult) else None
    if given is not None:
        check_reference_run(given, spec, duration, dt)
        reference = (given.strategy, given.backend)
    if not (isinstance(reference, tuple) and len(reference) == 2
            and all(isinstance(name, str) for name in reference)):
        raise SynbenchError(f"reference must be a (strategy, backend) pair such as "
                            f"('dense', 'numpy') or an earlier float64 RunResult of this "
                            f"network, not {reference!r}")
    reference_entry = registry.get(*reference)  # an unknown name: one clear error first
    models = spec.synapse_models()
    why = registry.inexact_reason(reference[0], models)
    if why is not None:
        raise SynbenchError(f"the reference must be exact: {why}")
    runnable, skipped = select(strategies, backends)
    _check_option("threads", threads, runnable)
    _check_option("devices", devices, runnable)
    inexact = [e for e in runnable if registry.inexact_reason(e.name, models)]
    if inexact and not allow_inexact:
        if strategies:
            raise SynbenchError(f"{registry.inexact_reason(inexact[0].name, models)} "
                                "(--allow-inexact runs it anyway, labelled inexact)")
        runnable = [e for e in runnable if e not in inexact]
        skipped += [Row(e.name, e.backend, skipped=f"inexact: {_why_inexact(e, models)} "
                        "(--allow-inexact runs it, labelled)") for e in inexact]
    conns = spec.connectivity()
    unsuited = {e: unsuited_reason(spec, e.name, conns, e.backend, dt, delay_mechanism)
                for e in runnable}
    unsuited = {e: why for e, why in unsuited.items() if why is not None}
    if unsuited and strategies:
        raise SynbenchError(next(iter(unsuited.values())))
    runnable = [e for e in runnable if e not in unsuited]
    skipped += [Row(e.name, e.backend, skipped=f"not for this connectivity: {why}")
                for e, why in unsuited.items()]
    if strategies is None and backends is None and not all_matrix:
        aside = [e for e in runnable if e.dense and e.backend != reference[1]]
        runnable = [e for e in runnable if e not in aside]
        skipped += [Row(e.name, e.backend, skipped="not run by default (--all-matrix "
                        "runs the matrix strategies on every backend)") for e in aside]
        if aside:
            log(f"{', '.join(dict.fromkeys(e.name for e in aside))}: on {reference[1]} only "
                f"(matrix strategies take minutes each; --all-matrix runs them on "
                f"{', '.join(dict.fromkeys(e.backend for e in aside))} too)")
    started = time.perf_counter()
    float64_runs, float64_failures = {}, {}
    if given is not None:
        float64_runs[reference] = given

    def attempt(strategy, backend, dtype, devices=None):
        """A run, or why it cannot run here; float64 runs are kept for the reference."""
        key = (strategy, backend) if devices is None else (strategy, backend, devices)
        if dtype == "float64" and key in float64_runs:
            return float64_runs[key], None
        if dtype == "float64" and key in float64_failures:
            return None, float64_failures[key]
        try:
            result = run(spec, strategy, backend, duration=duration, dt=dt, dtype=dtype,
                         progress=progress, conns=conns, allow_inexact=allow_inexact,
                         delay_mechanism=delay_mechanism if strategy is not None else None,
                         threads=threads if registry.BACKENDS[backend].threaded else None,
                         devices=devices)
        except SynbenchError as err:  # a structure that does not fit here, for example
            if dtype == "float64":
                float64_failures[key] = str(err)
            return None, str(err)
        if dtype == "float64" and strategy is not None:
            float64_runs[key] = result
        return result, None

    def find_reference():
        """The reference run (run now unless a row already ran it), else a fallback."""
        wanted, why_not = "-".join(reference), None
        candidates = dict.fromkeys((reference,) + (() if given else FALLBACK_REFERENCES))
        for strategy, backend in candidates:
            if (registry.available()[backend] is not None
                    or registry.inexact_reason(strategy, models) is not None):
                continue
            if (strategy, backend) not in float64_runs | float64_failures:
                log(f"reference run: {strategy}-{backend} (float64) ...")
            result, why = attempt(strategy, backend, "float64")
            if result is not None:
                label = f"{strategy}-{backend} float64" + (" (given)" if given else "")
                return result, label + (f" ({wanted} skipped: {why_not})" if why_not else "")
            why_not = why_not or why
        return None, None

    ref_run = ref_label = witness = None
    if not reference_entry.dense or given is not None:
        ref_run, ref_label = find_reference()  # first: each row is checked as it finishes
    rows = []

    def done(row):  # each answer as soon as it is known, with the time so far
        nonlocal witness
        rows.append(row)
        check, result = "", row.result
        if result is not None and row.strategy is not None:
            if result is ref_run or ((row.strategy, row.backend) == reference
                                     and dtype == "float64"):
                check = ", the reference" + (_same_raster(result, witness.result, witness.label)
                                             if witness and result is not ref_run else "")
            elif ref_run is not None:
                check = _same_raster(result, ref_run, "the reference")
            elif witness is not None:
                check = _same_raster(result, witness.result,
                                     f"{witness.label} (the reference runs last)")
            elif dtype == "float64" and not result.inexact:
                witness = row
                check = ", the raster the next rows are checked against until the reference runs"
        log(f"  {row.outcome(check)} ({time.perf_counter() - started:.0f} s so far)")

    def each_layout(backend):
        """One device, then split over ``devices`` where the backend shards."""
        yield None
        if devices is not None and registry.BACKENDS[backend].sharded:
            yield devices

    for backend in dict.fromkeys(e.backend for e in runnable):
        for split in each_layout(backend):
            over = "" if split is None else f" over {split} devices"
            log(f"neurons alone on {backend}{over} ...")
            result, why = attempt(None, backend, dtype, split)
            done(Row(None, backend, result=result, skipped=why, devices=split))
    # The matrix strategies last: they are the slow ones, and the others answer first.
    for entry in sorted(runnable, key=lambda e: (e.dense,
                                                 (e.name, e.backend) != reference)):
        for split in each_layout(entry.backend):
            log(f"{entry.id}{'' if split is None else f' on {split} devices'} ...")
            result, why = attempt(entry.name, entry.backend, dtype, split)
            done(Row(entry.name, entry.backend, result=result, skipped=why, devices=split))
        if ref_run is None and (entry.name, entry.backend) == reference and result:
            ref_run, ref_label = find_reference()
    if ref_run is None:
        ref_run, ref_label = find_reference()
        if ref_run is not None and witness is not None:
            log(f"  the reference, {ref_label}"
                + _same_raster(ref_run, witness.result, witness.label))

    for row in rows:
        if row.result is not None and row.strategy is not None and ref_run is not None:
            row.first_difference = row.result.first_difference(ref_run)
            row.checked = True
    timed = [r for r in rows if r.result is not None and r.strategy is not None]
    slowest = max((r.result.wall_s for r in timed), default=0.0)
    alone = {(r.backend, r.devices): r.result.wall_s for r in rows
             if r.strategy is None and r.result}
    for r in timed:
        r.speedup = slowest / r.result.wall_s if r.result.wall_s else math.inf
        base = alone.get((r.backend, r.devices))
        r.vs_neurons = r.result.wall_s / base if base else None
    return Comparison(spec, duration, dtype, ref_label or "nothing (no reference ran)",
                      rows=rows + skipped, reference_run=ref_run)
