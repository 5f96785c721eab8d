"""Find, time and import the fastest kernel for *your* connectivity (``synbench.fastest``).

:func:`fastest` times every candidate strategy of one backend on the user's own
connectivity, at the firing rate the user expects, and returns the winning registry
entry with its timing table::

    >>> import synbench
    >>> conn = synbench.FixedProb(1e-4, seed=0).build(100_000, 100_000)
    >>> best = synbench.fastest(conn, backend="numba", rate_hz=1.0)   # doctest: +SKIP
    >>> print(best)                     # doctest: +SKIP
    >>> entry = best.entry              # doctest: +SKIP
    >>> data = entry.prepare(best.connectivity, best.weight, "float64")   # doctest: +SKIP

``print(best)`` shows the ranking and the line of Python that gets the winner; ``entry``
is a registry Entry (prepare/init_state/step/conductance); ``best.connectivity`` and
``best.weight`` are what was timed, in the canonical order ``prepare`` reads.

How it times (DESIGN section 6 says figures are ratios measured in one run; this is one):

- candidates are the available entries of the backend whose structures and state fit in
  80 % of the backend's free memory; the others are reported with the reason;
- each candidate is first checked against the independent reference
  (:mod:`synbench.core.reference`, scipy.sparse in float64 from the user's weights): one
  step from zero state, ``g = W^T s``, then a second step that also checks the decay
  (relative 1e-12 in float64, 1e-5 in float32, relative to ``|W|^T s`` so that
  mixed-sign weights are judged fairly); a candidate that disagrees is excluded and
  reported;
- spikes are fixed-seed Poisson trains (seed 0) at ``rate_hz`` with dt = 0.1 ms, a pool of
  steps replayed from its start in every timed batch; one step is ``entry.step`` then
  ``entry.conductance``; each batch ends with the backend's ``synchronize`` of the last
  conductance;
- the first step (JIT compilation) is excluded; a measurement is the fastest of a few
  equal batches (the usual ``timeit`` rule: noise only ever adds time);
- with ``rate_hz=None`` it sweeps 1, 10 and 50 Hz and the winner has the smallest **mean
  seconds per step over the sweep** (the same ranking as the total);
- ``budget_s`` bounds the whole tuning (preparation and compilation included): candidates
  go cheapest-first by a rough work estimate, and those the budget did not reach are
  reported as skipped (a candidate begun before the deadline finishes its compilation,
  so a slow compile can overrun a little). An incomplete tuning is returned, not cached.

Delays (DESIGN section 4c): no delay, or one delay for every synapse, times exactly as
above: one delay shifts every event by the same number of steps, which changes no
strategy's work per step, so it does not change which strategy is fastest (it is
recorded in the result, not timed). Per-synapse delays (``delay=`` one per synapse, a
``UniformDelay``, or the connectivity's own ``conn.delays``) change the work: then the
candidates are the strategies that can hold them (not the AlignPre ones, nor those
without per-synapse data; skipped with the reason), each through its default delay
mechanism on the backend (``registry.delay_entry(strategy, backend)``: the strategy's
``core.delays.default_mechanism``, or where the backend lacks it one it has for that
state; a strategy with none is skipped with the reason). One timed step is
``state = state * decay``, the mechanism's ``kernel`` (which records this step's spikes
and adds what arrives now), then ``conductance``, the step counter advancing. The check
before timing runs the mechanism for the longest delay + 3 steps (spikes at steps 0, 1
and max_delay + 1, where the ring wraps) against
:func:`synbench.core.reference.reference_delayed_conductances`, every step compared.
``result.mechanism`` names the winner's mechanism and ``usage()`` shows the loop.

Results are cached on disk, one JSON file per (machine, backend and library versions,
connectivity signature, rates, dtype, weight kind, candidate set, per-synapse delays), in
``$SYNBENCH_CACHE_DIR`` or else ``$XDG_CACHE_HOME/synbench`` or ``~/.cache/synbench``.
The connectivity signature is (n_pre, n_post, n_syn, a BLAKE2 hash of the canonical
``pre_ids``/``post_ids``), so a changed connectivity misses. A cached winner is still
checked against the reference (two steps, no timing) before it is returned. A file written by
another synbench version or on another machine is ignored; an unreadable or malformed
file, or one whose values do not hold up (a time that is not a finite non-negative
number, a rate or strategy that was not asked, a winner that is not the fastest of its
table), is ignored with a :class:`CacheWarning`, re-timed and overwritten.
:func:`clear_cache` removes them all.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import numbers
import os
import platform
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._version import __version__
from .core import delays as core_delays
from .core import registry
from .core.cache import cache_dir  # where results are cached (shared with Numba's)
from .core.errors import SynbenchError
from .core.reference import (
    check_reference_fits,
    iter_delayed_conductances,
    mismatch,
    reference_conductances,
    reference_scales,
)
from .run import thread_count, threads_of

DT_MS = 0.1
TAU_MS = 5.0  # the decay used while timing: exp(-dt / tau_exc) of COBA
SWEEP_HZ = (1.0, 10.0, 50.0)
DEFAULT_BUDGET_S = 10.0
SEED = 0
CACHE_FORMAT = 1
MEMORY_FRACTION = 0.8  # as synbench.run: use at most this share of the free memory
RTOL = {"float64": 1e-12, "float32": 1e-5}
CHECK_SPIKE_FRACTION = 0.3  # spikes in the correctness check (at most)
CHECK_TERMS = 100  # ... and at most about this many weights summed per post neuron
REPEATS = 5  # equal batches per measurement (the fastest counts)
MAX_BATCH_S = 0.05  # enough for a stable figure: a measurement takes at most ~0.3 s
PRUNE_FACTOR = 20.0  # a candidate this much slower than the best so far gets one estimate

#: Number of tunings that timed kernels in this process (a cache hit leaves it unchanged).
TIMINGS_RUN = 0


class CacheWarning(UserWarning):
    """A synbench cache file could not be trusted and was ignored."""


class Timing(NamedTuple):
    """One row of a timing table: ``seconds_per_step`` of ``strategy`` at ``rate_hz``."""

    strategy: str
    rate_hz: float
    seconds_per_step: float


@dataclass
class FastestResult:
    """The winner of :func:`fastest` and the evidence.

    ``entry`` is the winning registry entry; ``table`` the :class:`Timing` rows of every
    candidate that was timed; ``skipped`` maps each strategy that was not timed to the
    reason (does not fit, disagrees with the reference, unavailable, budget spent);
    ``from_cache`` says whether the timings were read from the cache.

    ``connectivity`` and ``weight`` are what was timed, in canonical (pre, post) order:
    ``entry.prepare(result.connectivity, result.weight, dtype)`` prepares exactly that.
    ``order`` is None unless index arrays were sorted; then canonical synapse k is the
    user's synapse ``order[k]``, and ``a[order]`` puts any per-synapse array ``a`` of the
    user's into canonical order.

    ``delay_steps`` is the delay as timed, in steps of ``dt`` ms: None or an int (one for
    every synapse: not timed, it changes no ranking) or an int32 array (one per synapse,
    canonical order); with per-synapse delays ``mechanism`` names the winner's delay
    mechanism and ``mechanisms`` each timed strategy's (its default on the backend,
    ``registry.delay_entry(strategy, backend)``), else None and {}.
    """

    entry: registry.Entry
    table: list[Timing]
    skipped: dict[str, str]
    from_cache: bool
    backend: str
    dtype: str
    rates_hz: tuple[float, ...]
    criterion: str
    signature: dict
    complete: bool = True
    budget_s: float | None = None
    tuning_s: float | None = field(default=None, compare=False)
    connectivity: object = field(default=None, repr=False, compare=False)
    weight: object = field(default=None, repr=False, compare=False)
    order: np.ndarray | None = field(default=None, repr=False, compare=False)
    mechanism: str | None = None
    mechanisms: dict = field(default_factory=dict, compare=False)
    delay_steps: object = field(default=None, repr=False, compare=False)
    dt: float = DT_MS
    #: The CPU threads a multi-threaded backend was timed on (numba_parallel), else None.
    threads: int | None = None

    @property
    def per_synapse_delays(self) -> bool:
        """Whether per-synapse delays were timed (through ``mechanism``)."""
        return self.mechanism is not None

    def _backend(self) -> str:
        return self.backend if self.threads is None else f"{self.backend} ({self.threads} threads)"

    def label(self, strategy: str | None = None) -> str:
        """``strategy`` (default: the winner) as ranked: with per-synapse delays, its
        mechanism too, e.g. ``pre_slice (input_ring)``."""
        name = strategy or self.entry.name
        mechanism = self.mechanism if name == self.entry.name else self.mechanisms.get(name)
        return name if mechanism is None else f"{name} ({mechanism})"

    def ranking(self) -> list[tuple[str, float]]:
        """(strategy, score) fastest first; the score is the mean seconds per step over rates."""
        return _rank(self.table, self.rates_hz)

    def seconds_per_step(self, strategy: str | None = None) -> dict[float, float]:
        """{rate: seconds per step} of ``strategy`` (default: the winner)."""
        name = strategy or self.entry.name
        return {t.rate_hz: t.seconds_per_step for t in self.table if t.strategy == name}

    def usage(self) -> str:
        """The Python that gets the winning kernel: one line; with per-synapse delays,
        the lines that prepare it with its delay mechanism and step it, reading
        ``conn``, ``weight`` and ``steps`` (``best.connectivity``, ``best.weight``,
        ``best.delay_steps``: canonical order), ``decay`` and ``spike_steps`` (bool
        spikes of the pre neurons, one vector per step, on the backend)."""
        get = f"entry = synbench.registry.get({self.entry.name!r}, {self.backend!r})"
        if not self.per_synapse_delays:
            return get
        dtype = repr(self.dtype)
        x64 = (["# float64 on JAX: run all of it under `with jax.enable_x64(True):`"]
               if self.backend == "jax" and self.dtype == "float64" else [])
        return "\n".join([
            "# conn, weight, steps = best.connectivity, best.weight, best.delay_steps",
            *x64,
            get,
            f"delayed = synbench.registry.delay_entry({self.entry.name!r}, {self.backend!r}, "
            f"{self.mechanism!r})",
            f"data = entry.prepare(conn, weight, {dtype})",
            "delay_data = delayed.prepare(conn, weight, steps, entry.synapse_slots(conn), "
            f"{dtype})",
            "state, buffer = entry.init_state(data), delayed.init_buffer(delay_data)",
            "for t, spikes in enumerate(spike_steps):",
            "    state = state * decay",
            "    state, buffer = delayed.deliver(delay_data, state, buffer, spikes, t)",
            "    g = entry.conductance(data, state)",
        ])

    def _delay_text(self) -> str:
        """The delays, for the title: '' without any."""
        steps = self.delay_steps
        if steps is None or (not np.ndim(steps) and not steps):
            return ""
        if not np.ndim(steps):
            return f", one delay {steps * self.dt:g} ms"
        low, high = (int(steps.min()), int(steps.max())) if np.size(steps) else (0, 0)
        return f", per-synapse delays {low * self.dt:g}-{high * self.dt:g} ms"

    def __str__(self) -> str:
        sig = self.signature
        density = sig["n_syn"] / (sig["n_pre"] * sig["n_post"]) if sig["n_pre"] * sig[
            "n_post"] else 0.0
        source = "from the cache" if self.from_cache else "measured now"
        if self.tuning_s is not None and not self.from_cache:
            source += f" in {self.tuning_s:.1f} s"
        lines = [
            f"fastest {self._backend()} kernel for {sig['n_pre']} -> {sig['n_post']} neurons, "
            f"{sig['n_syn']} synapses (density {density:.3g}), {self.dtype}, "
            f"{sig['weight']} weight{self._delay_text()}: {self.label()}",
            f"ranked by {self.criterion} (Poisson spikes, dt = {DT_MS:g} ms; {source})",
        ]
        if self.per_synapse_delays:
            lines.append("each strategy through its default delay mechanism (in brackets); "
                         "a step is decay, the mechanism's delivery, the conductance")
        elif self.delay_steps is not None and np.ndim(self.delay_steps) == 0 \
                and self.delay_steps > 0:
            lines.append(f"one delay of {self.delay_steps} steps for every synapse shifts "
                         "every event alike and changes no ranking: timed without it")
        rates = self.rates_hz
        head = ["rank", "strategy", *(f"{r:g} Hz" for r in rates)]
        if len(rates) > 1:
            head.append("mean")
        head.append("vs best")
        rows = []
        ranking = self.ranking()
        best = ranking[0][1] if ranking else math.nan
        for i, (name, score) in enumerate(ranking, 1):
            per = self.seconds_per_step(name)
            row = [str(i), self.label(name), *(_fmt_time(per.get(r)) for r in rates)]
            if len(rates) > 1:
                row.append(_fmt_time(score))
            row.append(f"{score / best:.2f}x" if best > 0 else "")
            rows.append(row)
        widths = [max(len(c) for c in col) for col in zip(head, *rows, strict=True)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines += [fmt.format(*head)] + [fmt.format(*row) for row in rows]
        for name, reason in self.skipped.items():
            lines.append(f"skipped {name}: {reason}")
        if not self.complete:
            lines.append(f"tuning incomplete (budget {self.budget_s:g} s); not cached")
        if self.order is not None:
            lines.append("your synapses were sorted into canonical (pre, post) order: prepare "
                         "with entry.prepare(best.connectivity, best.weight, dtype), and put "
                         "other per-synapse arrays a in that order with a[best.order]")
        usage = self.usage()
        if "\n" in usage:
            lines.append("use it:")
            lines += [f"    {line}" for line in usage.splitlines()]
        else:
            lines.append(f"use it: {usage}")
        return "\n".join(lines)


# --- the public functions ---


def fastest(
    conn,
    backend: str = "numba",
    rate_hz=None,
    dtype: str = "float64",
    weight=None,
    budget_s: float = DEFAULT_BUDGET_S,
    *,
    n_pre: int | None = None,
    n_post: int | None = None,
    strategies=None,
    synapse=None,
    cache: bool = True,
    log=None,
    delay=None,
    dt: float = DT_MS,
    threads: int | None = None,
) -> FastestResult:
    """Time the strategies of ``backend`` on ``conn`` and return the fastest correct one.

    Parameters
    ----------
    conn : Connectivity, (pre_ids, post_ids), or scipy.sparse matrix
        The user's connectivity. Index arrays are synapse k: ``pre_ids[k] -> post_ids[k]``
        in any order (``n_pre``/``n_post`` default to the largest index + 1); a sparse
        matrix of shape (n_pre, n_post) also gives per-synapse weights (its values).
    backend : str
        "numba" (default), "numpy", "jax" or "cupy".
    rate_hz : float, sequence of floats, or None
        Expected firing rate of the pre neurons; None sweeps 1, 10 and 50 Hz and ranks by
        the mean seconds per step over the sweep.
    dtype : "float64" or "float32"
    weight : scalar or array, optional
        One weight for all synapses (default 1.0) or one per synapse, in the order of
        ``conn``: canonical order for a Connectivity (one built from ids in another order
        is refused: see ``Connectivity.canonical``), the given order for index arrays.
        ``result.weight`` holds them in canonical order, for ``result.connectivity``.
    budget_s : float
        Upper bound on the whole tuning, compilation included (default 10 s).
    strategies : iterable of str, optional
        Restrict the candidates (default: every strategy of the backend).
    synapse : str or SynapseModel, optional
        The synapse model the kernel will hold ('nmda', ``NMDA()``, ...): only the
        strategies that hold it exactly are candidates (no NMDA summed per post neuron);
        the others are skipped with the reason, and refused when named in
        ``strategies``. The timing is of the delivery and the conductance, the part
        that differs between strategies.
    cache : bool
        Read and write the on-disk cache (default True).
    log : callable, optional
        Called with one line of text when timing starts (not on a cache hit).
    delay : float, array, UniformDelay or None
        Transmission delays in ms (DESIGN section 4c): one number for every synapse, one
        per synapse (in the order of the weights: canonical for a Connectivity and a
        sparse matrix, the given order for index arrays), ``UniformDelay(low, high)``, or
        None (default): the connectivity's own ``conn.delays`` when it carries them, else
        none. No delay or one number times exactly as without: one delay shifts every
        event by the same number of steps, so it does not change which strategy is
        fastest (it is recorded in ``result.delay_steps``). Per-synapse delays are timed
        through each suited strategy's default delay mechanism (``result.mechanism``).
    dt : float
        The step in ms that the delays are whole multiples of (default 0.1).
    threads : int, optional
        CPU threads of a multi-threaded backend (numba_parallel; default: every core,
        ``NUMBA_NUM_THREADS``). Part of the cache key: the ranking changes with cores.

    Returns
    -------
    FastestResult
        ``.entry`` (the winner), ``.table``, ``.skipped``, ``.from_cache``, ``.usage()``,
        and what was timed: ``.connectivity`` and ``.weight`` (canonical order, ready for
        ``entry.prepare``) and ``.order`` (the sorting of index arrays, else None).

    Raises
    ------
    SynbenchError
        On bad input, or when no candidate fits, runs and agrees with the reference.
    """
    global TIMINGS_RUN
    start = time.perf_counter()  # the budget covers everything from here
    registry.check_names(backend=backend)
    dtype = registry.check_dtype(dtype)
    rates = _check_rates(rate_hz)
    budget_s = _check_budget(budget_s)
    conn, weight, order = _canonical_input(conn, weight, n_pre, n_post)
    module = registry.BACKENDS[backend].load()  # SynbenchError naming what to install
    threads = thread_count(module, backend, threads)
    weight = registry.as_weight(1.0 if weight is None else weight, conn.n_syn, np.float64)
    dt = _check_dt(dt)
    steps = _delay_steps(delay, conn, order, dt)
    per_synapse = core_delays.per_synapse(steps)
    used = dict(connectivity=conn, weight=weight, order=order, delay_steps=steps, dt=dt,
                threads=threads)
    candidates, skipped = _candidates(backend, strategies)
    candidates = _exact(candidates, skipped, synapse, strategies)
    candidates = _suited(candidates, skipped, conn, weight, strategies)
    mechanisms = _delay_entries(candidates, skipped, backend) if per_synapse else None
    if per_synapse:
        candidates = [e for e in candidates if e.name in mechanisms]
    wanted = tuple(e.name for e in candidates) + tuple(sorted(skipped))
    signature = connectivity_signature(conn, weight)
    criterion = (f"seconds per step at {rates[0]:g} Hz" if len(rates) == 1 else
                 f"mean seconds per step over {', '.join(f'{r:g}' for r in rates)} Hz")
    key = {
        "backend": backend, "dtype": dtype, "rates_hz": list(rates), "dt_ms": DT_MS,
        "signature": signature,
        "strategies": list(wanted) if strategies or synapse is not None else None,
        "libraries": _library_versions(backend, module),
    }
    if threads is not None:
        key["threads"] = threads
    if per_synapse:
        key["delays"] = delays_signature(steps, dt)
        reference = _DelayedReference(conn, weight, dtype, steps)
    else:
        reference = _Reference(conn, weight, dtype)

    if cache:
        cached = _load(key)
        if cached is not None:
            entry = registry.get(cached["winner"], backend)
            problem = _check_cached(entry, module, conn, weight, dtype, reference)
            if problem is None:
                return FastestResult(
                    entry=entry, table=[Timing(*row) for row in cached["table"]],
                    skipped=dict(cached["skipped"]), from_cache=True, backend=backend,
                    dtype=dtype, rates_hz=rates, criterion=criterion, signature=signature,
                    budget_s=cached.get("budget_s"), mechanism=cached.get("mechanism"),
                    mechanisms=dict(cached.get("mechanisms") or {}), **used)
            warnings.warn(f"cached winner {entry.id} now disagrees with the reference "
                          f"({problem}); tuning again", CacheWarning, stacklevel=2)

    TIMINGS_RUN += 1
    if log is not None:
        held = (f", per-synapse delays up to {core_delays.max_delay(steps)} steps"
                if per_synapse else "")
        log(f"timing {len(candidates)} {backend} strategies on {conn.n_pre} -> {conn.n_post} "
            f"neurons, {conn.n_syn} synapses{held}, at {', '.join(f'{r:g}' for r in rates)} "
            f"Hz (budget {budget_s:g} s)")
    delayed = None if not per_synapse else _Delayed(steps, mechanisms)
    with threads_of(module, backend, threads):
        table, more_skipped, complete = _tune(candidates, module, conn, weight, dtype, rates,
                                              reference, start + budget_s, delayed)
    skipped.update(more_skipped)
    ranking = _rank(table, rates)
    if not ranking:
        reasons = "; ".join(f"{k}: {v}" for k, v in skipped.items()) or "no candidate"
        raise SynbenchError(f"no {backend} strategy could be timed on this connectivity "
                            f"({reasons})")
    entry = registry.get(ranking[0][0], backend)
    result = FastestResult(
        entry=entry, table=table, skipped=skipped, from_cache=False, backend=backend,
        dtype=dtype, rates_hz=rates, criterion=criterion, signature=signature,
        complete=complete, budget_s=budget_s, tuning_s=time.perf_counter() - start,
        mechanism=mechanisms[entry.name].mechanism if per_synapse else None,
        mechanisms={t.strategy: mechanisms[t.strategy].mechanism for t in table}
        if per_synapse else {}, **used)
    if cache and complete:
        _store(key, result)
    return result


def clear_cache() -> int:
    """Remove every cached :func:`fastest` result; returns how many files were removed."""
    directory = cache_dir()
    removed = 0
    if directory.is_dir():
        for path in directory.glob("fastest-*.json"):
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
    return removed


clear_fastest_cache = clear_cache
fastest.clear_cache = clear_cache  # synbench.fastest.clear_cache() once exported as a function


def as_connectivity(conn, weight=None, *, n_pre=None, n_post=None):
    """``(Connectivity, weight)`` from a Connectivity, index arrays or a scipy.sparse matrix.

    Per-synapse weights come back in canonical (pre-major) order, that of the returned
    connectivity's ``pre_ids``, so ``prepare(conn, weight, dtype)`` takes them as they are.
    """
    conn, weight, _ = _canonical_input(conn, weight, n_pre, n_post)
    return conn, weight


def _canonical_input(conn, weight, n_pre, n_post):
    """As :func:`as_connectivity`, plus the permutation that sorted index arrays (or None)."""
    from .core.connect import Connectivity

    if isinstance(conn, Connectivity):
        for name, given in (("n_pre", n_pre), ("n_post", n_post)):
            if given is not None and given != getattr(conn, name):
                raise SynbenchError(f"{name}={given} does not match the connectivity's "
                                    f"{name}={getattr(conn, name)}")
        return conn, conn.check_weight_order(weight), None
    try:
        import scipy.sparse

        if scipy.sparse.issparse(conn):
            return (*_from_sparse(conn, weight, n_pre, n_post), None)
    except ImportError:  # pragma: no cover - scipy is a dependency
        pass
    if isinstance(conn, tuple | list) and len(conn) == 2:
        given = _from_ids(conn[0], conn[1], n_pre, n_post)
        return (*given.canonical(weight), given.order)
    if hasattr(conn, "build") and n_pre is not None and n_post is not None:
        built = conn.build(_size("n_pre", n_pre), _size("n_post", n_post))
        return built, built.check_weight_order(weight), None
    raise SynbenchError(
        f"cannot use a {type(conn).__name__} as connectivity: give a Connectivity "
        "(e.g. synbench.FixedProb(0.02).build(n_pre, n_post)), a (pre_ids, post_ids) pair "
        "of index arrays, or a scipy.sparse matrix of shape (n_pre, n_post)")


def connectivity_signature(conn, weight) -> dict:
    """What identifies a connectivity in the cache: sizes, and a hash of its structure."""
    pre_ids, post_ids = conn.require("pre_ids", "post_ids")
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{conn.n_pre},{conn.n_post},{conn.n_syn};".encode())
    for ids in (pre_ids, post_ids):
        ids = np.ascontiguousarray(ids)
        h.update(ids.dtype.str.encode())
        h.update(memoryview(ids).cast("B"))
    return {
        "n_pre": int(conn.n_pre), "n_post": int(conn.n_post), "n_syn": int(conn.n_syn),
        "structure": h.hexdigest(),
        "weight": "scalar" if np.ndim(weight) == 0 else "per-synapse",
    }


def delays_signature(steps, dt) -> dict:
    """What identifies per-synapse delays in the cache: a BLAKE2 hash of the steps (int32,
    canonical order), their longest, and dt."""
    steps = np.ascontiguousarray(steps, dtype=np.int32)
    h = hashlib.blake2b(digest_size=16)
    h.update(memoryview(steps).cast("B"))
    return {"steps": h.hexdigest(), "max_steps": core_delays.max_delay(steps),
            "dt_ms": float(dt)}


# --- input checks ---


def _check_dt(dt) -> float:
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real) or not (
            math.isfinite(dt) and dt > 0):
        raise SynbenchError(f"dt must be a positive number of ms, not {dt!r}")
    return float(dt)


def _delay_steps(delay, conn, order, dt):
    """``delay`` in whole steps of ``dt`` (``core.delays.delay_steps``): None (no delay),
    an int (one for every synapse) or an int32 array (one per synapse, canonical order).
    ``order`` sorts the delays of index arrays as their weights; None takes the
    connectivity's own delays."""
    if delay is None and conn.delays is None:
        return None
    delay = core_delays.check_delay(delay)
    if isinstance(delay, np.ndarray) and order is not None and delay.shape == order.shape:
        delay = delay[order]  # else delay_steps refuses its length
    return core_delays.delay_steps(delay, conn, dt, name="this connectivity")


