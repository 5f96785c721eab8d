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
from .outputs import save_figure, write_text
from .run import RunResult, check_dtype, check_spec, figure_and_axes, n_steps_for, run

# When dense does not fit at this n, the raster is checked against the first of these
# that runs here (and the table says so).
FALLBACK_REFERENCES = (("pre_slice", "numba"), ("pre_slice", "numpy"))


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

    @property
    def label(self) -> str:
        return f"{self.strategy or 'neurons alone'}-{self.backend}"

    @property
    def agrees(self) -> str:
        if self.result is None or self.strategy is None:
            return ""
        if not self.checked:
            return "unchecked (no reference)"
        if self.first_difference is None:
            return "yes"
        return f"no (step {self.first_difference})"

    def outcome(self) -> str:
        """One line: the run and compile time and the agreement, or why it was skipped."""
        r = self.result
        if r is None:
            return f"{self.label}: skipped: {self.skipped}"
        agrees = f", agrees: {self.agrees}" if self.strategy else ""
        return f"{self.label}: run {r.wall_s:.3g} s, compile {r.compile_s:.2f} s{agrees}"

    def to_json(self) -> dict:
        out = {"strategy": self.strategy, "backend": self.backend, "skipped": self.skipped}
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
                "events/s", "rate E/I Hz", "agrees")
        lines = []
        for row in self.rows:
            r = row.result
            if r is None:
                lines.append((row.strategy or "neurons alone", row.backend, "", "", "", "", "",
                              "", f"skipped: {row.skipped}"))
                continue
            rates = "/".join(f"{v:.1f}" for v in r.rates.values())
            lines.append((
                row.strategy or "neurons alone", row.backend, f"{r.compile_s:.2f}",
                f"{r.wall_s:.3f}", _fmt(row.speedup, "x"), _fmt(row.vs_neurons, "x"),
                f"{r.events / r.wall_s:.3g}" if r.events and r.wall_s else "",
                rates, row.agrees,
            ))
        widths = [max(len(str(c)) for c in col) for col in zip(head, *lines, strict=True)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        rule = "  ".join("-" * w for w in widths)
        return "\n".join([fmt.format(*head), rule] + [fmt.format(*line) for line in lines])

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
        colors = {"numpy": "tab:blue", "numba": "tab:orange", "jax": "tab:green",
                  "cupy": "tab:red"}
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
) -> Comparison:
    """Run every selected entry (plus neurons alone per backend) and cross-check.

    ``reference`` is the (strategy, backend) every raster is checked against, in float64,
    or the float64 :class:`RunResult` of such a run of this network, reused as it is (the
    reference of an earlier ``compare``, for example: ``result.rows`` hold its runs).
    NumPy dense is the default because it is the plainest; on long runs a checked faster
    entry (``("pre_slice", "numba")``, which the tests hold identical to it) saves minutes.
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
    registry.get(*reference)  # an unknown name or a missing backend: one clear error first
    wanted = "-".join(reference)
    candidates = dict.fromkeys((reference,) + FALLBACK_REFERENCES) if given is None else {}
    runnable, skipped = select(strategies, backends)
    started = time.perf_counter()
    conns = spec.connectivity()
    kwargs = dict(duration=duration, dt=dt, progress=progress, conns=conns)

    def attempt(strategy, backend, **extra):
        try:
            return run(spec, strategy, backend, **kwargs, **extra), None
        except SynbenchError as err:  # a structure that does not fit here, for example
            return None, str(err)

    ref_run, ref_skip = given, None
    ref_label = f"{wanted} float64 (given)" if given is not None else None
    for strategy, backend in candidates:
        if registry.available()[backend] is not None:
            continue
        log(f"reference run: {strategy}-{backend} (float64) ...")
        ref_run, why = attempt(strategy, backend, dtype="float64")
        if ref_run is not None:
            ref_label = f"{strategy}-{backend} float64"
            if ref_skip:
                ref_label += f" ({wanted} skipped: {ref_skip})"
            break
        ref_skip = ref_skip or why

    comparison = Comparison(spec, duration, dtype, ref_label or "nothing (no reference ran)",
                            reference_run=ref_run)
    rows = []

    def done(row):  # each answer as soon as it is known, with the time so far
        rows.append(row)
        log(f"  {row.outcome()} ({time.perf_counter() - started:.0f} s so far)")

    for backend in dict.fromkeys(e.backend for e in runnable):
        log(f"neurons alone on {backend} ...")
        result, why = attempt(None, backend, dtype=dtype)
        done(Row(None, backend, result=result, skipped=why))
    # The matrix strategies last: they are the slow ones, and the others answer first.
    for entry in sorted(runnable, key=lambda e: e.state == "matrix"):
        log(f"{entry.id} ...")
        reuse = (ref_run is not None and dtype == "float64"
                 and (entry.name, entry.backend) == (ref_run.strategy, ref_run.backend))
        result, why = (ref_run, None) if reuse else attempt(entry.name, entry.backend,
                                                            dtype=dtype)
        row = Row(entry.name, entry.backend, result=result, skipped=why)
        if result is not None and ref_run is not None:
            row.first_difference = result.first_difference(ref_run)
            row.checked = True
        done(row)

    timed = [r for r in rows if r.result is not None and r.strategy is not None]
    slowest = max((r.result.wall_s for r in timed), default=0.0)
    alone = {r.backend: r.result.wall_s for r in rows if r.strategy is None and r.result}
    for r in timed:
        r.speedup = slowest / r.result.wall_s if r.result.wall_s else math.inf
        base = alone.get(r.backend)
        r.vs_neurons = r.result.wall_s / base if base else None
    comparison.rows = rows + skipped
    return comparison
