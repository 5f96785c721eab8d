"""``synbench.fastest`` and ``synbench autotune`` with delays (issue 14, DESIGN section 4c).

The delayed reference (``reference_delayed_conductances``) against a hand-worked example;
per-synapse delays timed through each strategy's default mechanism and checked against
that reference (a mechanism that drops an event is excluded); AlignPre strategies skipped
with the reason; the cache keyed by the delays; one delay for every synapse timed as none.
As in test_fastest.py, no test asserts which strategy wins (DESIGN section 6).
"""

import dataclasses
import importlib
import math
import re

import numpy as np
import pytest

import synbench
from synbench.core import delays, registry, strategies
from synbench.core.connect import Connectivity, FixedProb, IJConn
from synbench.core.errors import SynbenchError
from synbench.core.reference import (
    reference_conductances,
    reference_delayed_conductances,
    reference_delayed_scales,
)

fm = importlib.import_module("synbench.fastest")
fastest = fm.fastest

DECAY = math.exp(-0.1 / 5.0)
MECHANISM_NAMES = "|".join(delays.MECHANISMS)


def _conn():
    return FixedProb(0.1, seed=0).build(200, 150)


def _delays_ms(conn, low=0.1, high=1.0, seed=0):
    return delays.UniformDelay(low, high, seed=seed).steps(conn.n_syn, 0.1) * 0.1


# --- the delayed reference ---


def test_delayed_reference_by_hand():
    # Synapses (canonical order): 0->0 w 1 d 0, 0->1 w 2 d 1, 1->1 w 3 d 3, 2->0 w 4 d 1.
    conn = IJConn([0, 0, 1, 2], [0, 1, 1, 0]).build(3, 2)
    weight, steps = [1.0, 2.0, 3.0, 4.0], [0, 1, 3, 1]
    spikes = [[True, False, True], [False, True, False], [False, False, False],
              [True, False, False], [False, False, False], [False, False, False]]
    g = reference_delayed_conductances(conn, weight, steps, spikes, 0.5)
    # t0: 0->0 now; t1: 0->1 and 2->0 from t0; t3: 0->0 from t3; t4: 1->1 from t1, 0->1 from t3.
    expected = [[1.0, 0.0], [4.5, 2.0], [2.25, 1.0], [2.125, 0.5], [1.0625, 5.25],
                [0.53125, 2.625]]
    assert [x.tolist() for x in g] == expected
    # The scale sums |w|: negative weights cancel nothing in it.
    negative = [-w for w in weight]
    assert [x.tolist() for x in reference_delayed_conductances(conn, negative, steps, spikes,
                                                               0.5)] == \
        [[-v for v in row] for row in expected]
    assert [x.tolist() for x in reference_delayed_scales(conn, negative, steps, spikes,
                                                         0.5)] == expected


def test_delayed_reference_with_no_delay_is_the_reference():
    conn = _conn()
    rng = np.random.default_rng(1)
    weight = rng.normal(size=conn.n_syn)
    spikes = [rng.random(conn.n_pre) < 0.2 for _ in range(4)]
    for steps in (0, np.zeros(conn.n_syn, np.int32)):
        got = reference_delayed_conductances(conn, weight, steps, spikes, DECAY)
        want = reference_conductances(conn, weight, spikes, DECAY)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


# --- fastest with per-synapse delays ---


