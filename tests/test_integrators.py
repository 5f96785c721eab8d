"""odeint and decay_factor: orders of accuracy, exactness, backends, bad input."""

import inspect
import math

import numpy as np
import pytest
import sympy

from synbench.core.errors import SynbenchError
from synbench.core.integrators import (
    METHODS,
    Abs,
    Max,
    Min,
    Piecewise,
    cos,
    decay_factor,
    exp,
    expm1,
    log,
    log1p,
    odeint,
    sin,
    sqrt,
    tanh,
)

# --- test problems with known solutions ---


def forced_decay(y, t):
    """dy/dt = -y + sin(t): non-autonomous, so a stage at the wrong time costs order."""
    return -y + sin(t)


def forced_decay_exact(t, y0=1.0):
    return (y0 + 0.5) * math.exp(-t) + 0.5 * (math.sin(t) - math.cos(t))


def logistic(y, t, r):
    """Nonlinear: dy/dt = r y (1 - y)."""
    return r * y * (1 - y)


def logistic_exact(t, y0=0.1, r=1.5):
    return 1.0 / (1.0 + (1.0 / y0 - 1.0) * math.exp(-r * t))


def oscillator(x, y, t, w):
    """Two variables (tuple-returning f): x'' = -w^2 x."""
    return y, -(w**2) * x


def linear(y, t, a, b):
    return a * y + b


def _integrate(step, state, t_end, dt, params=()):
    n = round(t_end / dt)
    assert abs(n * dt - t_end) < 1e-12
    for k in range(n):
        state = step(*state, k * dt, dt, *params)
        state = state if isinstance(state, tuple) else (state,)
    return state


# Small enough that rk4 on forced_decay is past its pre-asymptotic range (slope 3.3 at
# dt = 0.1), large enough that its error (6e-13 at the end) stays above round-off.
DTS = [0.05 / 2**k for k in range(4)]


def _order(errors):
    """Slope of log(error) against log(dt)."""
    return np.polyfit(np.log(DTS), np.log(errors), 1)[0]


PROBLEMS = {
    "forced_decay": (forced_decay, (1.0,), (), lambda T: (forced_decay_exact(T),)),
    "logistic": (logistic, (0.1,), (1.5,), lambda T: (logistic_exact(T),)),
    "oscillator": (oscillator, (1.0, 0.0), (2.0,),
                   lambda T: (math.cos(2.0 * T), -2.0 * math.sin(2.0 * T))),
}


@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize(("method", "order"), [("euler", 1), ("rk2", 2), ("rk4", 4)])
def test_observed_order_of_convergence(problem, method, order):
    f, y0, params, exact = PROBLEMS[problem]
    step, T = odeint(f, method), 2.0
    errors = [max(abs(a - b) for a, b in zip(_integrate(step, y0, T, dt, params), exact(T),
                                            strict=True)) for dt in DTS]
    assert _order(errors) == pytest.approx(order, abs=0.2), errors


def test_exp_euler_is_first_order_with_time_varying_input():
    # exp_euler holds the input sin(t) at its value at the start of each step.
    step, T = odeint(forced_decay, "exp_euler"), 2.0
    errors = [abs(_integrate(step, (1.0,), T, dt)[0] - forced_decay_exact(T)) for dt in DTS]
    assert _order(errors) == pytest.approx(1.0, abs=0.2), errors


@pytest.mark.parametrize(("a", "b", "y0"), [(-0.7, 2.0, 1.0), (-1 / 20, -2.0, -60.0),
                                             (0.3, 1.0, 0.5)])
def test_exp_euler_is_exact_for_linear_equations(a, b, y0):
    step, T, dt = odeint(linear, "exp_euler"), 3.0, 0.1
    (y,) = _integrate(step, (y0,), T, dt, (a, b))
    expected = -b / a + (y0 + b / a) * math.exp(a * T)
    assert y == pytest.approx(expected, rel=1e-12)
    # Large steps too: the update is the exact flow map, whatever dt.
    (y,) = _integrate(step, (y0,), T, 1.5, (a, b))
    assert y == pytest.approx(expected, rel=1e-12)


