"""The multi-threaded Numba backend (``numba_parallel``) against the reference and,
bit for bit, against the serial Numba kernels, whatever the number of threads.

DESIGN section 8: a thread count changes who computes, not what. Every entry of the
backend (parametrized over the registry, not a hand list) runs step after step of
random spikes on random, sparse-with-empty-rows-and-columns and hub connectivities,
with one weight and one per synapse; its conductances must equal the reference
(relative 1e-12) and the serial ``numba`` entry's exactly, and so must the
conductances of ``deliver`` with float amplitudes. One subprocess started with
``NUMBA_NUM_THREADS=3`` repeats the check at 1, 2 and 3 threads (one subprocess, so
that each kernel compiles once). Registry-wide checks (argument checks, float32,
by-hand cases) run on this backend with every other in test_kernels.py and
test_kernel_api_checks.py.
"""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synbench.core import registry, strategies
from synbench.core.connect import All2All, FixedPostNum, FixedProb, IJConn, One2One
from synbench.core.errors import SynbenchError
from synbench.core.reference import reference_conductances
from synbench.core.synapses import Exponential

BACKEND = "numba_parallel"
ENTRIES = [e for e in registry.entries() if e.backend == BACKEND]
TESTS = Path(__file__).resolve().parent
N_STEPS = 20
THREADS = (1, 2, 3)
SUBPROCESS_TIMEOUT_S = 900  # compiling every entry's parallel loops, when nothing is cached


def _empty_rows_and_columns():
    # Pre 0, 5 and 6 send nothing, posts 1, 4 and 7 receive nothing, post 0 three pres.
    pre = [1, 1, 2, 3, 3, 3, 4, 7, 7]
    post = [0, 2, 0, 0, 3, 5, 2, 6, 8]
    return IJConn(pre, post).build(9, 10)


def _hubs():
    # Sparse random synapses, pre 3 onto almost every post neuron, post 5 from almost
    # every pre neuron, some neurons with none: degrees far from the mean.
    rng = np.random.default_rng(7)
    n_pre, n_post = 83, 61
    mask = rng.random((n_pre, n_post)) < 0.04
    mask[3, rng.random(n_post) < 0.9] = True
    mask[rng.random(n_pre) < 0.9, 5] = True
    pre, post = np.nonzero(mask)
    return IJConn(pre, post).build(n_pre, n_post)


#: Sizes that are not multiples of 8 or of the thread counts: partial words of spikes,
#: bytes of bitmask rows and blocks of post neurons of unequal sizes.
CONNECTIVITIES = {
    "fixedprob": lambda: FixedProb(0.1, seed=3).build(203, 157),
    "empty_rows_cols": _empty_rows_and_columns,
    "hubs": _hubs,
    # Those of the strategies that hold one kind only (procedural: counter-based;
    # all2all; one2one), random and sparse (empty rows and columns) where they can be.
    "fixedprob_counter": lambda: FixedProb(0.1, seed=5, counter_based=True).build(203, 157),
    "sparse_counter": lambda: FixedProb(0.03, seed=8, counter_based=True).build(61, 45),
    "fixedpostnum_counter_no_self": lambda: FixedPostNum(
        4, include_self=False, seed=6, counter_based=True).build(29),
    "all2all": lambda: All2All().build(37, 29),
    "all2all_no_self": lambda: All2All(include_self=False).build(37),
    "one2one": lambda: One2One().build(203, 203),
    "one2one_fewer_than_threads": lambda: One2One().build(2, 2),
}
GENERAL_CASES = ("fixedprob", "empty_rows_cols", "hubs")
EMPTY_ROWS_AND_COLUMNS = ("empty_rows_cols", "hubs", "sparse_counter")


def _weight(conn, kind):
    if kind == "scalar":
        return 0.75
    return np.random.default_rng(1).uniform(0.5, 1.5, conn.n_syn)


def _spike_train(n_pre, seed=0):
    """Random spikes at 20 %, pre neuron 0 silent throughout, step 4 with no spike."""
    spikes = np.random.default_rng(seed).random((N_STEPS, n_pre)) < 0.2
    spikes[:, 0] = False
    spikes[4] = False
    return spikes


