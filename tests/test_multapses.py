"""Multapses: several synapses between one (pre, post) pair (``multapses=True``).

Each synapse of a pair is a synapse of its own (its own weight, its own delay), so
every structure lists it and every strategy adds its weight: a weight matrix sums a
pair's weights in its element, and a strategy that keeps one bit per pair (bitmask)
refuses such a connectivity. The kernels are checked against a plain Python loop over
the synapse list as it was given, which shares nothing with any strategy or with the
canonical sort.
"""

import re

import numpy as np
import pytest

from synbench.core import registry, strategies
from synbench.core.connect import STRUCTURES, Connectivity, IJConn
from synbench.core.connect.structures import weight_matrix
from synbench.core.errors import SynbenchError

ENTRIES = registry.entries()
RTOL = 1e-12
MULTAPSES = "several synapses between some (pre, post) pairs (multapses)"

# --- a hand-worked example -------------------------------------------------------------

# Six synapses between 3 pre and 4 post neurons, given out of order: 0 -> 3 twice
# (given 2nd and 4th) and 2 -> 1 twice (given 1st and 5th). Post 0 receives nothing.
HAND_PRE = [2, 0, 1, 0, 2, 0]
HAND_POST = [1, 3, 2, 3, 1, 1]
HAND_WEIGHTS = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
HAND_DELAYS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
# Canonical order: sorted by (pre, post), a pair's synapses in the order given (stable):
# (0, 1) given 5th, (0, 3) given 1st then 3rd, (1, 2) given 2nd, (2, 1) given 0th then 4th.
HAND_ORDER = [5, 1, 3, 2, 0, 4]
HAND_STRUCTURES = {
    "conn_mat": [[False, True, False, True], [False, False, True, False],
                 [False, True, False, False]],
    "pre_ids": [0, 0, 0, 1, 2, 2],
    "post_ids": [1, 3, 3, 2, 1, 1],
    "pre2syn": [[0, 1, 2], [3], [4, 5]],
    "post2syn": [[], [0, 4, 5], [3], [1, 2]],
    "pre2post": [[1, 3, 3], [2], [1, 1]],
    "post2pre": [[], [0, 2, 2], [1], [0, 0]],
    "pre_slice": [[0, 3], [3, 4], [4, 6]],
    "post_slice": [[0, 0], [0, 3], [3, 4], [4, 6]],
    "post_order": [0, 4, 5, 3, 1, 2],
    "csr": ([0, 3, 4, 6], [1, 3, 3, 2, 1, 1]),
    "csc": ([0, 0, 3, 4, 6], [0, 2, 2, 1, 0, 0]),
    "ell": [[1, 3, 3], [2, 4, 4], [1, 1, 4]],  # padded with n_post = 4
    # One bit per pair, post j in bit j % 8: row 0 holds posts 1 and 3 (2 + 8).
    "bitmask": [[10], [4], [2]],
}


def _listed(value):
    """A structure as nested Python lists (arrays, lists of arrays, tuples of arrays)."""
    if isinstance(value, tuple):
        return tuple(_listed(v) for v in value)
    if isinstance(value, list):
        return [_listed(v) for v in value]
    return np.asarray(value).tolist()


# n_pre 3 sorts by counting sorts, n_pre 30 (more pre neurons than synapses) by lexsort.
each_sort = pytest.mark.parametrize("n_pre", [3, 30], ids=["counting_sort", "lexsort"])


def _hand(n_pre=3, **kwargs):
    return Connectivity(n_pre, 4, HAND_PRE, HAND_POST, multapses=True, **kwargs)


def test_the_hand_example_covers_every_structure():
    assert set(HAND_STRUCTURES) == set(STRUCTURES)


