"""Adding a strategy is one declaration plus one registration, and nothing else.

A toy ninth strategy, declared and registered from inside this file (NumPy only), is
seen by the registry, ``compare``, ``fastest``, ``synbench list`` and the same kernel
checks that test_kernels.py runs on every entry. And no runner knows a strategy by its name: a copy
of every entry, registered under a new name, runs the same network to the same raster.
"""

import numpy as np
import pytest
import test_kernels
from suited import connectivity_kind, network_for
from test_kernels import CASE_CHECKS, CONNECTIVITIES, ENTRIES, ENTRY_CHECKS

import synbench
from synbench import coba, registry, run
from synbench.cli import main
from synbench.core import strategies
from synbench.core.connect import FixedProb
from synbench.core.registry import as_weight

TOY = "toy_loop"


# --- a toy strategy: a plain Python loop over per-neuron post lists, state per post ---


class ToyData:
    """Each pre neuron's targets and the weights of those synapses, as Python lists."""

    def __init__(self, conn, weight, dtype):
        self.n_pre, self.n_post, self.n_syn = conn.n_pre, conn.n_post, conn.n_syn
        self.dtype = np.dtype(dtype)
        weights = np.broadcast_to(as_weight(weight, conn.n_syn, dtype), (conn.n_syn,))
        self.targets = [list(posts) for posts in conn.require("pre2post")]
        ends = np.cumsum([len(posts) for posts in self.targets])
        self.weights = [list(weights[end - len(posts):end])
                        for posts, end in zip(self.targets, ends, strict=True)]


def toy_deliver(data, g, events):
    """For every pre neuron with an event, add amplitude x weight to each of its targets."""
    for pre, amplitude in enumerate(events):
        if amplitude:
            for post, w in zip(data.targets[pre], data.weights[pre], strict=True):
                g[post] += amplitude * w
    return g


@pytest.fixture(scope="module")
def toy():
    """The toy strategy, declared and registered on NumPy; forgotten afterwards."""
    import synbench.impls.numpy as numpy_backend

    strategies.declare(TOY, state="post", event_driven=True, needs=("pre2post",),
                       doc="A plain Python loop over each spiking neuron's post list.")
    try:
        yield numpy_backend.register(TOY, prepare=ToyData, deliver=toy_deliver,
                                     conductance=lambda data, g: g)
    finally:
        strategies.undeclare(TOY)
    assert TOY not in strategies.names()
    assert all(e.name != TOY for e in registry.entries(available_only=False))


def test_toy_is_in_the_registry(toy):
    assert TOY in strategies.names()
    assert toy in registry.entries()
    assert registry.get(TOY, "numpy") is toy
    assert (toy.state, toy.event_driven, toy.needs) == ("post", True, ("pre2post",))


@pytest.mark.parametrize("check", ENTRY_CHECKS, ids=lambda c: c.__name__)
def test_toy_passes_the_entry_checks(toy, check):
    check(toy)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("weight_kind", ["scalar", "per_synapse"])
@pytest.mark.parametrize("case", list(CONNECTIVITIES))
@pytest.mark.parametrize("check", CASE_CHECKS, ids=lambda c: c.__name__)
def test_toy_passes_the_case_checks(toy, check, case, weight_kind, dtype):
    check(toy, case, weight_kind, dtype)


def test_the_kernel_checks_are_all_run_on_the_toy():
    # A new check in test_kernels.py must be listed in CASE_CHECKS or ENTRY_CHECKS.
    checks = {name for name in dir(test_kernels) if name.startswith("check_")}
    assert checks == {c.__name__ for c in CASE_CHECKS + ENTRY_CHECKS}


def test_compare_runs_the_toy_to_the_reference_raster(toy):
    comparison = synbench.compare(coba(300), [TOY, "dense"], ["numpy"], duration=20.0,
                                  progress=False, log=lambda message: None)
    rows = {row.strategy: row for row in comparison.rows}
    assert rows[TOY].agrees == "yes"
    reference = rows["dense"].result
    assert reference.spike_ids.size > 0
    np.testing.assert_array_equal(rows[TOY].result.spike_steps, reference.spike_steps)
    np.testing.assert_array_equal(rows[TOY].result.spike_ids, reference.spike_ids)
    assert f"{TOY} " in comparison.table()


def test_fastest_checks_and_times_the_toy(toy):
    conn = FixedProb(0.1, seed=0).build(200, 150)
    result = synbench.fastest(conn, backend="numpy", rate_hz=10.0, budget_s=2.0,
                              strategies=[TOY, "pre_slice"], cache=False)
    assert TOY not in result.skipped, result.skipped
    assert TOY in {t.strategy for t in result.table}


def test_cli_list_shows_the_toy(toy, capsys):
    assert main(["list"]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    # A new post-state, event-driven strategy holds per-synapse delays by the input ring.
    assert [TOY, "numpy", "post", "yes", "all", "but", "nmda", "input_ring", "pre2post"] in lines


# --- no runner knows a strategy by its name ---


@pytest.fixture
def renamed_copy(request):
    """A copy of ``entry`` under a freshly declared name: same functions, same extras."""
    entry = request.param
    name = f"renamed_{entry.name}"
    strategies.declare(name, state=entry.state, event_driven=entry.event_driven,
                       needs=entry.strategy.needs, doc=entry.doc,
                       connectivity=entry.strategy.connectivity,
                       scalar_weight=entry.strategy.scalar_weight)
    try:
        yield entry, registry.register(
            name, entry.backend, prepare=entry.prepare, init_state=entry.init_state,
            deliver=entry.deliver, conductance=entry.conductance, step=entry.step,
            needs=entry.needs, **entry.extras)
    finally:
        strategies.undeclare(name)


@pytest.fixture(scope="module")
def references():
    """The reference's 20 ms of COBA n = 400, connected as each strategy holds it."""
    found = {}

    def reference_for(strategy):
        kind = connectivity_kind(strategy)
        if kind not in found:
            spec = network_for(strategy, coba, n=400)
            conns = spec.connectivity()
            found[kind] = spec, conns, run(spec, "dense", "numpy", duration=20.0, conns=conns)
        return found[kind]

    return reference_for


@pytest.mark.parametrize("renamed_copy", ENTRIES, ids=lambda e: e.id, indirect=True)
def test_a_renamed_entry_runs_to_the_reference_raster(renamed_copy, references):
    # No runner looks a strategy up by name: a copy under a new name gives the raster
    # the original gives, the reference's (test_run.py holds every original to it).
    entry, copy = renamed_copy
    spec, conns, reference = references(entry.name)
    renamed = run(spec, copy.name, copy.backend, duration=20.0, conns=conns)
    assert reference.spike_ids.size > 0, "the network should be active"
    assert renamed.first_difference(reference) is None