def _assert_usage_runs_right(result, n_steps=None):
    """The winner, prepared and stepped as ``usage()`` says, matches the reference."""
    module = registry.BACKENDS[result.backend].load()
    steps = result.delay_steps
    n_steps = n_steps or delays.max_delay(steps) + 4
    rng = np.random.default_rng(5)
    spikes = [rng.random(result.connectivity.n_pre) < 0.2 for _ in range(n_steps)]
    out = []
    namespace = {"synbench": synbench, "conn": result.connectivity, "weight": result.weight,
                 "steps": steps, "decay": np.dtype(result.dtype).type(DECAY),
                 "spike_steps": [module.asarray(s) for s in spikes], "out": out,
                 "to_numpy": module.to_numpy}
    exec(result.usage() + "\n    out.append(np.array(to_numpy(g), dtype=float))",
         {**namespace, "np": np})
    want = reference_delayed_conductances(result.connectivity, result.weight, steps, spikes,
                                          float(np.dtype(result.dtype).type(DECAY)))
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend, names", [
    ("numpy", None),
    ("numba", ("pre_slice", "csr", "pre2syn", "align_pre_csr")),
])
def test_per_synapse_delays_give_a_checked_winner_with_its_default_mechanism(backend, names):
    conn = _conn()
    d_ms = _delays_ms(conn)
    weight = np.random.default_rng(2).normal(size=conn.n_syn)
    result = fastest(conn, backend=backend, rate_hz=50.0, weight=weight, delay=d_ms,
                     budget_s=20.0 if names else 3.0, strategies=names, cache=False)
    winner = result.entry.strategy
    assert result.mechanism == delays.default_mechanism(winner)
    assert result.mechanism == registry.delay_entry(winner.name, backend).mechanism
    assert result.per_synapse_delays
    np.testing.assert_array_equal(result.delay_steps, delays.to_steps(d_ms, 0.1))
    # The AlignPre strategies cannot hold them: skipped, with the reason.
    for name in ("align_pre_csr", "align_pre_dense"):
        if names is None or name in names:
            assert "per pre neuron" in result.skipped[name]
    timed = {t.strategy for t in result.table}
    assert result.entry.name in timed and not timed & set(result.skipped)
    assert not any(delays.unsuited_reason(strategies.strategy(n)) for n in timed)
    text = str(result)
    assert set(result.mechanisms) == timed
    for name in timed:  # every ranked line names the strategy's own mechanism
        mechanism = delays.default_mechanism(strategies.strategy(name))
        assert result.mechanisms[name] == mechanism and f"{name} ({mechanism})" in text
    assert "per-synapse delays 0.1-1 ms" in text
    assert "delay_entry(" in text and "init_buffer" in text
    _assert_usage_runs_right(result)


def test_a_mechanism_that_drops_an_event_is_excluded(monkeypatch):
    conn = _conn()
    real = registry.delay_entry("pre_slice", "numpy")  # input_ring

    def drops_one(data, state, buffer, spikes, step):
        if spikes.any():
            spikes = spikes.copy()
            spikes[np.flatnonzero(spikes)[0]] = False
        return real.kernel(data, state, buffer, spikes, step)

    broken = dataclasses.replace(real, kernel=drops_one, deliver=drops_one)
    monkeypatch.setitem(registry._DELAYS, ("input_ring", "numpy"), broken)
    result = fastest(conn, backend="numpy", rate_hz=10.0, delay=_delays_ms(conn),
                     budget_s=5.0, strategies=("pre_slice", "csr"), cache=False)
    assert "disagrees" in result.skipped["pre_slice"]
    assert "input_ring" in result.skipped["pre_slice"]
    assert result.entry.name == "csr" and result.mechanism == "spike_ring"


def test_the_cache_is_keyed_by_the_delays(cache_dir):
    conn = _conn()
    quick = dict(backend="numpy", rate_hz=10.0, budget_s=5.0, strategies=("pre_slice", "csr"))
    before = fm.TIMINGS_RUN
    first = fastest(conn, delay=_delays_ms(conn), **quick)
    again = fastest(conn, delay=_delays_ms(conn), **quick)
    assert fm.TIMINGS_RUN == before + 1 and again.from_cache and not first.from_cache
    assert again.mechanism == first.mechanism and again.entry is first.entry
    assert again.mechanisms == first.mechanisms and set(first.mechanisms) == {"pre_slice", "csr"}
    assert "from the cache" in str(again) and again.label() in str(again)
    other = fastest(conn, delay=_delays_ms(conn, seed=1), **quick)  # other delays: a miss
    assert fm.TIMINGS_RUN == before + 2 and not other.from_cache
    none = fastest(conn, **quick)  # and none at all
    assert fm.TIMINGS_RUN == before + 3 and none.mechanism is None
    assert len(list(cache_dir.glob("fastest-*.json"))) == 3
    steps = delays.to_steps(_delays_ms(conn), 0.1)
    assert fm.delays_signature(steps, 0.1) != fm.delays_signature(steps[::-1].copy(), 0.1)
    assert fm.delays_signature(steps, 0.1) != fm.delays_signature(steps, 0.05)