@each_sort
def test_every_structure_lists_each_synapse_of_a_pair(n_pre):
    conn = _hand(n_pre)
    assert conn.multapses and conn.has_multapses
    assert conn.n_syn == 6
    assert conn.order.tolist() == HAND_ORDER
    for name, expected in HAND_STRUCTURES.items():
        if n_pre != 3:  # more (empty) pre rows: compare the first three
            if name in ("conn_mat", "pre2syn", "pre2post", "pre_slice", "ell", "bitmask"):
                expected_rows = len(expected)
                got = _listed(conn.require(name))[:expected_rows]
                assert got == expected, name
            continue
        assert _listed(conn.require(name)) == expected, name


@each_sort
def test_weights_and_delays_follow_their_synapses(n_pre):
    conn = _hand(n_pre, weights=HAND_WEIGHTS, delays=HAND_DELAYS)
    assert conn.weights.tolist() == [HAND_WEIGHTS[k] for k in HAND_ORDER]
    assert conn.delays.tolist() == [HAND_DELAYS[k] for k in HAND_ORDER]
    sorted_conn, w = _hand(n_pre).canonical(HAND_WEIGHTS)
    assert w.tolist() == [6.0, 2.0, 4.0, 3.0, 1.0, 5.0]
    assert sorted_conn.has_multapses and sorted_conn.order is None


def test_ids_given_in_canonical_order_with_repeats_are_kept_as_they_are():
    conn = Connectivity(3, 4, HAND_STRUCTURES["pre_ids"], HAND_STRUCTURES["post_ids"],
                        weights=[6.0, 2.0, 4.0, 3.0, 1.0, 5.0], multapses=True)
    assert conn.order is None and conn.has_multapses
    assert conn.weights.tolist() == [6.0, 2.0, 4.0, 3.0, 1.0, 5.0]
    assert _listed(conn.require("csc")) == HAND_STRUCTURES["csc"]


@pytest.mark.parametrize("n_pre", [20, 5000], ids=["counting_sort", "lexsort"])
@pytest.mark.parametrize("dtype", [np.int64, np.uint16])
def test_the_sort_is_stable(n_pre, dtype):
    """Random ids with many repeats: the canonical order is numpy's stable lexsort."""
    rng = np.random.default_rng(4)
    pre = rng.integers(0, 20, 3000).astype(dtype)
    post = rng.integers(0, 15, 3000).astype(dtype)
    conn = Connectivity(n_pre, 15, pre, post, multapses=True)
    order = np.lexsort((post, pre))
    assert conn.order.tolist() == order.tolist()
    assert conn.pre_ids.tolist() == pre[order].tolist()
    assert conn.post_ids.tolist() == post[order].tolist()
    # The post-major structures keep one entry per synapse too.
    indptr, pre_by_post = conn.require("csc")
    assert len(pre_by_post) == conn.n_syn == indptr[-1]
    assert np.array_equal(np.bincount(post, minlength=15), np.diff(indptr))
    assert sorted(conn.post_order.tolist()) == list(range(conn.n_syn))


def test_a_connectivity_allowed_multapses_may_have_none():
    conn = IJConn([1, 0], [0, 1], multapses=True).build(2)
    assert conn.multapses and not conn.has_multapses
    assert "multapses" not in repr(conn)
    assert "multapses" in repr(_hand())


def test_weight_matrix_sums_the_weights_of_a_pair():
    conn, w = _hand().canonical(HAND_WEIGHTS)
    expected = [[0.0, 6.0, 0.0, 2.0 + 4.0], [0.0, 0.0, 3.0, 0.0], [0.0, 1.0 + 5.0, 0.0, 0.0]]
    assert weight_matrix(conn, w, "float64").tolist() == expected
    assert weight_matrix(conn, 0.5, "float32").tolist() == [
        [0.0, 0.5, 0.0, 1.0], [0.0, 0.0, 0.5, 0.0], [0.0, 1.0, 0.0, 0.0]]


# --- refusal without the opt-in --------------------------------------------------------


@pytest.mark.parametrize("build", [
    lambda: Connectivity(3, 4, HAND_PRE, HAND_POST),
    lambda: Connectivity(30, 4, HAND_PRE, HAND_POST),  # lexsort
    lambda: Connectivity(3, 4, [0, 0, 1], [3, 3, 2]),  # given in order
    lambda: IJConn(HAND_PRE, HAND_POST).build(3, 4),
], ids=["connectivity", "connectivity_lexsort", "connectivity_in_order", "ijconn"])
def test_repeated_pairs_are_refused_without_the_opt_in(build):
    with pytest.raises(SynbenchError, match=r"appears more than once .*multapses=True"):
        build()