def test_exp_euler_falls_back_to_euler_where_f_does_not_depend_on_the_variable():
    # In the oscillator dx/dt = y and dy/dt = -w^2 x: each A = df_x/dx is 0.
    ee, eu = odeint(oscillator, "exp_euler"), odeint(oscillator, "euler")
    code = [line for line in ee.source.splitlines() if not line.strip().startswith("#")]
    assert not any("expm1" in line for line in code)
    assert ee(0.3, -1.2, 0.0, 0.1, 2.0) == eu(0.3, -1.2, 0.0, 0.1, 2.0)


def test_exp_euler_holds_the_other_variables():
    # dx/dt = -y x, dy/dt = -x y: x_new = x exp(-y dt) with y held at its old value.
    def pair(x, y, t):
        return -y * x, -x * y

    x, y = odeint(pair, "exp_euler")(2.0, 0.5, 0.0, 0.1)
    assert x == pytest.approx(2.0 * math.exp(-0.05), rel=1e-14)
    assert y == pytest.approx(0.5 * math.exp(-0.2), rel=1e-14)


@pytest.mark.parametrize(("method", "expected"), [
    ("euler", 0.5 * 3.0),                  # slope at t = 1 only
    ("exp_euler", 0.5 * 3.0),              # f does not depend on y: Euler
    ("rk2", 0.5 * 3.0 * 1.25**2),          # slope at the midpoint t = 1.25
    ("rk4", 1.5**3 - 1.0),                 # Simpson's rule: exact for a cubic
])
def test_stages_evaluate_f_at_shifted_times(method, expected):
    def cubic(y, t):
        return 3 * t**2

    assert odeint(cubic, method)(0.0, 1.0, 0.5) == pytest.approx(expected, rel=1e-15)


def test_decay_factor_matches_the_hand_formulas():
    for tau in (5.0, 10.0, 20.0):
        for dt in (0.1, 0.25):
            x = dt / tau
            assert decay_factor(tau, dt, "exp_euler") == pytest.approx(math.exp(-x), rel=1e-15)
            assert decay_factor(tau, dt, "euler") == pytest.approx(1 - x, rel=1e-15)
            assert decay_factor(tau, dt, "rk2") == pytest.approx(1 - x + x**2 / 2, rel=1e-15)
            rk4 = 1 - x + x**2 / 2 - x**3 / 6 + x**4 / 24
            assert decay_factor(tau, dt, "rk4") == pytest.approx(rk4, rel=1e-15)
    assert decay_factor(5.0, 0.1) == pytest.approx(math.exp(-0.02), rel=1e-15)  # default
    assert isinstance(decay_factor(5, 1), float)


def test_step_works_on_arrays_scalars_and_keeps_float32():
    step = odeint(logistic, "rk4")
    y = np.array([0.1, 0.5, 0.9])
    out = step(y, 0.0, 0.1, 1.5)
    assert out.shape == (3,)
    for k in range(3):
        assert out[k] == step(float(y[k]), 0.0, 0.1, 1.5)
    out32 = step(y.astype(np.float32), 0.0, 0.1, 1.5)
    assert out32.dtype == np.float32  # Python-float constants do not promote (NEP 50)
    np.testing.assert_allclose(out32, out, rtol=1e-6)


def test_source_is_kept_and_readable():
    step = odeint(linear, "exp_euler")
    assert step.source.startswith("def step(y, t, dt, a, b):")
    assert "expm1(" in step.source and "return y_new" in step.source
    assert inspect.getsource(step) == step.source  # tracebacks show the generated code
    assert (step.method, step.variables, step.parameters) == ("exp_euler", ("y",), ("a", "b"))
    assert step.derivative is linear and step.xp is np


