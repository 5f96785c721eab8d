"""The procedural strategy: synapses regenerated for each spike, never stored.

Its kernels re-implement the counter-based arithmetic of
``synbench.core.connect.generated`` on every backend, so they are checked against that
arithmetic directly (the hashing helpers, bit for bit), against pre_slice on the same
connectivity materialised (per step), for memory that does not grow with the synapses,
for refusing what they cannot hold, and on a whole network (the same raster).
"""

import jax
import numpy as np
import pytest

from synbench.core import registry
from synbench.core.connect import FixedPostNum, FixedProb
from synbench.core.connect import generated as gen_module
from synbench.core.connect.generated import RowGenerator
from synbench.core.errors import SynbenchError

ENTRIES = [e for e in registry.entries() if e.name == "procedural"]
each_entry = pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
RTOL = {"float64": 1e-12, "float32": 1e-5}

# (n_avail, skip_self): powers of 2, one more than a power of 2 (the worst cycle walk),
# the smallest domains, and one large enough for a 22-bit Feistel domain.
DOMAINS = [(n, skip) for n in (1, 2, 3, 4, 5, 16, 17, 100, 256, 257, 1024, 1025)
           for skip in (False, True)] + [(2**21 + 1, False), (2**16, True)]


def _generator_conn(n_avail, skip):
    """A counter-based connectivity whose rows choose among ``n_avail`` candidates."""
    n = n_avail + int(skip)
    if n_avail > 2000:  # a fixed count: no binomial table over a large group
        return FixedPostNum(3, include_self=not skip, seed=n_avail, counter_based=True).build(n)
    return FixedProb(0.3, include_self=not skip, seed=n_avail, counter_based=True).build(n)