def test_ijconn_multapses_must_be_a_bool():
    with pytest.raises(SynbenchError, match="multapses must be True or False"):
        IJConn([0], [0], multapses="yes")
    assert "multapses=True" in repr(IJConn([0, 0], [1, 1], multapses=True))


# --- files -----------------------------------------------------------------------------


@pytest.mark.parametrize("carried", [{}, {"weights": HAND_WEIGHTS},
                                     {"weights": HAND_WEIGHTS, "delays": HAND_DELAYS}],
                         ids=["format1", "weights", "weights_delays"])
def test_save_and_load_round_trip_multapses(tmp_path, carried):
    conn = _hand(**carried)
    loaded = Connectivity.load(conn.save(tmp_path / "multapses"))
    assert loaded == conn
    assert loaded.multapses and loaded.has_multapses
    for name in STRUCTURES:
        assert _listed(loaded.require(name)) == _listed(conn.require(name)), name
    for name in ("weights", "delays"):
        a, b = getattr(loaded, name), getattr(conn, name)
        assert (a is None and b is None) or a.tolist() == b.tolist()


def test_a_file_without_repeats_loads_without_multapses(tmp_path):
    conn = IJConn([1, 0], [0, 1], multapses=True).build(2)
    loaded = Connectivity.load(conn.save(tmp_path / "none"))
    assert loaded == conn and not loaded.multapses and not loaded.has_multapses


def test_a_file_with_a_pair_repeated_out_of_order_is_refused(tmp_path):
    path = tmp_path / "apart.npz"
    np.savez(path, format_version=np.array(1), pre_size=np.array([3]),
             post_size=np.array([4]), pre_ids=np.array([0, 0, 0]), post_ids=np.array([3, 1, 3]))
    with pytest.raises(SynbenchError, match="not in canonical order"):
        Connectivity.load(path)


# --- strategies that cannot hold them --------------------------------------------------


def test_bitmask_declares_it_holds_no_multapses():
    assert not strategies.strategy("bitmask").multapses
    refusing = [n for n in strategies.names() if not strategies.strategy(n).multapses]
    assert refusing == ["bitmask"]


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.name == "bitmask"],
                         ids=lambda e: e.id)
def test_bitmask_refuses_multapses_with_the_reason(entry):
    with pytest.raises(SynbenchError) as caught:
        entry.prepare(_hand(), 1.0, "float64")
    message = str(caught.value)
    assert type(caught.value) is SynbenchError
    assert "bitmask holds at most one synapse per (pre, post) pair" in message
    assert MULTAPSES in message and "pre_slice" in message
    # Allowed multapses but none there: bitmask holds it.
    entry.prepare(IJConn([1, 0], [0, 1], multapses=True).build(2), 1.0, "float64")


# The counts of both would pass without a look at the pairs: 4 synapses for 2 x 2 pairs
# (all-to-all), and pre_ids == post_ids with n synapses (one-to-one).
LOOKALIKES = {
    "all2all": lambda: Connectivity(2, 2, [0, 0, 1, 1], [0, 0, 0, 1], multapses=True),
    "one2one": lambda: Connectivity(3, 3, [0, 0, 2], [0, 0, 2], multapses=True),
}


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.name in LOOKALIKES],
                         ids=lambda e: e.id)
def test_all2all_and_one2one_refuse_multapses_that_match_their_counts(entry):
    with pytest.raises(SynbenchError, match=rf"{entry.name} holds only .*{re.escape(MULTAPSES)}"):
        entry.prepare(LOOKALIKES[entry.name](), 1.0, "float64")


# --- every entry against a plain loop over the synapse list -----------------------------