def _size(name, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise SynbenchError(f"{name} must be a positive integer, not {value!r}")
    return int(value)


def _check_rates(rate_hz) -> tuple[float, ...]:
    if rate_hz is None:
        return SWEEP_HZ
    values = [rate_hz] if np.ndim(rate_hz) == 0 else list(np.asarray(rate_hz).ravel())
    if not values:
        raise SynbenchError("rate_hz is empty: give a rate in Hz, a list of rates, or None")
    top = 1000.0 / DT_MS
    out = []
    for r in values:
        if isinstance(r, bool | np.bool_) or not isinstance(r, numbers.Real):
            raise SynbenchError(f"rate_hz must be a number of Hz, not {r!r}")
        if not (math.isfinite(r) and 0 <= r <= top):
            raise SynbenchError(f"rate_hz must be between 0 and {top:g} Hz (one spike per "
                                f"step at dt = {DT_MS:g} ms), not {float(r):g}")
        out.append(float(r))
    return tuple(sorted(set(out)))  # as a cache key, [10, 1] is the question [1, 10]


def _check_budget(budget_s) -> float:
    if isinstance(budget_s, bool) or not isinstance(budget_s, numbers.Real) or not (
            math.isfinite(budget_s) and budget_s > 0):
        raise SynbenchError(f"budget_s must be a positive number of seconds, not {budget_s!r}")
    return float(budget_s)


def _index_array(name, values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise SynbenchError(f"{name} must be a 1-d array of neuron indices, not shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind != "f" or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise SynbenchError(f"{name} must hold integer neuron indices, not {arr.dtype}")
        arr = arr.astype(np.int64)
    if arr.min() < 0:
        raise SynbenchError(f"{name} holds a negative index ({arr.min()})")
    return arr.astype(np.int64, copy=False)


def _from_ids(pre, post, n_pre, n_post):
    """The Connectivity of index arrays in the user's order (it records the sorting)."""
    from .core.connect import Connectivity

    pre, post = _index_array("pre_ids", pre), _index_array("post_ids", post)
    if pre.shape != post.shape:
        raise SynbenchError(f"pre_ids and post_ids must have the same length (one entry per "
                            f"synapse), not {pre.size} and {post.size}")
    n_pre = _size("n_pre", n_pre) if n_pre is not None else int(pre.max(initial=-1)) + 1
    n_post = _size("n_post", n_post) if n_post is not None else int(post.max(initial=-1)) + 1
    if n_pre == 0 or n_post == 0:
        raise SynbenchError("cannot infer n_pre/n_post from empty index arrays; pass "
                            "n_pre= and n_post=")
    for name, ids, n in (("pre_ids", pre, n_pre), ("post_ids", post, n_post)):
        if ids.size and ids.max() >= n:
            raise SynbenchError(f"{name} holds index {ids.max()} but there are only {n} neurons")
    return Connectivity(n_pre, n_post, pre, post, copy=False)


def _from_sparse(matrix, weight, n_pre, n_post):
    from .core.connect import Connectivity

    if weight is not None:
        raise SynbenchError("a scipy.sparse connectivity carries its weights as its values; "
                            "do not pass weight= as well")
    if len(matrix.shape) != 2:
        raise SynbenchError(f"a sparse connectivity must be 2-d (n_pre, n_post), not "
                            f"{matrix.shape}")
    rows, cols = matrix.shape
    for name, given, actual in (("n_pre", n_pre, rows), ("n_post", n_post, cols)):
        if given is not None and given != actual:
            raise SynbenchError(f"{name}={given} does not match the matrix shape {matrix.shape}")
    _size("n_pre", rows)
    _size("n_post", cols)
    csr = matrix.tocsr(copy=True)
    csr.sum_duplicates()  # also sorts the column indices of each row: canonical order
    csr.sort_indices()
    pre = np.repeat(np.arange(rows, dtype=np.int64), np.diff(csr.indptr))
    post = csr.indices.astype(np.int64)
    values = np.asarray(csr.data, dtype=np.float64)
    return Connectivity(rows, cols, pre, post), values


# --- candidates, the reference and the one-step check ---


def _exact(candidates, skipped, synapse, strategies):
    """The candidates that hold ``synapse`` exactly; the others into ``skipped``."""
    if synapse is None:
        return candidates
    from .core.networks import synapse_choice
    from .core.synapses import MODELS

    name = synapse_choice(synapse)
    model = synapse if not isinstance(synapse, str) else MODELS[name]()
    exact = []
    for entry in candidates:
        why = registry.inexact_reason(entry.name, (model,))
        if why is not None and strategies is not None:
            raise SynbenchError(why)
        if why is not None:
            skipped[entry.name] = f"inexact for {model.name}"
        else:
            exact.append(entry)
    return exact


def _suited(candidates, skipped, conn, weight, strategies):
    """The candidates that hold ``conn`` and ``weight`` (all2all: all-to-all only; procedural:
    counter-based connectivity and one weight); the others into ``skipped``."""
    suited = []
    for entry in candidates:
        why = registry.strategies.unsuited_reason(entry.name, conn, weight)
        if why is not None and strategies is not None:
            raise SynbenchError(why)
        if why is not None:
            skipped[entry.name] = why
        else:
            suited.append(entry)
    return suited


def _candidates(backend, strategies):
    if strategies is not None:
        strategies = [strategies] if isinstance(strategies, str) else list(strategies)
        if not strategies:
            raise SynbenchError("strategies is empty: give strategy names or None for all")
        for s in strategies:
            registry.check_names(strategy=s)
    found = [e for e in registry.entries(available_only=False) if e.backend == backend
             and (strategies is None or e.name in strategies)]
    skipped = {e.name: f"unavailable: {e.unavailable}" for e in found if not e.is_available}
    named = {e.name for e in found}
    for s in strategies or ():
        if s not in named:
            skipped[s] = f"not implemented for {backend}"
    return [e for e in found if e.is_available], skipped


def _delay_entries(candidates, skipped, backend) -> dict:
    """{strategy: DelayEntry} of its default delay mechanism on ``backend``
    (``registry.delay_entry``), for the candidates that can hold per-synapse delays; the
    others into ``skipped``."""
    found = {}
    for entry in candidates:
        why = core_delays.unsuited_reason(entry.strategy)
        if why is None:
            try:
                found[entry.name] = registry.delay_entry(entry.name, backend)
            except SynbenchError as err:
                why = str(err)
        if why is not None:
            skipped[entry.name] = why
    return found


class _Delayed(NamedTuple):
    """Per-synapse delays being timed: the steps and each candidate's DelayEntry."""

    steps: np.ndarray
    mechanisms: dict


class _Reference:
    """Two steps of ``synbench.core.reference`` from zero state: spikes, g and scale.

    The spike density is chosen so that no post neuron sums more than about CHECK_TERMS
    weights in a step: float32's worst-case rounding of such a sum (CHECK_TERMS x 2^-24
    of its size) stays below the 1e-5 tolerance, so a correct kernel is never excluded,
    while a wrong index or weight still shows.
    """

    def __init__(self, conn, weight, dtype):
        # Spikes, fan-in counts, two steps of g and scale: refused before any is allocated.
        check_reference_fits(conn, n_steps=8)
        fan_in = int(np.bincount(conn.post_ids, minlength=1).max()) if conn.n_syn else 1
        fraction = min(CHECK_SPIKE_FRACTION, CHECK_TERMS / fan_in)
        rng = np.random.default_rng(SEED + 1)
        self.decay = np.dtype(dtype).type(math.exp(-DT_MS / TAU_MS))
        self.spikes = []
        for _ in range(2):
            spikes = rng.random(conn.n_pre) < fraction
            if conn.n_pre and not spikes.any():
                spikes[rng.integers(conn.n_pre)] = True
            self.spikes.append(spikes)
        self.g = reference_conductances(conn, weight, self.spikes, self.decay)
        # The size of what was summed: tolerances relative to it judge mixed signs fairly.
        self.scale = reference_scales(conn, weight, self.spikes, self.decay)


class _DelayedReference:
    """The check of per-synapse delays: the longest delay + 3 steps, with spikes at steps
    0, 1 and max_delay + 1 (where a ring of max_delay + 1 slots has wrapped) and none
    between, so every delay value arrives and a wrapped slot is reused.

    The expected g and scale of each step come from ``iter_delayed_conductances`` anew
    for each candidate and are compared as they come: memory O(n_pre + n_post) whatever
    the delays, not one conductance per step. Spike density as :class:`_Reference`'s,
    halved (two spike steps' events can arrive in one step); float32's tolerance grows by
    one rounding per step, of the decay's multiplications.
    """

    def __init__(self, conn, weight, dtype, steps):
        check_reference_fits(conn, n_steps=8)
        fan_in = int(np.bincount(conn.post_ids, minlength=1).max()) if conn.n_syn else 1
        fraction = min(CHECK_SPIKE_FRACTION, CHECK_TERMS / fan_in) / 2
        rng = np.random.default_rng(SEED + 2)
        self.conn, self.weight, self.steps = conn, weight, steps
        self.decay = np.dtype(dtype).type(math.exp(-DT_MS / TAU_MS))
        depth = core_delays.ring_depth(steps)
        quiet = np.zeros(conn.n_pre, dtype=bool)
        self.spikes = [quiet] * (depth + 2)
        for t in (0, 1, depth):
            spikes = rng.random(conn.n_pre) < fraction
            if conn.n_pre and not spikes.any():
                spikes[rng.integers(conn.n_pre)] = True
            self.spikes[t] = spikes
        self.rtol = RTOL[dtype] + len(self.spikes) * float(np.finfo(dtype).eps)

    def expected(self):
        """(g, scale) of every step, in turn."""
        args = (self.steps, self.spikes, self.decay)
        return zip(iter_delayed_conductances(self.conn, self.weight, *args),
                   iter_delayed_conductances(self.conn, np.abs(self.weight), *args),
                   strict=True)


def _precision(module, dtype):
    """The backend's context that keeps ``dtype`` (JAX: x64 for float64) around the steps
    written here (the decay of the state); nothing elsewhere."""
    precision = getattr(module, "precision", None)
    return precision(dtype) if precision is not None else contextlib.nullcontext()


def _check_cached(entry, module, conn, weight, dtype, reference) -> str | None:
    """As the check before timing, for a cached winner (with its delay mechanism)."""
    if not isinstance(reference, _DelayedReference):
        return _check_steps(entry, module, conn, weight, dtype, reference)
    try:
        mechanism = registry.delay_entry(entry.name, entry.backend)
    except SynbenchError as err:
        return str(err)
    return _check_delayed(entry, mechanism, module, conn, weight, dtype, reference)


def _check_delayed(entry, mechanism, module, conn, weight, dtype, reference, data=None,
                   delay_data=None) -> str | None:
    """None when ``entry`` with delay ``mechanism`` matches the delayed reference at every
    step of its check, else why not. Runs the mechanism's ``kernel``, what is timed."""
    on_backend = {}
    expected = reference.expected()
    try:
        if data is None:
            data = entry.prepare(conn, _weight_in(weight, dtype), dtype)
        if delay_data is None:
            delay_data = mechanism.prepare(conn, _weight_in(weight, dtype), reference.steps,
                                           entry.synapse_slots(conn), dtype)
        state, buffer = entry.init_state(data), mechanism.init_buffer(delay_data)
    except Exception as err:  # a kernel that cannot run is excluded, not fatal
        return f"failed to prepare its check: {type(err).__name__}: {err}"
    for t, spikes in enumerate(reference.spikes):
        try:
            if id(spikes) not in on_backend:
                on_backend[id(spikes)] = module.asarray(spikes)
            with _precision(module, dtype):
                state = state * reference.decay
                state, buffer = mechanism.kernel(delay_data, state, buffer,
                                                 on_backend[id(spikes)], t)
                g = entry.conductance(data, state)
            g = np.array(module.to_numpy(g), dtype=np.float64)
        except Exception as err:
            return f"failed on check step {t}: {type(err).__name__}: {err}"
        want, scale = next(expected)
        if g.shape != (conn.n_post,):
            return f"conductance has shape {g.shape}, expected ({conn.n_post},)"
        problem = mismatch(g, want, scale, reference.rtol)
        if problem is not None:
            return (f"disagrees with the reference (scipy.sparse, float64, per-synapse "
                    f"delays) through {mechanism.mechanism} at step {t}, {problem}")
    return None


def _check_steps(entry, module, conn, weight, dtype, reference, data=None) -> str | None:
    """None when ``entry`` matches the reference on its two steps, else why not.

    The first step from zero state checks the events (g = W^T s); the second, the decay.
    """
    try:
        if data is None:
            data = entry.prepare(conn, _weight_in(weight, dtype), dtype)
        state = entry.init_state(data)
        results = []
        for spikes in reference.spikes:
            state = entry.step(data, state, module.asarray(spikes), reference.decay)
            g = module.to_numpy(entry.conductance(data, state))
            results.append(np.array(g, dtype=np.float64))  # a copy: the state may be g
    except Exception as err:  # a kernel that cannot run is excluded, not fatal
        return f"failed on a check step: {type(err).__name__}: {err}"
    for k, (g, expected, scale) in enumerate(
            zip(results, reference.g, reference.scale, strict=True), 1):
        if g.shape != (conn.n_post,):
            return f"conductance has shape {g.shape}, expected ({conn.n_post},)"
        problem = mismatch(g, expected, scale, RTOL[dtype])
        if problem is not None:
            return (f"disagrees with the reference (scipy.sparse, float64) at step {k}, "
                    f"{problem}")
    return None


def _weight_in(weight, dtype):
    return weight if np.ndim(weight) else float(weight)


# --- the tuning ---


def _work_estimate(entry, conn, rates, mechanism=None) -> float:
    """A rough count of memory touches per step: the order in which candidates are tried
    (with per-synapse delays, the delivery is ``mechanism``'s)."""
    p = float(np.mean(rates)) * DT_MS / 1000.0
    events = p * conn.n_syn
    if mechanism is not None:
        per_state = math.prod(registry.strategies.state_shape(entry.state, conn))
        delivery = {"spike_ring": conn.n_syn, "input_ring": events + conn.n_post}
        return 2.0 * per_state + delivery.get(mechanism, 2.0 * events)
    if entry.dense:
        return conn.n_pre * conn.n_post * (1.0 if entry.event_driven else 2.0)
    if entry.state == "synapse":
        return conn.n_syn * (1.0 if entry.event_driven else 2.0) + conn.n_post
    return conn.n_post + (events if entry.event_driven else conn.n_syn)


def _fits(entry, module, conn, dtype, mechanism=None, depth=1) -> str | None:
    try:
        needed = entry.nbytes(conn, dtype)
        if mechanism is not None:
            needed += core_delays.nbytes(mechanism, conn, depth, dtype)
        free = module.free_memory()
    except Exception as err:
        return f"cannot estimate its memory: {err}"
    if needed > MEMORY_FRACTION * free:
        return (f"needs about {_fmt_bytes(needed)} but {_fmt_bytes(free)} is free "
                f"(limit {MEMORY_FRACTION:.0%})")
    return None


def _spike_pool(n_pre, rate, n_steps, module):
    """``n_steps`` fixed-seed Poisson spike vectors at ``rate`` Hz, already on the backend."""
    rng = np.random.default_rng([SEED, int(round(rate * 1000))])
    p = rate * DT_MS / 1000.0
    return [module.asarray(rng.random(n_pre) < p) for _ in range(n_steps)]


def _pool_steps(n_pre) -> int:
    return int(np.clip(20_000_000 // max(n_pre, 1), 8, 100))


def _tune(candidates, module, conn, weight, dtype, rates, reference, deadline, delayed=None):
    """Check and time ``candidates``; ``delayed`` (a :class:`_Delayed`): through their
    delay mechanisms, per-synapse delays."""
    table: list[Timing] = []
    skipped: dict[str, str] = {}
    sync = module.synchronize
    decay = np.dtype(dtype).type(math.exp(-DT_MS / TAU_MS))

    def mechanism_of(entry):
        return None if delayed is None else delayed.mechanisms[entry.name]

    depth = 1 if delayed is None else core_delays.ring_depth(delayed.steps)
    order = []
    for entry in candidates:  # memory first, for all: a reason that no budget changes
        mechanism = getattr(mechanism_of(entry), "mechanism", None)
        reason = _fits(entry, module, conn, dtype, mechanism, depth)
        if reason is None:
            order.append(entry)
        else:
            skipped[entry.name] = reason
    order.sort(key=lambda e: _work_estimate(e, conn, rates,
                                            getattr(mechanism_of(e), "mechanism", None)))
    pool_steps = _pool_steps(conn.n_pre)
    pools: dict[float, list] = {}
    best: dict[float, float] = {}
    setup_times: list[float] = []
    complete = True
    timed_any = False
    for i, entry in enumerate(order):
        if timed_any and time.perf_counter() >= deadline:
            for rest in order[i:]:
                skipped[rest.name] = "not timed: the tuning budget was spent (raise budget_s)"
            complete = False
            break
        t0 = time.perf_counter()
        mechanism = mechanism_of(entry)
        delay_data = clock = None
        try:
            data = entry.prepare(conn, _weight_in(weight, dtype), dtype)
            if mechanism is not None:
                delay_data = mechanism.prepare(conn, _weight_in(weight, dtype), delayed.steps,
                                               entry.synapse_slots(conn), dtype)
        except Exception as err:
            skipped[entry.name] = f"prepare failed: {type(err).__name__}: {err}"
            continue
        if mechanism is None:
            problem = _check_steps(entry, module, conn, weight, dtype, reference, data)
        else:
            problem = _check_delayed(entry, mechanism, module, conn, weight, dtype, reference,
                                     data, delay_data)
        if problem is not None:
            skipped[entry.name] = problem
            continue
        try:
            state = entry.init_state(data)
            # Warm-up: the first call compiles (Numba, JAX); never timed.
            zero = module.asarray(np.zeros(conn.n_pre, dtype=bool))
            if mechanism is None:
                state = entry.step(data, state, zero, decay)
            else:  # the mechanism's kernel, its delay data and buffer, the next step
                buffer = mechanism.init_buffer(delay_data)
                with _precision(module, dtype):
                    state = state * decay
                    state, buffer = mechanism.kernel(delay_data, state, buffer, zero, 0)
                clock = [mechanism.kernel, delay_data, buffer, 1,
                         functools.partial(_precision, module, dtype)]
            sync(entry.conductance(data, state))
        except Exception as err:
            skipped[entry.name] = f"failed: {type(err).__name__}: {err}"
            continue
        setup_times.append(time.perf_counter() - t0)
        rows = []
        try:
            for j, rate in enumerate(rates):
                if rate not in pools:
                    pools[rate] = _spike_pool(conn.n_pre, rate, pool_steps, module)
                left = len(order) - i - 1
                slots = (len(rates) - j) + left * len(rates)
                reserve = left * float(np.mean(setup_times))
                allowance = 0.9 * max(0.0, (deadline - time.perf_counter() - reserve) / slots)
                seconds, state = _measure(entry, data, state, pools[rate], decay, sync,
                                          allowance, best.get(rate), clock)
                rows.append(Timing(entry.name, rate, seconds))
        except Exception as err:  # e.g. out of device memory mid-run: excluded, reported
            skipped[entry.name] = f"failed while timed: {type(err).__name__}: {err}"
            continue
        finally:
            del data, state, delay_data, clock
        table += rows
        for row in rows:
            best[row.rate_hz] = min(best.get(row.rate_hz, math.inf), row.seconds_per_step)
        timed_any = True
    return table, skipped, complete


def _measure(entry, data, state, pool, decay, sync, allowance, best, delayed=None):
    """Seconds per step: the fastest of up to REPEATS equal batches within ``allowance``.

    ``delayed``: [kernel, delay data, buffer, next step, precision context maker] of a delay
    mechanism (updated in place), whose kernel delivers after the decay instead of
    ``entry.step``.
    """
    step, conductance = entry.step, entry.conductance
    n_pool = len(pool)

    def batch(n):
        nonlocal state
        t = time.perf_counter()
        g = None
        if delayed is None:
            for k in range(n):
                state = step(data, state, pool[k % n_pool], decay)
                g = conductance(data, state)
        else:
            kernel, delay_data, buffer, clock, precision = delayed
            with precision():
                for k in range(n):
                    state = state * decay
                    state, buffer = kernel(delay_data, state, buffer, pool[k % n_pool], clock)
                    clock += 1
                    g = conductance(data, state)
            delayed[2], delayed[3] = buffer, clock
        sync(g)
        return time.perf_counter() - t

    start = time.perf_counter()
    first = batch(1)  # calibration: also the estimate of a hopeless candidate
    if best is not None and first > PRUNE_FACTOR * best:
        return first, state
    target = min(allowance / (REPEATS + 1), MAX_BATCH_S)
    n = int(np.clip(target / max(first, 1e-9), 1, 100 * n_pool))
    if n >= n_pool:
        n -= n % n_pool  # whole passes over the pool: every batch sees the same spikes
    results = []
    while len(results) < REPEATS:
        results.append(batch(n) / n)
        if time.perf_counter() - start >= allowance:
            break
    return min(results), state


def _rank(table, rates) -> list[tuple[str, float]]:
    per: dict[str, dict[float, float]] = {}
    for t in table:
        per.setdefault(t.strategy, {})[t.rate_hz] = t.seconds_per_step
    scores = [(name, float(np.mean([times[r] for r in rates])))
              for name, times in per.items() if all(r in times for r in rates)]
    return sorted(scores, key=lambda item: item[1])


# --- the cache ---


@functools.cache
def _machine() -> dict:
    """What makes timings from one machine worthless on another."""
    return {
        "node": platform.node(), "system": platform.system(), "arch": platform.machine(),
        "cpu": _cpu_model(), "cpus": os.cpu_count(),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _library_versions(backend, module) -> dict:
    """Library versions and the device: a new numba or another GPU makes new timings."""
    import sys

    versions = {"python": platform.python_version(), "numpy": np.__version__}
    lib = {"numba": "numba", "numba_parallel": "numba", "jax": "jax", "cupy": "cupy"}.get(backend)
    if lib and lib in sys.modules:
        versions[lib] = getattr(sys.modules[lib], "__version__", "?")
    try:
        if backend == "jax":
            import jax

            versions["device"] = str(jax.devices()[0].device_kind)
        elif backend == "cupy":
            import cupy

            props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
            versions["device"] = props["name"].decode(errors="replace")
    except Exception:  # a name for the cache key is never worth failing for
        versions["device"] = "?"
    return versions


def _cache_file(key) -> Path:
    blob = json.dumps({"key": key, "machine": _machine()}, sort_keys=True)
    return cache_dir() / f"fastest-{hashlib.sha256(blob.encode()).hexdigest()[:32]}.json"


def _load(key) -> dict | None:
    """The cached record for ``key``, or None: absent, another version's, or untrustworthy.

    Everything read is checked by value before use, so a damaged file (a number out of
    range, a wrong type, an unknown strategy) is ignored with a CacheWarning, re-timed and
    overwritten, never a crash of every later call for the key.
    """
    path = _cache_file(key)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        warnings.warn(f"ignoring unreadable synbench cache file {path}: {err}", CacheWarning,
                      stacklevel=3)
        return None
    try:
        record = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        problem = f"not valid JSON ({err})"
    else:
        problem = _malformed(record)
        if problem is None and (record["synbench_version"] != __version__
                                or record["kernel_api_version"] != registry.KERNEL_API_VERSION):
            return None  # another version's: not an error, just not ours
        problem = problem or _wrong_values(record, key)
    if problem is not None:
        warnings.warn(f"ignoring corrupted synbench cache file {path}: {problem}", CacheWarning,
                      stacklevel=3)
        return None
    return record


def _malformed(record) -> str | None:
    """None when ``record`` has the shape and types :func:`_store` writes, else what is wrong."""
    if not isinstance(record, dict):
        return "not a JSON object"
    if isinstance(record.get("format"), bool) or record.get("format") != CACHE_FORMAT:
        return f"unknown format {record.get('format')!r}"
    for name, kind in (("synbench_version", str), ("kernel_api_version", int),
                       ("machine", dict), ("key", dict), ("winner", str), ("table", list),
                       ("skipped", dict)):
        value = record.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"field {name!r} missing or not a {kind.__name__}"
    for row in record["table"]:
        if not (isinstance(row, list) and len(row) == 3 and isinstance(row[0], str)
                and _finite_number(row[1]) and _finite_number(row[2])
                and row[1] >= 0 and row[2] >= 0):
            return f"bad table row {row!r}"
    if not all(isinstance(v, str) for v in record["skipped"].values()):
        return "bad skipped reasons"
    budget = record.get("budget_s")
    if budget is not None and not (_finite_number(budget) and budget > 0):
        return f"bad budget_s {budget!r}"
    mechanism = record.get("mechanism")
    if mechanism is not None and not isinstance(mechanism, str):
        return f"bad mechanism {mechanism!r}"
    mechanisms = record.get("mechanisms") or {}
    if not (isinstance(mechanisms, dict) and all(
            isinstance(v, str) and v in core_delays.MECHANISMS for v in mechanisms.values())):
        return f"bad mechanisms {mechanisms!r}"
    return None


def _wrong_values(record, key) -> str | None:
    """None when a well-formed ``record`` answers ``key`` here, else what does not fit."""
    # The file name hashes the key and the machine: another one inside means damage.
    if record["machine"] != _machine():
        return "it names another machine than the one its file name is for"
    if record["key"] != json.loads(json.dumps(key)):
        return "it answers another question than the one its file name is for"
    backend, rates = key["backend"], key["rates_hz"]
    known = set(_strategies_of(backend))
    seen = set()
    for name, rate, _ in record["table"]:
        if name not in known:
            return f"its table names {name!r}, not a {backend} strategy"
        if rate not in rates or (name, rate) in seen:
            return f"its table has a stray or repeated row for {name!r} at {rate!r} Hz"
        seen.add((name, rate))
    for name in record["skipped"]:
        try:
            registry.check_names(strategy=name)
        except SynbenchError:
            return f"it skips {name!r}, not a strategy"
    ranking = _rank([Timing(*row) for row in record["table"]], tuple(rates))
    if not ranking or ranking[0][0] != record["winner"]:
        return "the winner is not the fastest row of its own table"
    try:
        registry.get(record["winner"], backend)
    except SynbenchError as err:
        return f"its winner cannot run here ({err})"
    return _wrong_mechanisms(record, key)


def _wrong_mechanisms(record, key) -> str | None:
    """None when the record's delay mechanisms are those ``fastest`` times with here: for
    per-synapse delays, each strategy's ``registry.delay_entry``; else none."""
    mechanisms = record.get("mechanisms") or {}
    if "delays" not in key:
        if record.get("mechanism") is not None or mechanisms:
            return "it names delay mechanisms, but no per-synapse delays were timed"
        return None
    for name in {record["winner"], *(row[0] for row in record["table"])}:
        try:
            expected = registry.delay_entry(name, key["backend"]).mechanism
        except SynbenchError as err:
            return f"{name} cannot hold these delays here ({err})"
        given = record.get("mechanism") if name == record["winner"] else mechanisms.get(name)
        if given != expected or mechanisms.get(name) != expected:
            return f"it times {name} through {given!r}, not {expected!r}"
    return None


def _strategies_of(backend) -> list[str]:
    """Names of the strategies registered for ``backend`` (available or not)."""
    return [e.name for e in registry.entries(available_only=False) if e.backend == backend]


def _finite_number(x) -> bool:
    """Whether ``x`` is a finite JSON number (not a bool, nor an int beyond float range)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:  # math.isfinite(10**400)
        return False


def _store(key, result: FastestResult) -> None:
    record = {
        "format": CACHE_FORMAT, "synbench_version": __version__,
        "kernel_api_version": registry.KERNEL_API_VERSION, "machine": _machine(),
        "key": key, "winner": result.entry.name, "mechanism": result.mechanism,
        "mechanisms": result.mechanisms,
        "table": [list(t) for t in result.table], "skipped": result.skipped,
        "budget_s": result.budget_s, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    path = _cache_file(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fastest-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(record, f, indent=1)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    except OSError as err:  # a read-only home must not break tuning
        warnings.warn(f"could not write the synbench cache in {path.parent}: {err}",
                      CacheWarning, stacklevel=3)


# --- formatting ---


def _fmt_time(seconds) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _fmt_bytes(n) -> str:
    for unit in ("GiB", "MiB", "KiB"):
        scale = {"GiB": 2**30, "MiB": 2**20, "KiB": 2**10}[unit]
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"