def _amplitude_train(n_pre, seed=2):
    """Float amplitudes: a third zero, mixed signs, a silent step."""
    rng = np.random.default_rng(seed)
    amplitudes = rng.uniform(-2.0, 2.0, (N_STEPS // 2, n_pre))
    amplitudes[rng.random(amplitudes.shape) < 1 / 3] = 0.0
    amplitudes[2] = 0.0
    return amplitudes


def _decay():
    (decay,) = Exponential(5.0).factors(0.1)
    return np.float64(decay)


@functools.cache
def _connectivity(case):
    return CONNECTIVITIES[case]()  # built once: counter-based tables take a while


def suited_cases(name, weight_kind):
    """The connectivities of CONNECTIVITIES that strategy ``name`` holds with that weight:
    the first three where it holds any connectivity, else those of its kind."""
    found = []
    for case in CONNECTIVITIES if strategies.strategy(name).connectivity else GENERAL_CASES:
        conn = _connectivity(case)
        weight = _weight(conn, weight_kind)
        if strategies.unsuited_reason(name, conn, weight) is None:
            found.append((case, conn, weight))
    return found


def traces(entry, conn, weight):
    """(the conductance after each ``step`` of the spike train, the conductance after
    each ``Exponential.advance`` then ``deliver`` of float amplitudes), as arrays."""
    decay = _decay()
    data = entry.prepare(conn, weight, "float64")
    state = entry.init_state(data)
    stepped = []
    for spikes in _spike_train(conn.n_pre):
        state = entry.step(data, state, spikes, decay)
        stepped.append(np.array(entry.conductance(data, state)))
    state = entry.init_state(data)
    delivered = []
    for events in _amplitude_train(conn.n_pre):
        (state,) = Exponential(5.0).advance()((state,), (decay,))
        state = entry.deliver(data, state, events)
        delivered.append(np.array(entry.conductance(data, state)))
    return np.array(stepped), np.array(delivered)


each_entry = pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)


def test_every_strategy_of_numba_is_on_numba_parallel():
    names = {e.name for e in ENTRIES}
    assert names == {e.name for e in registry.entries() if e.backend == "numba"}
    assert names == set(strategies.names())


@pytest.mark.parametrize("weight_kind", ["scalar", "per_synapse"])
@each_entry
def test_every_step_matches_reference_and_serial_numba_bit_for_bit(entry, weight_kind):
    serial = registry.get(entry.name, "numba")
    cases = suited_cases(entry.name, weight_kind)
    if weight_kind == "per_synapse" and entry.strategy.scalar_weight:
        conn = FixedProb(0.1, seed=5, counter_based=True).build(20, 20)
        with pytest.raises(SynbenchError):
            entry.prepare(conn, _weight(conn, weight_kind), "float64")
        assert not cases
        return
    names = [case for case, _, _ in cases]
    assert len(cases) >= 2, f"{entry.id} holds only {names}"
    if entry.strategy.connectivity not in ("all_to_all", "one_to_one"):  # no empty rows
        assert set(names) & set(EMPTY_ROWS_AND_COLUMNS), f"{entry.id} holds only {names}"
    for case, conn, weight in cases:
        stepped, delivered = traces(entry, conn, weight)
        serial_stepped, serial_delivered = traces(serial, conn, weight)
        where = f"{entry.id} on {case}"
        assert np.count_nonzero(stepped) > stepped.size // 4, f"{where}: too few conductances"
        assert np.count_nonzero(delivered), f"{where}: no conductance from the amplitudes"
        expected = reference_conductances(conn, weight, _spike_train(conn.n_pre), _decay())
        np.testing.assert_allclose(stepped, np.array(expected), rtol=1e-12, atol=0,
                                   err_msg=f"{where} differs from the reference")
        np.testing.assert_array_equal(stepped, serial_stepped,
                                      err_msg=f"{where}: step differs from numba's")
        np.testing.assert_array_equal(delivered, serial_delivered,
                                      err_msg=f"{where}: deliver differs from numba's")


# One process, NUMBA_NUM_THREADS=3: every entry on every case it holds, at 1, 2 and 3
# threads and serially; one JSON line per (entry, case, weight kind).
_THREAD_COUNTS = """
import json, sys
import numba
import numpy as np

sys.path.insert(0, sys.argv[1])
from test_numba_parallel import ENTRIES, THREADS, suited_cases, traces
from synbench.core import registry
from synbench.impls.numba_parallel import num_threads

threads_seen = numba.njit(lambda: num_threads())
print(json.dumps({"max_threads": numba.config.NUMBA_NUM_THREADS}), flush=True)
for entry in ENTRIES:
    serial = registry.get(entry.name, "numba")
    for kind in ("scalar", "per_synapse"):
        for case, conn, weight in suited_cases(entry.name, kind):
            got = []
            for n in THREADS:  # first: a parallel kernel loaded from the disk cache runs
                numba.set_num_threads(n)
                got.append((threads_seen(), traces(entry, conn, weight)))
            expected = traces(serial, conn, weight)
            row = {"id": entry.id, "case": case, "kind": kind,
                   "seen": [seen for seen, _ in got],
                   "equal": [all(np.array_equal(a, b) for a, b in zip(found, expected))
                             for _, found in got],
                   "nonzero": int(np.count_nonzero(expected[0]))}
            print(json.dumps(row), flush=True)
"""


def test_one_two_and_three_threads_give_the_serial_numbers():
    # Three threads may be more than the cores: OpenMP threads that spin while they wait
    # would then take turns by the scheduler's slices, at every parallel loop.
    env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ, "NUMBA_NUM_THREADS": str(max(THREADS))}
    done = subprocess.run([sys.executable, "-c", _THREAD_COUNTS, str(TESTS)], env=env,
                          capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0] == {"max_threads": max(THREADS)}
    rows = lines[1:]
    assert {row["id"] for row in rows} == {e.id for e in ENTRIES}
    for row in rows:
        where = f"{row['id']} on {row['case']} ({row['kind']} weight)"
        assert row["seen"] == list(THREADS), f"{where}: the kernels saw {row['seen']} threads"
        assert row["nonzero"] > 0, f"{where}: the spikes gave no conductance"
        differ = [n for n, equal in zip(THREADS, row["equal"], strict=True) if not equal]
        assert not differ, f"{where}: differs from serial numba at {differ} threads"