def _random_case():
    """40 -> 30 neurons: 500 random pairs (about 90 repeated), a pair with six synapses,
    a hub pre neuron with repeated targets, pre 0 silent, and an empty row and column."""
    rng = np.random.default_rng(11)
    pre = rng.integers(1, 39, 500)
    post = rng.integers(0, 29, 500)
    pre = np.concatenate([pre, [7] * 6, [20] * 40])
    post = np.concatenate([post, [4] * 6, rng.integers(0, 10, 40)])
    shuffle = rng.permutation(len(pre))
    return pre[shuffle], post[shuffle], 40, 30


CASES = {
    "hand": lambda: (np.array(HAND_PRE), np.array(HAND_POST), 3, 4),
    "random": _random_case,
}


def _loop_reference(pre, post, weights, events_seq, decay, n_post):
    """g after each step: g = decay * g, then g[post_k] += e[pre_k] * w_k for every
    synapse k of the list, in the order given."""
    g, out = [0.0] * n_post, []
    for events in events_seq:
        g = [x * decay for x in g]
        for k in range(len(pre)):
            e = float(events[pre[k]])
            if e:
                g[post[k]] += e * float(weights[k])
        out.append(np.array(g))
    return out


def _given_weights(n_syn, kind):
    """The weights in the order of the synapse list (scalar: 0.75 for every synapse)."""
    if kind == "scalar":
        return 0.75, np.full(n_syn, 0.75)
    w = np.random.default_rng(5).uniform(0.5, 1.5, n_syn)
    return w, w


def _build(case, kind):
    """The case's connectivity (multapses), its weight for ``prepare`` (canonical order)
    and the synapse list as given for the loop."""
    pre, post, n_pre, n_post = CASES[case]()
    weight, given = _given_weights(len(pre), kind)
    conn, weight = IJConn(pre, post, multapses=True).build(n_pre, n_post).canonical(weight)
    assert conn.has_multapses
    return conn, weight, (pre, post, given)


def _refused(entry, conn, weight) -> bool:
    """Whether ``entry`` refuses ``conn``; if so, checks it says why (multapses for those
    that hold one synapse per pair or one kind of connectivity with one per pair)."""
    why = strategies.unsuited_reason(entry.name, conn, weight)
    if why is None:
        return False
    declared = entry.strategy
    if not declared.multapses or declared.connectivity in ("all_to_all", "one_to_one"):
        assert MULTAPSES in why, why
    with pytest.raises(SynbenchError) as caught:
        entry.prepare(conn, weight, "float64")
    assert str(caught.value) == why
    return True


def _module(entry):
    return registry.BACKENDS[entry.backend].load()


each_entry = pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)


@pytest.mark.parametrize("kind", ["scalar", "per_synapse"])
@pytest.mark.parametrize("case", list(CASES))
@each_entry
def test_every_step_matches_a_loop_over_the_synapses(entry, case, kind):
    conn, weight, (pre, post, given) = _build(case, kind)
    if _refused(entry, conn, weight):
        return
    rng = np.random.default_rng(2)
    spikes = rng.random((8, conn.n_pre)) < 0.4
    spikes[:, 0] = False
    spikes[3] = False
    spikes[5] = True  # every pre neuron at once: a pair's synapses all in one step
    decay = 0.9
    expected = _loop_reference(pre, post, given, spikes, decay, conn.n_post)
    module = _module(entry)
    data = entry.prepare(conn, weight, "float64")
    state = entry.init_state(data)
    for k, s in enumerate(spikes):
        state = entry.step(data, state, module.asarray(s), decay)
        g = module.to_numpy(entry.conductance(data, state))
        np.testing.assert_allclose(g, expected[k], rtol=RTOL, atol=0,
                                   err_msg=f"{entry.id} differs at step {k}")