def test_one_delay_for_every_synapse_times_as_none(cache_dir):
    conn = _conn()
    quick = dict(backend="numpy", rate_hz=10.0, budget_s=5.0, strategies=("pre_slice", "csr"))
    plain = fastest(conn, **quick)
    shifted = fastest(conn, delay=1.5, **quick)  # the same question: from the cache
    assert shifted.from_cache and shifted.entry is plain.entry
    assert shifted.mechanism is None and shifted.delay_steps == 15
    assert "changes no ranking" in str(shifted) and "(" not in shifted.label()
    assert shifted.usage() == plain.usage()
    with pytest.raises(SynbenchError, match="not a whole number of steps"):
        fastest(conn, delay=0.15, **quick)


def test_delays_of_index_arrays_follow_their_synapses_and_a_connectivity_carries_its_own():
    conn = _conn()
    d_ms = _delays_ms(conn)
    order = np.random.default_rng(3).permutation(conn.n_syn)  # the user's order
    result = fastest((conn.pre_ids[order], conn.post_ids[order]), backend="numpy",
                     n_pre=conn.n_pre, n_post=conn.n_post, rate_hz=10.0, budget_s=5.0,
                     delay=d_ms[order], strategies=("pre_slice",), cache=False)
    np.testing.assert_array_equal(result.delay_steps, delays.to_steps(d_ms, 0.1))
    carried = Connectivity(conn.n_pre, conn.n_post, conn.pre_ids, conn.post_ids, delays=d_ms)
    result = fastest(carried, backend="numpy", rate_hz=10.0, budget_s=5.0,
                     strategies=("pre_slice", "align_pre_csr"), cache=False)
    assert result.mechanism == "input_ring" and "per pre neuron" in result.skipped[
        "align_pre_csr"]
    np.testing.assert_array_equal(result.delay_steps, delays.to_steps(d_ms, 0.1))
    with pytest.raises(SynbenchError, match="one per synapse"):
        fastest(conn, backend="numpy", delay=d_ms[:-1], cache=False)


# --- the command line ---


def test_cli_autotune_with_random_per_synapse_delays(tmp_path, capsys):
    from synbench.cli import main

    argv = ["autotune", "--n-pre", "200", "--n-post", "150", "--p", "0.1", "--backend",
            "numpy", "--rate", "50", "--budget", "1", "--no-cache"]
    assert main([*argv, "--delay", "0.1:2"]) == 0
    out = capsys.readouterr().out
    assert "per-synapse delays 0.1-2 ms" in out
    title = out.splitlines()[0]
    assert re.search(rf": \w+ \(({MECHANISM_NAMES})\)$", title), title
    assert re.search(rf"^1 +\w+ \(({MECHANISM_NAMES})\)", out, re.MULTILINE), out
    assert "delay_entry(" in out
    # A file that carries delays uses them.
    conn = FixedProb(0.1, seed=0).build(200, 150)
    carried = Connectivity(200, 150, conn.pre_ids, conn.post_ids, delays=_delays_ms(conn))
    path = carried.save(tmp_path / "delayed.npz")
    assert main(["autotune", "--conn", str(path), *argv[7:]]) == 0
    assert "per-synapse delays 0.1-1 ms" in capsys.readouterr().out
    assert main([*argv, "--delay", "2:1"]) == 2
    assert "low <= high" in capsys.readouterr().err
    assert main([*argv, "--delay", "soon"]) == 2
    assert "LOW:HIGH" in capsys.readouterr().err
