"""LIF and HH models: parameters, derivatives, population updates, runners' binding."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from synbench.core.errors import SynbenchError
from synbench.core.neurons import (
    HH,
    LIF,
    MODELS,
    NEVER_SPIKED,
    HHParams,
    LIFParams,
    Neurons,
    hh_update,
    lif_update,
    neuron_model,
)

# --- parameters ---


def test_lif_defaults_are_design_section_3():
    p = LIFParams()
    assert (p.tau, p.v_th, p.v_reset, p.el, p.t_ref, p.i_bg) == (20.0, -50.0, -60.0, -60.0,
                                                                 5.0, 20.0)
    assert p.ref_steps(0.1) == 50 and p.ref_steps(0.25) == 20


def test_hh_defaults_are_the_published_values_in_mv_ms_ns_pf():
    area = 20000e-8  # 20000 um^2 in cm^2
    p = HHParams()
    assert p.cm == pytest.approx(1e-6 * area * 1e12)       # 1 uF/cm^2 -> pF
    assert p.gl == pytest.approx(5e-5 * area * 1e9)        # S/cm^2 -> nS
    assert p.g_na == pytest.approx(100e-3 * area * 1e9)    # mS/cm^2 -> nS
    assert p.g_kd == pytest.approx(30e-3 * area * 1e9)
    assert (p.el, p.ek, p.ena, p.vt, p.v_th, p.t_ref) == (-60.0, -90.0, 50.0, -63.0, -20.0, 3.0)
    assert p.ref_steps(0.1) == 30


@pytest.mark.parametrize(("make", "match"), [
    (lambda: LIFParams(tau=0.0), "tau must be positive"),
    (lambda: LIFParams(t_ref=-1.0), "t_ref must be >= 0"),
    (lambda: LIFParams(v_th=float("nan")), "v_th must be a finite number"),
    (lambda: HHParams(cm=-200.0), "cm must be positive"),
    (lambda: HHParams(g_na=-1.0), "g_na must be >= 0"),
    (lambda: HHParams(vt="-63"), "vt must be a finite number"),
    (lambda: LIFParams().ref_steps(0.0), "dt must be a positive"),
    (lambda: HHParams().ref_steps(float("inf")), "dt must be a positive"),
])
def test_bad_parameters_are_refused(make, match):
    with pytest.raises(SynbenchError, match=match):
        make()


# --- LIF ---


def test_lif_derivative_through_the_generated_step():
    # One Euler step of dt = 1 returns v + dv/dt.
    step = LIF.integrator("euler")
    assert step(-55.0, 0.0, 1.0, 20.0, -60.0, 20.0, 3.0) - (-55.0) == pytest.approx(
        ((-60.0 + 55.0) + 20.0 + 3.0) / 20.0, rel=1e-15)


def test_lif_update_by_hand():
    """Neuron 0 is refractory, neuron 1 crosses threshold, neuron 2 stays below."""
    p, dt, k = LIFParams(), 0.1, 1000
    a = math.exp(-dt / p.tau)  # exact one-step decay of exp_euler
    v = np.array([-60.0, -50.5, -55.0])
    i_syn = np.array([100.0, 100.0, 1.0])
    last = np.array([k - 3, NEVER_SPIKED, k - 51], dtype=np.int32)
    v_new, spiked, last_new = lif_update(v, i_syn, last, k, dt, p, LIF.integrator())

    # 0: k - last = 3 <= 50: keeps v (ignores its large input), cannot spike.
    assert v_new[0] == -60.0 and not spiked[0] and last_new[0] == k - 3
    # 1: v_inf = -60 + 20 + 100 = 60 -> 60 - 110.5 a = -49.95 >= -50: spikes, resets.
    assert 60.0 - 110.5 * a >= p.v_th
    assert v_new[1] == p.v_reset and spiked[1] and last_new[1] == k
    # 2: k - last = 51 > 50: integrates to v_inf = -39 -> -39 - 16 a = -54.92, no spike.
    assert v_new[2] == pytest.approx(-39.0 - 16.0 * a, rel=1e-14)
    assert not spiked[2] and last_new[2] == k - 51
    assert spiked.dtype == bool
    # Functional: the inputs are untouched.
    assert v.tolist() == [-60.0, -50.5, -55.0] and last[0] == k - 3


def test_lif_refractory_boundary_is_inclusive():
    p, dt, k = LIFParams(), 0.1, 200
    ref = p.ref_steps(dt)
    v = np.full(2, -40.0)  # would spike at once if integrated
    last = np.array([k - ref, k - ref - 1], dtype=np.int32)
    v_new, spiked, _ = lif_update(v, np.zeros(2), last, k, dt, p, LIF.integrator())
    assert spiked.tolist() == [False, True]
    assert v_new.tolist() == [-40.0, p.v_reset]


def test_lif_update_keeps_float32_and_int32():
    p = LIFParams()
    v, i_syn = np.array([-50.02, -58.0], np.float32), np.zeros(2, np.float32)
    last = np.full(2, NEVER_SPIKED, np.int32)
    # An np.int64 step, and np.expm1 of the Python-float parameters (a float64 scalar),
    # would promote without the casts back to the state's dtypes.
    v_new, spiked, last_new = lif_update(v, i_syn, last, np.int64(7), 0.1, p, LIF.integrator())
    assert v_new.dtype == np.float32 and last_new.dtype == np.int32
    assert spiked.tolist() == [True, False] and last_new.tolist() == [7, NEVER_SPIKED]
    a = np.exp(-0.1 / 20)
    assert v_new[1] == np.float32(-40.0 - 18.0 * a)

    g = [np.full(2, 0.5, np.float32) for _ in range(3)]
    out = hh_update(v, *g, i_syn, last, 7, 0.1, HHParams(), HH.integrator())
    assert [x.dtype for x in out] == [np.float32] * 4 + [np.bool_, np.int32]


def _spike_steps(v0, n_steps, dt=0.1):
    p, vstep = LIFParams(), LIF.integrator("exp_euler")
    v = np.asarray(v0, dtype=float)
    last = np.full(v.size, NEVER_SPIKED, np.int32)
    steps = [[] for _ in range(v.size)]
    for k in range(n_steps):
        v, spiked, last = lif_update(v, np.zeros(v.size), last, k, dt, p, vstep)
        for i in np.flatnonzero(spiked):
            steps[i].append(k)
    return steps


def test_lif_interspike_interval_is_the_analytic_one_on_the_step_grid():
    """exp_euler is exact for this linear ODE, so spike steps follow in closed form.

    With v_inf = el + i_bg, after j integrating steps from v0,
    v_j = v_inf + (v0 - v_inf) exp(-j dt / tau) >= v_th  <=>  j >= J(v0) with
    J(v0) = tau ln((v_inf - v0) / (v_inf - v_th)) / dt, so the j-th step that spikes is
    ceil(J). From step 0 the first spike is at step ceil(J(v0)) - 1. After a spike at s,
    steps s+1 .. s+ref hold v_reset; integration restarts at s+ref+1, so the next spike
    is at s + ref + ceil(J(v_reset)): ISI = 50 + ceil(138.63) = 189 steps = 18.9 ms,
    t_ref + tau ln 2 = 18.86 ms rounded up to the grid.
    """
    p, dt = LIFParams(), 0.1
    v_inf = p.el + p.i_bg

    def j(v0):
        return p.tau * math.log((v_inf - v0) / (v_inf - p.v_th)) / dt

    isi = p.ref_steps(dt) + math.ceil(j(p.v_reset))
    assert isi == 189
    got = _spike_steps([p.v_reset, -55.0], 2000)
    for v0, steps in zip([p.v_reset, -55.0], got, strict=True):
        first = math.ceil(j(v0)) - 1
        assert steps == list(range(first, 2000, isi))
    assert got[0][:2] == [138, 327] and got[1][0] == 81


# --- HH ---


def _brian_rates(v, vt=-63.0):
    """Brian's COBAHH rates (1/ms), written independently with its exprel.

    alpha_m = 0.32 * 4 / exprel((13 - v + VT) / 4), exprel(x) = expm1(x) / x, etc.
    """
    def exprel(x):
        return np.expm1(x) / x

    return (0.32 * 4 / exprel((13 - v + vt) / 4),
            0.28 * 5 / exprel((v - vt - 40) / 5),
            0.128 * np.exp((17 - v + vt) / 18),
            4.0 / (1 + np.exp((40 - v + vt) / 5)),
            0.032 * 5 / exprel((15 - v + vt) / 5),
            0.5 * np.exp((10 - v + vt) / 40))


def test_hh_derivative_matches_brians_equations():
    # (x_new - x) / dt of one Euler step is the derivative.
    p, rng = HHParams(), np.random.default_rng(1)
    v = rng.uniform(-90, 40, 50) + 1e-3
    m, h, n = rng.uniform(0, 1, (3, 50))
    i_syn = rng.uniform(-500, 500, 50)
    new = HH.integrator("euler")(v, m, h, n, 0.0, 1.0, i_syn, p.cm, p.gl, p.el, p.ek, p.ena,
                                 p.g_na, p.g_kd, p.vt)
    am, bm, ah, bh, an, bn = _brian_rates(v)
    dv = (p.gl * (p.el - v) - p.g_na * m**3 * h * (v - p.ena) - p.g_kd * n**4 * (v - p.ek)
          + i_syn) / p.cm
    expected = [dv, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n]
    for x_new, x, d in zip(new, (v, m, h, n), expected, strict=True):
        np.testing.assert_allclose(x_new - x, d, rtol=1e-9, atol=1e-9)


def test_hh_exp_euler_gate_update_is_exact_at_fixed_v():
    # With v fixed, dm/dt = alpha (1 - m) - beta m is linear in m: exp_euler is exact.
    p, dt = HHParams(), 0.2
    v, m = -55.3, 0.2
    am, bm, *_ = _brian_rates(np.float64(v))
    m_inf, tau = am / (am + bm), 1 / (am + bm)
    _, m_new, _, _ = HH.integrator()(v, m, 0.5, 0.5, 0.0, dt, 0.0, p.cm, p.gl, p.el, p.ek,
                                     p.ena, p.g_na, p.g_kd, p.vt)
    assert m_new == pytest.approx(m_inf + (m - m_inf) * math.exp(-dt / tau), rel=1e-12)


def test_hh_spike_is_an_upward_crossing_outside_refractoriness():
    p, dt, k = HHParams(), 0.1, 100
    v = np.array([-25.0, -15.0, -25.0, -20.5, -20.0, -25.0])
    v_next = np.array([-15.0, -10.0, -15.0, -20.0, -10.0, -21.0])
    last = np.array([NEVER_SPIKED, NEVER_SPIKED, k - 30, NEVER_SPIKED, NEVER_SPIKED, k - 31],
                    dtype=np.int32)

    def fake_step(v, m, h, n, t, dt, *params):  # the rule, not the dynamics, under test
        assert t == k * dt and len(params) == 9
        return v_next, m + 1, h + 2, n + 3

    zeros = np.zeros(6)
    v_new, m, h, n, spiked, last_new = hh_update(v, zeros, zeros, zeros, zeros, last, k, dt, p,
                                                 fake_step)
    # crossed | already above | crossed but refractory | lands on v_th | starts on v_th |
    # below after refractoriness
    assert spiked.tolist() == [True, False, False, True, False, False]
    assert last_new.tolist() == [k, NEVER_SPIKED, k - 30, k, NEVER_SPIKED, k - 31]
    assert v_new is v_next  # v is integrated even while refractory, never reset
    assert (m.tolist(), h.tolist(), n.tolist()) == ([1.0] * 6, [2.0] * 6, [3.0] * 6)


HH_INPUTS = np.array([0.0, 1000.0, -200.0])  # pA: none, strong, hyperpolarizing


@pytest.fixture(scope="module")
def hh_one_second():
    """1 s at dt = 0.2 ms, exp_euler, constant inputs; from v = El, gates 0 (Brian's init)."""
    p, dt = HHParams(), 0.2
    hstep = HH.integrator("exp_euler")
    size = HH_INPUTS.size
    v, m, h, n = np.full(size, p.el), np.zeros(size), np.zeros(size), np.zeros(size)
    last = np.full(size, NEVER_SPIKED, np.int32)
    count, lo, hi = np.zeros(size, int), np.full(4, np.inf), np.full(4, -np.inf)
    for k in range(5000):
        v, m, h, n, spiked, last = hh_update(v, m, h, n, HH_INPUTS, last, k, dt, p, hstep)
        count += spiked
        lo = np.minimum(lo, [x.min() for x in (v, m, h, n)])
        hi = np.maximum(hi, [x.max() for x in (v, m, h, n)])
    return count, lo, hi


def test_hh_stays_bounded_for_one_second(hh_one_second):
    _, lo, hi = hh_one_second
    assert -100.0 <= lo[0] and hi[0] <= 60.0, (lo, hi)
    assert (lo[1:] >= 0.0).all() and (hi[1:] <= 1.0).all(), (lo, hi)


def test_hh_fires_under_strong_input_and_is_silent_when_hyperpolarized(hh_one_second):
    count, _, _ = hh_one_second
    assert count[1] > 50          # 1 nA = 5 mV/ms of drive: fires at > 50 Hz
    assert count[1] > count[0]    # more input, more spikes
    assert count[2] == 0          # -200 pA: a stable rest near -80 mV


def test_isolated_cobahh_neuron_fires_without_input(hh_one_second):
    """Brian's COBAHH neuron has no stable rest: with zero input it fires tonically.

    At steady-state gates the membrane current, gl (El - v) + I_Na + I_K, is positive
    (depolarizing) for every v below -33.4 mV, the only fixed point, which is unstable
    (checked here with independently written rates): from v = El it can only climb to
    threshold, spike, recover and climb again. (El = -60 mV lies 3 mV above VT.) A
    reference run (rk4, dt = 0.01 ms) gives 14 spikes in 1 s; exp_euler at 0.2 ms 13.
    """
    p = HHParams()
    v = np.linspace(-100.0, -34.0, 661) + 1e-6
    am, bm, ah, bh, an, bn = _brian_rates(v)
    m, h, n = am / (am + bm), ah / (ah + bh), an / (an + bn)
    current = p.gl * (p.el - v) - p.g_na * m**3 * h * (v - p.ena) - p.g_kd * n**4 * (v - p.ek)
    assert (current > 0).all()
    count, _, _ = hh_one_second
    assert 10 <= count[0] <= 18


# --- the models bound for runners ---


def test_models_are_registered_by_name():
    assert MODELS == {"lif": LIF, "hh": HH}
    assert LIF.variables == ("v",) and HH.variables == ("v", "m", "h", "n")
    assert LIF.integrator("rk2") is LIF.integrator("rk2")


@pytest.mark.parametrize("model", ["lif", "hh"])
def test_neurons_step_is_functional_and_update_writes_in_place(model):
    p = LIFParams() if model == "lif" else HHParams()
    spec = SimpleNamespace(model=model, params=p, method="rk2")
    neurons = neuron_model(spec, 0.1)
    assert neurons.ref_steps == p.ref_steps(0.1) and neurons.integrator.method == "rk2"
    rng = np.random.default_rng(0)
    vars_ = {k: rng.uniform(-70, -30, 5) if k == "v" else rng.uniform(0, 1, 5)
             for k in MODELS[model].variables}
    vars_["v"][0] = -21.0 if model == "hh" else -50.1  # about to spike
    if model == "hh":  # sodium open, potassium closed
        vars_["m"][0], vars_["h"][0], vars_["n"][0] = 0.5, 0.6, 0.1
    i_syn = np.full(5, 300.0 if model == "hh" else 10.0)
    last = np.array([NEVER_SPIKED, 3, NEVER_SPIKED, NEVER_SPIKED, NEVER_SPIKED], np.int32)
    before = {k: x.copy() for k, x in vars_.items()}

    new, last_new, spiked = neurons.step(vars_, i_syn, last, 10)
    for k in vars_:
        np.testing.assert_array_equal(vars_[k], before[k])  # functional: untouched
    assert spiked.any() and not spiked[1]

    arrays = dict(vars_)
    got = neurons.update(arrays, i_syn, last, 10)
    np.testing.assert_array_equal(got, spiked)
    np.testing.assert_array_equal(last, last_new)
    for k in new:
        assert arrays[k] is vars_[k]  # written into the caller's arrays
        np.testing.assert_array_equal(vars_[k], new[k])


def test_neuron_model_of_the_coba_spec():
    from synbench.core.networks import coba

    neurons = neuron_model(coba(100, method="rk4"), 0.1)
    assert neurons.model is LIF and neurons.integrator is LIF.integrator("rk4")


@pytest.mark.parametrize(("call", "match"), [
    (lambda: neuron_model(SimpleNamespace(model="izhikevich", params=None,
                                          method="euler"), 0.1), "unknown neuron model"),
    (lambda: Neurons(LIF, HHParams(), 0.1), "needs LIFParams"),
    (lambda: Neurons(LIF, LIFParams(), -0.1), "dt must be a positive"),
    (lambda: Neurons(HH, HHParams(), 0.1, method="rk45"), "unknown integration method"),
])
def test_bad_bindings_are_refused(call, match):
    with pytest.raises(SynbenchError, match=match):
        call()


# --- compiled backends ---


def test_numba_compiles_the_hh_step_and_agrees():
    numba = pytest.importorskip("numba", reason="numba is not installed")
    p, dt = HHParams(), 0.1
    params = (p.cm, p.gl, p.el, p.ek, p.ena, p.g_na, p.g_kd, p.vt)
    step = HH.integrator("exp_euler")
    jit = numba.njit(step)
    rng = np.random.default_rng(2)
    # Off the rates' removable singularities (v = VT + 13, VT + 15, VT + 40 exactly),
    # where NumPy gives nan but Numba's scalar division raises ZeroDivisionError.
    v = rng.uniform(-90, 40, 200)
    m, h, n = rng.uniform(0, 1, (3, 200))
    i_syn = rng.uniform(-300, 300, 200)
    want = step(v, m, h, n, 0.0, dt, i_syn, *params)
    # NumPy's SIMD exp/expm1 and libm's differ in the last bit; the v update of a
    # strongly conducting membrane amplifies that to ~1e-12 relative.
    for got, w in zip(jit(v, m, h, n, 0.0, dt, i_syn, *params), want, strict=True):
        np.testing.assert_allclose(got, w, rtol=1e-10, atol=1e-12)

    @numba.njit
    def run(v, m, h, n, i_syn, dt, n_steps, params):  # the user's own loop, per neuron
        cm, gl, el, ek, ena, g_na, g_kd, vt = params
        for k in range(n_steps):
            for i in range(v.size):
                v[i], m[i], h[i], n[i] = jit(v[i], m[i], h[i], n[i], k * dt, dt, i_syn[i],
                                             cm, gl, el, ek, ena, g_na, g_kd, vt)

    state = [x.copy() for x in (v, m, h, n)]
    run(*state, i_syn, dt, 1, params)
    for got, w in zip(state, want, strict=True):
        np.testing.assert_allclose(got, w, rtol=1e-10, atol=1e-12)


def test_jax_jit_runs_both_population_updates():
    jax = pytest.importorskip("jax", reason="jax is not installed (pip install synbench[jax])")
    import jax.numpy as jnp

    dt, k = 0.1, 40
    rng = np.random.default_rng(3)
    last = np.array([k - 2, NEVER_SPIKED, NEVER_SPIKED, k - 60], np.int32)
    with jax.enable_x64(True):
        lp = LIFParams()
        v, i_syn = np.array([-60.0, -50.2, -55.0, -49.0]), np.array([0.0, 30.0, 1.0, 0.0])
        lif = jax.jit(lambda v, i, last, k: lif_update(v, i, last, k, dt, lp,
                                                       LIF.integrator(xp=jnp), jnp))
        got = lif(v, i_syn, last, k)
        want = lif_update(v, i_syn, last, k, dt, lp, LIF.integrator())
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-13)

        hp = HHParams()
        state = (np.array([-25.0, -21.0, -60.0, -24.0]), *rng.uniform(0, 1, (3, 4)))
        i_syn = np.full(4, 2000.0)
        hh = jax.jit(lambda v, m, h, n, i, last, k: hh_update(
            v, m, h, n, i, last, k, dt, hp, HH.integrator(xp=jnp), jnp))
        got = hh(*state, i_syn, last, k)
        want = hh_update(*state, i_syn, last, k, dt, hp, HH.integrator())
        assert want[4].any()  # some crossing to compare
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-12)