@each_entry
def test_float_amplitudes_match_a_loop_over_the_synapses(entry):
    conn, weight, (pre, post, given) = _build("random", "per_synapse")
    if _refused(entry, conn, weight):
        return
    rng = np.random.default_rng(3)
    amplitudes = rng.uniform(0.5, 2.0, (4, conn.n_pre))
    amplitudes[rng.random(amplitudes.shape) < 0.4] = 0.0
    expected = _loop_reference(pre, post, given, amplitudes, 1.0, conn.n_post)
    module = _module(entry)
    data = entry.prepare(conn, weight, "float64")
    state = entry.init_state(data)
    for k, events in enumerate(amplitudes):
        state = entry.deliver(data, state, module.asarray(events))
        g = module.to_numpy(entry.conductance(data, state))
        np.testing.assert_allclose(g, expected[k], rtol=RTOL, atol=0,
                                   err_msg=f"{entry.id} differs at step {k}")


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.state in ("matrix", "synapse")],
                         ids=lambda e: e.id)
def test_weights_as_state_hold_every_synapse(entry):
    """Where weights act at the output (NMDA) a runner lays them out as the state: reduced
    with unit data, they give each post neuron the sum of its synapses' weights."""
    conn, weight, _ = _build("random", "per_synapse")
    module = _module(entry)
    weights = entry.weights_as_state(conn, weight, "float64")
    g = module.to_numpy(entry.conductance(entry.prepare(conn, 1.0, "float64"), weights))
    np.testing.assert_allclose(g, np.bincount(conn.post_ids, weight, conn.n_post),
                               rtol=RTOL, atol=0)


# --- a network: the conductance of a driven group through multapses --------------------


def _driven_with_multapses(synapse):
    from synbench.core.networks import driven, with_connector

    rng = np.random.default_rng(8)
    pre = np.concatenate([rng.integers(0, 100, 300), [5] * 4])
    post = np.concatenate([rng.integers(0, 10, 300), [3] * 4])
    return with_connector(driven(synapse, rate_hz=50.0), IJConn(pre, post, multapses=True))


NUMPY_NETWORK = [e for e in ENTRIES if e.backend == "numpy"]


def test_a_driven_group_receives_every_synapse_of_a_pair():
    """Poisson sources through multapses (Exponential synapses): each numpy entry's g
    after every step equals the loop over the synapses, and their rasters agree."""
    from synbench.run import Monitor, run

    spec = _driven_with_multapses("exponential")
    (p,) = spec.projections
    conn = p.connector.build(spec.n_sources, spec.group(p.post).size)
    dt, n_steps = 0.1, 200
    sources = spec.source_spikes(0, n_steps, dt)[:, spec.group(p.pre).slice]
    (decay,) = p.synapse.factors(dt)
    pre, post = p.connector.i, p.connector.j
    expected = np.array(_loop_reference(pre, post, np.full(len(pre), p.weight), sources,
                                        decay, conn.n_post))
    rasters = {}
    for entry in NUMPY_NETWORK:
        if strategies.unsuited_reason(entry.name, conn, p.weight) is not None:
            continue
        result = run(spec, entry.name, "numpy", duration=n_steps * dt,
                     monitor=Monitor(("g:P2N",)))
        np.testing.assert_allclose(result.traces["g:P2N"], expected, rtol=RTOL, atol=0,
                                   err_msg=entry.id)
        rasters[entry.id] = (result.spike_steps.tolist(), result.spike_ids.tolist())
    assert len(rasters) >= 10 and len(set(map(str, rasters.values()))) == 1
    assert rasters["dense-numpy"][0], "the group never fired: nothing was compared"


def test_nmda_on_a_matrix_state_is_refused_with_multapses():
    """One matrix element holds a pair's synapses together: their unit events sum, and
    NMDA (nonlinear in x) is no longer each synapse's, so dense and event_dense refuse;
    a state per synapse runs it."""
    from synbench.run import Monitor, run

    spec = _driven_with_multapses("nmda")
    for strategy in ("dense", "event_dense"):
        with pytest.raises(SynbenchError, match="cannot hold NMDA for several synapses"):
            run(spec, strategy, "numpy", duration=20.0)
    monitor = Monitor(("g:P2N",))
    assert run(spec, "pre_ids", "numpy", duration=20.0, monitor=monitor).traces["g:P2N"].any()
