"""``compare``'s order and checks: fast answers first, the reference (a matrix strategy,
the slowest) last, and every row of the table checked against the reference itself."""

import numpy as np
import pytest

from synbench import coba, compare
from synbench.core import strategies

WRONG = "leaky_by_a_tenth"


def _wrong_deliver(data, g, events):
    """The sum onto post neurons with every weight 10 % too small: a kernel that disagrees."""
    np.add.at(g, data.post_ids, 0.9 * events[data.pre_ids] * data.weight)
    return g


def _prepare(conn, weight, dtype):
    import synbench.impls.numpy as numpy_backend

    return numpy_backend.kernel_data(conn, weight, dtype, "pre_ids", "post_ids")


@pytest.fixture
def wrong():
    """A strategy that disagrees with the reference, declared so that it runs first."""
    import synbench.impls.numpy as numpy_backend

    strategies.declare(WRONG, state="post", event_driven=False, needs=("pre_ids", "post_ids"),
                       doc="Every weight 10 % too small.")
    try:
        yield numpy_backend.register(WRONG, prepare=_prepare, deliver=_wrong_deliver,
                                     conductance=lambda data, g: g)
    finally:
        strategies.undeclare(WRONG)


def test_the_matrix_reference_runs_last_and_the_table_checks_against_it(wrong):
    logged = []
    result = compare(coba(300), [WRONG, "dense", "event_dense"], ["numpy"],
                     duration=20.0, progress=False, log=logged.append)
    answers = [line.strip() for line in logged if "s so far)" in line]
    assert [a.split(":")[0] for a in answers] == [
        "neurons alone-numpy", f"{WRONG}-numpy", "dense-numpy", "event_dense-numpy"]
    # Until the reference runs, rasters are checked against the first one (here wrong)...
    assert "checked against until the reference runs" in answers[1]
    assert f", the reference, same raster as {WRONG}-numpy: no (step" in answers[2]
    assert "event_dense-numpy" in answers[3] and "same raster as the reference: yes" in answers[3]
    # ... and the table checks every row against the reference itself.
    assert result.reference == "dense-numpy float64"
    rows = {row.strategy: row for row in result.rows if row.strategy}
    assert rows["dense"].result is result.reference_run
    assert all(row.checked for row in rows.values())
    assert {name: row.agrees for name, row in rows.items()} == {
        WRONG: f"no (step {rows[WRONG].first_difference})", "dense": "yes", "event_dense": "yes"}
    assert not np.array_equal(rows[WRONG].result.spike_ids, result.reference_run.spike_ids)


def test_a_fast_reference_runs_first_and_checks_each_row_as_it_finishes():
    logged = []
    result = compare(coba(300), ["event_dense", "pre2post"], ["numpy"], duration=20.0,
                     progress=False, log=logged.append, reference=("pre_slice", "numpy"))
    assert logged[0] == "reference run: pre_slice-numpy (float64) ..."
    answers = [line.strip() for line in logged if "s so far)" in line]
    assert [a.split(":")[0] for a in answers] == [
        "neurons alone-numpy", "pre2post-numpy", "event_dense-numpy"]
    assert all("same raster as the reference: yes" in a for a in answers[1:]), answers
    assert result.reference == "pre_slice-numpy float64"
    assert all(row.agrees == "yes" for row in result.rows if row.strategy)


def test_float32_rows_are_checked_against_a_float64_reference_run_last():
    logged = []
    result = compare(coba(300), ["pre_slice"], ["numpy"], duration=5.0, dtype="float32",
                     progress=False, log=logged.append)
    runs = [line for line in logged if line.endswith("...")]
    assert runs[-1] == "reference run: dense-numpy (float64) ..."  # the slow one last
    assert result.reference_run.dtype == "float64" and result.reference_run.strategy == "dense"
    (row,) = [row for row in result.rows if row.strategy]
    assert row.result.dtype == "float32" and row.checked