def test_identical_requests_return_the_same_function():
    assert odeint(logistic, "rk2") is odeint(logistic, "rk2")
    assert odeint(logistic) is odeint(logistic, "exp_euler", np)
    assert odeint(logistic, "rk2") is not odeint(logistic, "rk4")


def test_piecewise_and_min_max_become_elementwise_array_code():
    from synbench.core.integrators import Max, Piecewise

    def relu_drive(x, t, a):
        return Piecewise((-x, x > a), (Max(x, 0) - x, True))

    step = odeint(relu_drive, "euler")
    assert "where(" in step.source and "maximum(" in step.source
    x = np.array([-1.0, 0.5, 2.0])
    expected = x + 0.1 * np.where(x > 1.0, -x, np.maximum(x, 0) - x)
    np.testing.assert_array_equal(step(x, 0.0, 0.1, 1.0), expected)


def test_methods_are_listed():
    assert METHODS == ("exp_euler", "euler", "rk2", "rk4")


# --- derivatives written with NumPy's functions: each next to its SymPy twin ---


def np_decay(v, t, tau):
    return np.negative(v) * np.reciprocal(tau)


def sp_decay(v, t, tau):
    return -v * (1 / tau)


def np_cosine(x, t):
    return np.cos(t)


def sp_cosine(x, t):
    return cos(t)


def np_riccati(y, t):
    return -np.power(y, 2)


def sp_riccati(y, t):
    return -(y**2)


def np_mixture(y, t, a):
    return (np.exp(-np.square(y)) * np.sqrt(a + np.abs(y)) - np.tanh(y) * np.sin(t)
            + np.log(a) * np.expm1(-y) / np.log1p(a) + np.exp2(-y) * np.reciprocal(a))


def sp_mixture(y, t, a):
    return (exp(-(y**2)) * sqrt(a + Abs(y)) - tanh(y) * sin(t)
            + log(a) * expm1(-y) / log1p(a) + 2 ** (-y) * (1 / a))


def np_switch(v, t, tau, t0):
    drive = np.where(t > t0, np.maximum(np.sin(t), 0), np.clip(np.cos(t), -0.5, 0.5))
    return drive - v / np.minimum(tau, 20.0)


def sp_switch(v, t, tau, t0):
    drive = Piecewise((Max(sin(t), 0), t > t0), (Min(Max(cos(t), -0.5), 0.5), True))
    return drive - v / Min(tau, 20.0)


def np_hh(v, n, t, i_ext):
    """A Hodgkin-Huxley-like membrane and its potassium gate n."""
    alpha = 0.01 * (v + 55) / (1 - np.exp(-(v + 55) / 10))
    beta = 0.125 * np.exp(-(v + 65) / 80)
    return i_ext - 36 * n**4 * (v + 77) - 0.3 * (v + 54.4), alpha * (1 - n) - beta * n


def sp_hh(v, n, t, i_ext):
    alpha = 0.01 * (v + 55) / (1 - exp(-(v + 55) / 10))
    beta = 0.125 * exp(-(v + 65) / 80)
    return i_ext - 36 * n**4 * (v + 77) - 0.3 * (v + 54.4), alpha * (1 - n) - beta * n


# name: (NumPy version, SymPy version, initial state, parameters)
TWINS = {
    "decay": (np_decay, sp_decay, (np.linspace(-2, 2, 5),), (5.0,)),
    "cosine": (np_cosine, sp_cosine, (np.zeros(3),), ()),
    "riccati": (np_riccati, sp_riccati, (np.linspace(0.5, 2, 4),), ()),
    "mixture": (np_mixture, sp_mixture, (np.linspace(-1.5, 1.5, 7),), (2.5,)),
    "switch": (np_switch, sp_switch, (np.linspace(-1, 1, 5),), (8.0, 1.0)),
    "hh": (np_hh, sp_hh, (np.linspace(-80, -50.5, 6), np.linspace(0.1, 0.6, 6)), (10.0,)),
}