def _samples(conn, size=400, seed=0):
    """Random (rows, ks) of ``conn``'s generator, every k a valid candidate index."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, conn.n_pre, size)
    ks = rng.integers(0, conn.generator.n_avail, size)
    return rows, ks


# --- (1) the hashing helpers equal generated.py's arithmetic ---


def test_numba_mix_equals_generated():
    from synbench.impls.numba import procedural as nb

    x = np.random.default_rng(1).integers(0, 2**32, 2000, dtype=np.uint64)
    x[:4] = [0, 1, 2**31, 2**32 - 1]
    assert [int(nb.mix(v)) for v in x] == gen_module.mix(x).tolist()


@pytest.mark.parametrize(("n_avail", "skip"), DOMAINS)
def test_numba_targets_and_counts_equal_generated(n_avail, skip):
    from synbench.impls.numba import procedural as nb

    conn = _generator_conn(n_avail, skip)
    gen = conn.generator
    assert (gen.n_avail, gen.skip_self) == (n_avail, skip)
    data = nb.prepare(conn, 1.0, "float64")
    rows, ks = _samples(conn)
    got = [nb.target(data, nb.round_keys(nb.row_key(data, r)), r, k)
           for r, k in zip(rows.tolist(), ks.tolist(), strict=True)]
    assert got == gen.targets(rows, ks).tolist()
    some = np.unique(rows)
    counts = [nb.row_count(data, nb.row_key(data, r)) for r in some.tolist()]
    assert counts == gen.counts()[some].tolist()


def test_jax_mix_equals_generated():
    from synbench.impls.jax import procedural as jx

    x = np.random.default_rng(1).integers(0, 2**32, 2000, dtype=np.uint64)
    x[:4] = [0, 1, 2**31, 2**32 - 1]
    got = np.asarray(jx.mix(jax.numpy.asarray(x.astype(np.uint32))))
    assert got.dtype == np.uint32
    assert got.tolist() == gen_module.mix(x).tolist()


@pytest.mark.parametrize(("n_avail", "skip"), DOMAINS)
def test_jax_targets_and_counts_equal_generated(n_avail, skip):
    from synbench.impls.jax import procedural as jx

    conn = _generator_conn(n_avail, skip)
    gen = conn.generator
    data = jx.prepare(conn, 1.0, "float32")
    rows, ks = _samples(conn)
    jnp = jax.numpy
    got = np.asarray(jax.jit(jx.targets)(data, jnp.asarray(rows, jnp.int32),
                                         jnp.asarray(ks, jnp.int32)))
    assert got.tolist() == gen.targets(rows, ks).tolist()
    counts = jx.row_counts(data, jx.row_keys(data, jnp.asarray(rows, jnp.int32)))
    assert np.asarray(counts).tolist() == gen.counts()[rows].tolist()
    assert data.max_count == int(gen.counts().max())


# --- (2) procedural equals pre_slice on the materialised connectivity, per step ---

CONNECTIVITIES = {
    "fixedprob": lambda: FixedProb(0.1, seed=4, counter_based=True).build(120, 90),
    "fixedprob_no_self": lambda: FixedProb(0.15, include_self=False, seed=5,
                                           counter_based=True).build(100),
    "fixedpostnum": lambda: FixedPostNum(6, seed=2, counter_based=True).build(80, 50),
    "fixedpostnum_no_self": lambda: FixedPostNum(7, include_self=False, seed=3,
                                                 counter_based=True).build(60),
    "all_pairs_no_self": lambda: FixedProb(1.0, include_self=False, seed=1,
                                           counter_based=True).build(9),
    "no_synapses": lambda: FixedProb(0.0, seed=1, counter_based=True).build(7, 5),
}


def _module(backend):
    return registry.BACKENDS[backend].load()


def _precision(backend, dtype):
    import contextlib

    return getattr(_module(backend), "precision", lambda d: contextlib.nullcontext())(dtype)


@each_entry
@pytest.mark.parametrize(("case", "dtype"), [(case, "float64") for case in CONNECTIVITIES]
                         + [("fixedprob", "float32"), ("fixedpostnum_no_self", "float32")])
def test_procedural_equals_pre_slice_per_step(entry, case, dtype):
    conn = CONNECTIVITIES[case]()
    reference = registry.get("pre_slice", "numpy")
    module = _module(entry.backend)
    rng = np.random.default_rng(11)
    weight = 0.37
    ref_data = reference.prepare(conn, weight, dtype)
    g_ref = reference.init_state(ref_data)
    with _precision(entry.backend, dtype):
        data = entry.prepare(conn, weight, dtype)
        g = entry.init_state(data)
        for t in range(8):
            if t == 5:  # a burst: every pre neuron at once
                events = np.ones(conn.n_pre, bool)
            elif t % 2:  # float amplitudes, some zero
                events = (rng.uniform(-2, 2, conn.n_pre)
                          * (rng.random(conn.n_pre) < 0.4)).astype(dtype)
            else:
                events = rng.random(conn.n_pre) < 0.2
            if t % 3 == 2:
                g = entry.deliver(data, g, module.asarray(events))
                g_ref = reference.deliver(ref_data, g_ref, events)
            else:
                g = entry.step(data, g, module.asarray(events), 0.9)
                g_ref = reference.step(ref_data, g_ref, events, 0.9)
            got = module.to_numpy(entry.conductance(data, g))
            scale = max(float(np.abs(g_ref).max(initial=0.0)), 1.0)
            np.testing.assert_allclose(got, g_ref, rtol=RTOL[dtype],
                                       atol=RTOL[dtype] * scale, err_msg=f"step {t}")


# --- (3) memory that does not grow with the synapses ---


def _array_nbytes(data) -> int:
    """Bytes of the arrays a prepared data holds (NumPy, JAX or CuPy; a generator's
    count table counted where the data keeps the generator itself)."""
    if hasattr(data, "_asdict"):
        values = list(data._asdict().values())
    elif type(data).__name__ == "KernelData":
        values = jax.tree_util.tree_leaves(data)
    else:
        values = list(vars(data).values())
    total = 0
    for value in values:
        if isinstance(value, RowGenerator):
            table = value.count_table
            total += 0 if table is None else table.nbytes
        elif hasattr(value, "shape") and hasattr(value, "nbytes"):
            total += int(value.nbytes)
    return total


@each_entry
def test_memory_does_not_grow_with_p(entry):
    n = 2000
    conns = {p: FixedProb(p, seed=1, counter_based=True).build(n) for p in (0.01, 0.2)}
    with _precision(entry.backend, "float64"):
        held = {p: _array_nbytes(entry.prepare(c, 0.5, "float64")) for p, c in conns.items()}
    # Only the binomial count table (its width grows as sqrt(n p (1 - p))) differs.
    assert max(held.values()) < 8 * 1024, held
    stored = sum(conns[0.01].structure_nbytes(s) for s in ("pre_slice", "post_ids"))
    assert stored > 20 * max(held.values()), (held, stored)
    assert entry.nbytes(conns[0.01]) == entry.nbytes(conns[0.2]) < stored
    assert not conns[0.2].cached  # nothing was materialised
    # A fixed count has no table: exactly the same bytes at 20 and 400 synapses a row.
    fixed = [FixedPostNum(num, seed=1, counter_based=True).build(n) for num in (20, 400)]
    with _precision(entry.backend, "float64"):
        held_fixed = [_array_nbytes(entry.prepare(c, 0.5, "float64")) for c in fixed]
    assert held_fixed[0] == held_fixed[1] < 1024


# --- (4) what it cannot hold is refused ---


@each_entry
def test_stored_connectivity_is_refused(entry):
    conn = FixedProb(0.1, seed=1).build(50)
    with pytest.raises(SynbenchError, match="counter_based"):
        entry.prepare(conn, 0.5, "float64")


@each_entry
def test_per_synapse_weights_are_refused(entry):
    conn = FixedProb(0.1, seed=1, counter_based=True).build(50)
    with pytest.raises(SynbenchError, match="one weight"):
        entry.prepare(conn, np.full(conn.n_syn, 0.5), "float64")


# --- (5) the CUDA source: the network rasters are test_run.py's (every entry) ---


def test_cuda_source_holds_generated_constants():
    """procedural.cu writes the arithmetic's constants out (no GPU needed to check them)."""
    from pathlib import Path

    source = (Path(gen_module.__file__).parents[2] / "impls" / "cupy" / "cuda"
              / "procedural.cu").read_text()
    for value in (*gen_module.MIX_MULTIPLIERS, gen_module.COUNT_STREAM, gen_module.GOLDEN):
        assert f"0x{value:08X}u" in source
    assert gen_module.ROUNDS == 4 and "r < 4" in source