def _code(step):
    """The generated source without its docstring, which names the derivative."""
    return [line for line in step.source.splitlines() if '"""' not in line]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("twin", list(TWINS))
def test_numpy_functions_trace_to_the_same_step_as_sympy_ones(twin, method):
    np_f, sp_f, state, params = TWINS[twin]
    np_step, sp_step = odeint(np_f, method), odeint(sp_f, method)
    assert _code(np_step) == _code(sp_step)
    got = _integrate(np_step, state, 2.0, 0.01, params)
    want = _integrate(sp_step, state, 2.0, 0.01, params)
    for g, w in zip(got, want, strict=True):
        assert np.all(np.isfinite(g))
        np.testing.assert_array_equal(g, w)


# Error bounds at T = 2 with dt = 0.01, about twice the largest error measured below.
TOLERANCE = {"exp_euler": 1.5e-2, "euler": 1.5e-2, "rk2": 1e-5, "rk4": 3e-11}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("f", "y0", "params", "exact"), [
    (np_decay, 1.5, (5.0,), lambda T: 1.5 * math.exp(-T / 5.0)),
    (np_cosine, 0.0, (), math.sin),
    (np_riccati, 1.0, (), lambda T: 1.0 / (1.0 + T)),
])
def test_numpy_written_derivatives_match_their_analytic_solutions(f, y0, params, exact,
                                                                 method):
    (y,) = _integrate(odeint(f, method), (y0,), 2.0, 0.01, params)
    assert abs(y - exact(2.0)) < TOLERANCE[method], (y, exact(2.0))


def test_numpy_sympy_and_math_constants_mix():
    def mixed(v, t, a):
        return np.exp(-v) * exp(v / a) - np.float64(0.5) * sqrt(a) * v * math.exp(-1.0)

    def plain(v, t, a):
        return exp(-v) * exp(v / a) - 0.5 * sqrt(a) * v * math.exp(-1.0)

    for method in METHODS:
        assert _code(odeint(mixed, method)) == _code(odeint(plain, method))
    assert odeint(mixed, "euler")(0.3, 0.0, 0.1, 2.0) == pytest.approx(
        0.3 + 0.1 * (math.exp(-0.15) - 0.5 * math.sqrt(2.0) * 0.3 * math.exp(-1.0)), rel=1e-14)


# --- compiled backends ---


def test_numba_compiles_the_step_and_agrees():
    numba = pytest.importorskip("numba", reason="numba is not installed")
    step = odeint(oscillator, "rk4")
    jit = numba.njit(step)
    assert jit(1.0, 0.0, 0.0, 0.1, 2.0) == pytest.approx(step(1.0, 0.0, 0.0, 0.1, 2.0),
                                                         rel=1e-15, abs=1e-15)
    x, y = np.linspace(-1, 1, 7), np.linspace(2, -2, 7)
    for got, want in zip(jit(x, y, 0.0, 0.1, 2.0), step(x, y, 0.0, 0.1, 2.0), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-15)

    @numba.njit
    def run(x, y, dt, n):  # the user's own compiled loop, one call per element
        for k in range(n):
            for i in range(x.size):
                x[i], y[i] = jit(x[i], y[i], k * dt, dt, 2.0)

    xs, ys = x.copy(), y.copy()
    run(xs, ys, 0.1, 20)
    for k in range(20):
        x, y = step(x, y, k * 0.1, 0.1, 2.0)
    np.testing.assert_allclose(xs, x, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(ys, y, rtol=1e-14, atol=1e-14)


def test_numba_exp_euler_uses_np_expm1():
    numba = pytest.importorskip("numba", reason="numba is not installed")
    step = odeint(linear, "exp_euler")
    y = np.linspace(-70.0, -40.0, 5)
    np.testing.assert_allclose(numba.njit(step)(y, 0.0, 0.1, -0.05, -3.0),
                               step(y, 0.0, 0.1, -0.05, -3.0), rtol=1e-15)


def test_jax_jit_traces_the_step_and_agrees():
    jax = pytest.importorskip("jax", reason="jax is not installed (pip install synbench[jax])")
    import jax.numpy as jnp

    x, y = np.linspace(-1, 1, 7), np.linspace(2, -2, 7)
    with jax.enable_x64(True):
        for f, state, params in [(oscillator, (x, y), (2.0,)), (linear, (x,), (-0.7, 2.0)),
                                 (forced_decay, (x,), ())]:
            for method in METHODS:
                jitted = jax.jit(odeint(f, method, jnp))
                got = jitted(*state, 0.3, 0.1, *params)
                want = odeint(f, method)(*state, 0.3, 0.1, *params)
                got, want = np.atleast_2d(got), np.atleast_2d(want)
                np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
    assert odeint(linear, "exp_euler", jnp) is not odeint(linear, "exp_euler")


# --- bad input ---


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(SynbenchError, match="unknown integration method 'rk45'.*exp_euler, "
                                            "euler, rk2, rk4"):
        odeint(logistic, "rk45")
    with pytest.raises(SynbenchError, match="unknown integration method"):
        decay_factor(5.0, 0.1, "heun")


def test_derivative_without_t_is_refused():
    def no_t(v, tau):
        return -v / tau

    with pytest.raises(SynbenchError, match="no argument 't'"):
        odeint(no_t)


@pytest.mark.parametrize(("f", "match"), [
    (lambda t, a: a, "no state variable before 't'"),
    (lambda x, t, *rest: x, "cannot pass"),
    (lambda x, y, t: -x, "2 state variable.*returned 1"),
    (lambda x, t: -x if x > 0 else x, "SymPy symbols failed"),
    (lambda x, t: -x if x else x, "Python if/else.*np.where"),
    (lambda x, t: np.cbrt(x), r"cannot trace np\.cbrt; .*np\.exp, .*np\.sqrt"),
    (lambda x, t: np.sum(x), r"cannot trace np\.sum; "),
    (lambda x, t: np.exp(x, dtype=float), r"np\.exp with keyword arguments"),
    (lambda x, t: np.add.reduce(x), r"cannot trace np\.add\.reduce"),
    (lambda x, t: math.exp(-x), r"math\.exp.*use np\.exp"),
    (lambda x, t, a: -x * math.sqrt(a), r"math\.exp.*use np\.exp"),
    (lambda x, t: sympy.gamma(x), "uses gamma"),
    (lambda x, t, dt: -x / dt, "clash"),
    (lambda x, t: "minus x", "not an expression"),
    (42, "needs a derivative function"),
])
def test_bad_derivative_functions_are_refused(f, match):
    with pytest.raises(SynbenchError, match=match):
        odeint(f, "rk4")


@pytest.mark.parametrize(("tau", "dt", "match"), [
    (5.0, 0.0, "dt must be positive"),
    (5.0, -0.1, "dt must be positive"),
    (5.0, float("nan"), "dt must be positive"),
    (0.0, 0.1, "tau must be positive"),
    (-5.0, 0.1, "tau must be positive"),
    (float("inf"), 0.1, "tau must be positive"),
    (True, 0.1, "tau must be a number"),
    ("5", 0.1, "tau must be a number"),
])
def test_decay_factor_validates(tau, dt, match):
    with pytest.raises(SynbenchError, match=match):
        decay_factor(tau, dt)


# --- loop invariants: step.constants and step.per_element ---

HH_SHARED = ("cm", "gl", "el", "ek", "ena", "g_na", "g_kd", "vt")


def _hh():
    from synbench.core.neurons import hh_derivative

    return hh_derivative


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", ["lif", "hh", "forced", "oscillator"])
def test_constants_then_per_element_is_the_step_bit_for_bit(case, method):
    """The two parts a compiled loop calls compute what ``step`` computes, to the bit,
    on arrays and per element (the runners rely on it: NumPy calls step, Numba the parts)."""
    from synbench.core.neurons import HHParams, lif_derivative

    rng = np.random.default_rng(0)
    if case == "lif":
        f, shared, state = lif_derivative, ("tau", "el", "i_bg"), (rng.uniform(-70, -50, 9),)
        params = {"tau": 20.0, "el": -60.0, "i_bg": 20.0, "i_syn": rng.normal(0, 3, 9)}
    elif case == "hh":
        p = HHParams()
        f, shared = _hh(), HH_SHARED
        state = (rng.uniform(-80, -40, 9), *rng.uniform(0.05, 0.9, (3, 9)))
        params = {"i_syn": rng.normal(0, 50, 9), **{k: getattr(p, k) for k in HH_SHARED}}
    elif case == "forced":  # t only: sin(t) is a loop invariant
        f, shared, state, params = forced_decay, (), (rng.normal(size=9),), {}
    else:
        f, shared, state, params = oscillator, ("w",), tuple(rng.normal(size=(2, 9))), {"w": 2.0}
    step = odeint(f, method, shared=shared)
    t, dt = 1.3, 0.1
    whole = step(*state, t, dt, *params.values())
    constants = step.constants(t, dt, *(params[k] for k in step.shared))
    varying = [params[k] for k in step.parameters if k not in shared]
    parts = step.per_element(*state, *varying, constants)
    for got, want in zip(np.atleast_1d(parts) if len(state) == 1 else parts,
                         np.atleast_1d(whole) if len(state) == 1 else whole, strict=True):
        np.testing.assert_array_equal(got, want)
    for i in range(9):  # one element at a time, as the Numba runner calls it
        one = step.per_element(*(x[i] for x in state), *(x[i] for x in varying), constants)
        for got, want in zip(np.atleast_1d(one), np.atleast_1d(
                step(*(x[i] for x in state), t, dt, *(
                    v[i] if np.ndim(v) else v for v in params.values()))), strict=True):
            assert got == want


def test_what_depends_only_on_shared_parameters_leaves_the_per_element_code():
    from synbench.core.neurons import HH, LIF

    lif = LIF.integrator("exp_euler")
    assert lif.shared == ("tau", "el", "i_bg")
    element = [line for line in lif.per_element.source.splitlines()[3:]
               if " = " in line and not line.strip().startswith("#")]
    # expm1(-dt/tau) and el + i_bg are computed once per step, not once per neuron.
    assert not any("expm1" in line or "tau" in line for line in element)
    assert "expm1(-dt/tau)" in lif.constants.source
    hh = HH.integrator("exp_euler")
    body = [line for line in hh.per_element.source.splitlines()
            if " = " in line and not line.strip().startswith("#")][1:]
    assert not any("vt" in line or "cm" in line for line in body)  # only in the constants
    # A derivative with no shared parameter keeps its code as it was.
    assert "expm1(-dt/tau)" in odeint(linear_with_tau, "exp_euler").source


def linear_with_tau(y, t, tau):
    return -y / tau


def test_rk_stage_factors_are_hoisted():
    step = odeint(forced_decay, "rk4")
    assert "(1/2)*dt" in step.constants.source and "(1/6)*dt" in step.constants.source
    assert "sin(t)" in step.constants.source  # the forcing at the stage times, once


@pytest.mark.parametrize(("shared", "match"), [
    ("r", "sequence of parameter names"),
    (("q",), "not among its parameters"),
    ((1,), "sequence of parameter names"),
])
def test_bad_shared_names_are_refused(shared, match):
    with pytest.raises(SynbenchError, match=match):
        odeint(logistic, "euler", shared=shared)


def test_an_argument_named_constants_is_refused():
    def f(y, t, constants):
        return -y * constants

    with pytest.raises(SynbenchError, match="clash"):
        odeint(f, "euler")
