"""ODE integrators that write one plain Python step function per model and method.

``odeint(f, method, xp)`` calls the derivative function ``f`` once with (wrapped) SymPy
symbols, then generates the source of a function ``step(x, y, ..., t, dt, *params)`` that
advances the state by one step of ``method``, every stage inlined as straight-line
assignments, and executes it with the array functions of ``xp`` (NumPy by default) as its
globals.
The result is an ordinary function, so the same step runs

- on NumPy arrays and on scalars;
- under ``numba.njit`` (it only calls ``np.exp`` and friends, which Numba compiles), on
  arrays or per neuron inside the user's own compiled loop;
- under ``jax.jit`` with ``xp=jax.numpy`` (and on CuPy with ``xp=cupy``).

>>> from synbench.core.integrators import odeint
>>> def leak(v, t, tau, el):
...     return (el - v) / tau
>>> step = odeint(leak, "exp_euler")
>>> print(step.source)
def step(v, t, dt, tau, el):
    \"\"\"leak advanced by one exp_euler step.\"\"\"
    # exponential Euler: x_new = x + expm1(A*dt)/A * f, A = df/dx, others held
    v_new = v - (el - v)*expm1(-dt/tau)
    return v_new
<BLANKLINE>
>>> float(round(step(-70.0, 0.0, 0.1, 10.0, -60.0), 6))
-69.900498

``f`` may use arithmetic, NumPy's functions (``np.exp``, ``np.sqrt``, ``np.minimum``,
``np.where``, ...) or the SymPy ones re-exported here (``exp``, ``expm1``, ``Piecewise``,
...); not ``math.*`` (it needs plain numbers) and no Python ``if`` on the state.

>>> import numpy as np
>>> def gate(n, t, v):
...     return (1 - n) * np.exp(v / 20) - n
>>> print(odeint(gate, "euler").source.splitlines()[3])
    n_new = dt*(-n + (1 - n)*exp((1/20)*v)) + n
"""

from __future__ import annotations

import functools
import inspect
import linecache
import math
import operator
import re

import numpy
import sympy
from sympy import (  # noqa: F401 - re-exported for writing derivative functions
    Abs,
    Max,
    Min,
    Piecewise,
    acos,
    asin,
    atan,
    atan2,
    ceiling,
    cos,
    cosh,
    exp,
    floor,
    log,
    pi,
    sign,
    sin,
    sinh,
    sqrt,
    tan,
    tanh,
)
from sympy.codegen.cfunctions import expm1, log1p  # noqa: F401 - re-exported
from sympy.printing.pycode import PythonCodePrinter

from .errors import SynbenchError

__all__ = [
    "METHODS", "odeint", "decay_factor",
    "Abs", "Max", "Min", "Piecewise", "acos", "asin", "atan", "atan2", "ceiling", "cos",
    "cosh", "exp", "expm1", "floor", "log", "log1p", "pi", "sign", "sin", "sinh", "sqrt",
    "tan", "tanh",
]

#: The integration methods ``odeint`` knows, the default first.
METHODS = ("exp_euler", "euler", "rk2", "rk4")

# Names the generated code calls -> attribute of the array namespace that implements them.
_XP_NAMES = {
    "exp": "exp", "expm1": "expm1", "log": "log", "log1p": "log1p", "sqrt": "sqrt",
    "sin": "sin", "cos": "cos", "tan": "tan", "asin": "arcsin", "acos": "arccos",
    "atan": "arctan", "atan2": "arctan2", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
    "floor": "floor", "ceil": "ceil", "abs": "abs", "sign": "sign", "minimum": "minimum",
    "maximum": "maximum", "where": "where", "logical_and": "logical_and",
    "logical_or": "logical_or", "logical_not": "logical_not",
}

# SymPy functions the printer turns into those names; anything else is refused up front.
_SUPPORTED = {
    "exp", "expm1", "log", "log1p", "sin", "cos", "tan", "asin", "acos", "atan", "atan2",
    "sinh", "cosh", "tanh", "floor", "ceiling", "Abs", "sign", "Min", "Max", "Piecewise",
}


class _StepPrinter(PythonCodePrinter):
    """Python source with bare function names (``exp(x)``) and elementwise branches.

    Bare names are looked up in the step's globals, which map them to ``xp``'s
    functions; Min/Max/Piecewise/And/Or become ``minimum``/``maximum``/``where``/
    ``logical_*``, which work on arrays (Python's ``min`` and ``if`` would not).
    """

    def __init__(self):
        super().__init__({"fully_qualified_modules": False})

    def _print_Float(self, expr):
        # The shortest repr that round-trips the double: SymPy's default keeps 15 digits.
        return repr(float(expr))

    def _print_Pi(self, expr):
        return repr(math.pi)

    def _print_Exp1(self, expr):
        return repr(math.e)

    def _binary(self, name, args):
        out = self._print(args[0])
        for a in args[1:]:
            out = f"{name}({out}, {self._print(a)})"
        return out

    def _print_Min(self, expr):
        return self._binary("minimum", expr.args)

    def _print_Max(self, expr):
        return self._binary("maximum", expr.args)

    def _print_And(self, expr):
        return self._binary("logical_and", expr.args)

    def _print_Or(self, expr):
        return self._binary("logical_or", expr.args)

    def _print_Not(self, expr):
        return f"logical_not({self._print(expr.args[0])})"

    def _print_sign(self, expr):
        return f"sign({self._print(expr.args[0])})"

    def _print_Piecewise(self, expr):
        *pieces, (last, cond) = expr.args
        if cond != sympy.true:
            raise SynbenchError(
                "a Piecewise in a derivative needs a final (value, True) branch, "
                f"so that every input has a value: {expr}")
        out = self._print(last)
        for value, c in reversed(pieces):
            out = f"where({self._print(c)}, {self._print(value)}, {out})"
        return out


_PRINTER = _StepPrinter()


def _signature(f):
    """(state variable names, parameter names) from ``f(x, y, ..., t, *params)``."""
    if not callable(f):
        raise SynbenchError(f"odeint needs a derivative function, not {f!r}")
    name = getattr(f, "__name__", repr(f))
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError) as err:
        raise SynbenchError(f"cannot read the arguments of {name}: {err}") from err
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    odd = [p.name for p in params if p.kind not in positional]
    names = [p.name for p in params]
    hint = "write it as def f(x, y, ..., t, param1, param2, ...)"
    if odd:
        raise SynbenchError(
            f"{name} has arguments odeint cannot pass ({', '.join(odd)}): "
            f"*args, **kwargs and keyword-only arguments are not supported; {hint}")
    if "t" not in names:
        raise SynbenchError(
            f"{name}({', '.join(names)}) has no argument 't': odeint takes the names "
            f"before t as state variables and those after it as parameters; {hint}")
    k = names.index("t")
    if k == 0:
        raise SynbenchError(f"{name} has no state variable before 't'; {hint}")
    return tuple(names[:k]), tuple(names[k + 1:])


class _TraceError(TypeError):
    """Something in f that tracing cannot follow; the message says what to use instead."""


def _expr(x):
    return x.e if isinstance(x, _Traced) else sympy.sympify(x, strict=True)


def _wrap(e):
    # Conditions (x > a) stay plain SymPy: Piecewise accepts only SymPy Booleans.
    return _Traced(e) if isinstance(e, sympy.Expr) else e


def _op(fn):
    """A method applying ``fn`` to the SymPy expressions of its arguments."""
    return lambda *args: _wrap(fn(*map(_expr, args)))


def _reflected(fn):
    return _op(lambda a, b: fn(b, a))


# NumPy ufunc name -> the same function on SymPy expressions.
_UFUNCS = {
    "add": operator.add, "subtract": operator.sub, "multiply": operator.mul,
    "divide": operator.truediv, "power": operator.pow, "float_power": operator.pow,
    "negative": operator.neg, "positive": operator.pos, "absolute": Abs, "fabs": Abs,
    "square": lambda x: x**2, "reciprocal": lambda x: 1 / x, "exp": exp,
    "exp2": lambda x: 2**x, "expm1": expm1, "log": log, "log2": lambda x: log(x, 2),
    "log10": lambda x: log(x, 10), "log1p": log1p, "sqrt": sqrt, "sin": sin, "cos": cos,
    "tan": tan, "arcsin": asin, "arccos": acos, "arctan": atan, "arctan2": atan2,
    "sinh": sinh, "cosh": cosh, "tanh": tanh, "minimum": Min, "maximum": Max,
    "floor": floor, "ceil": ceiling, "sign": sign, "greater": operator.gt,
    "greater_equal": operator.ge, "less": operator.lt, "less_equal": operator.le,
    "equal": sympy.Eq, "not_equal": sympy.Ne, "logical_and": sympy.And,
    "logical_or": sympy.Or, "logical_not": sympy.Not,
}
# NumPy functions that are not ufuncs (they arrive through __array_function__, so only
# when an argument is traced: np.where(x > a, 1.0, 0.0) is not, and needs Piecewise).
_NP_FUNCTIONS = {
    "where": lambda c, a, b: Piecewise((a, c), (b, True)),
    "clip": lambda x, lo, hi: Min(Max(x, lo), hi),
}


def _untraceable(name, kwargs):
    how = " with keyword arguments" if kwargs else ""
    return (f"odeint cannot trace np.{name}{how}; it traces these NumPy functions "
            f"(positional arguments only): "
            f"{', '.join(f'np.{n}' for n in sorted((*_UFUNCS, *_NP_FUNCTIONS)))}, and "
            "the SymPy functions of synbench.core.integrators (exp, Piecewise, ...)")


class _Traced:
    """A SymPy expression that NumPy's functions and Python's operators act on.

    ``f`` is called with these instead of bare SymPy symbols so that ``np.exp(v)``
    works: NumPy hands any ufunc on a ``_Traced`` to ``__array_ufunc__``, which applies
    the SymPy equivalent. SymPy's own functions read the expression through ``_sympy_``,
    so both styles mix and trace to the same expression.
    """

    _op_priority = 100.0  # above SymPy's 10.0: sympy_expr + traced returns a _Traced

    def __init__(self, e):
        self.e = e

    def _sympy_(self):
        return self.e

    def __repr__(self):
        return f"_Traced({self.e})"

    __add__, __radd__ = _op(operator.add), _reflected(operator.add)
    __sub__, __rsub__ = _op(operator.sub), _reflected(operator.sub)
    __mul__, __rmul__ = _op(operator.mul), _reflected(operator.mul)
    __truediv__, __rtruediv__ = _op(operator.truediv), _reflected(operator.truediv)
    __pow__, __rpow__ = _op(operator.pow), _reflected(operator.pow)
    __neg__, __pos__, __abs__ = _op(operator.neg), _op(operator.pos), _op(Abs)
    __lt__, __le__ = _op(operator.lt), _op(operator.le)
    __gt__, __ge__ = _op(operator.gt), _op(operator.ge)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        fn = _UFUNCS.get(ufunc.__name__)
        if fn is None or method != "__call__" or kwargs:
            call = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
            raise _TraceError(_untraceable(call, kwargs))
        return _wrap(fn(*map(_expr, inputs)))

    def __array_function__(self, func, types, args, kwargs):
        fn = _NP_FUNCTIONS.get(func.__name__)
        if fn is None or kwargs:
            raise _TraceError(_untraceable(func.__name__, kwargs))
        return _wrap(fn(*map(_expr, args)))

    def __bool__(self):
        raise _TraceError(
            "odeint cannot trace a Python if/else, and/or or min/max that depends on the "
            "state or parameters; use np.where, np.minimum/np.maximum or Piecewise")

    def __float__(self):  # what math.exp(x) and float(x) call
        raise _TraceError(
            "math.exp, math.log, ... (and float()) need plain numbers, so odeint cannot "
            "trace them on the state or parameters; use np.exp, np.log, ... instead")


def _derivatives(f, variables, parameters):
    """Call ``f`` once with traced SymPy symbols; one expression per state variable."""
    name = getattr(f, "__name__", repr(f))
    symbols = [sympy.Symbol(n, real=True) for n in (*variables, "t", *parameters)]
    try:
        out = f(*map(_Traced, symbols))
    except _TraceError as err:
        raise SynbenchError(f"{name}: {err}") from None
    except Exception as err:  # any failure here means f is not symbolic-friendly
        raise SynbenchError(
            f"calling {name} with traced SymPy symbols failed ({type(err).__name__}: "
            f"{err}); write derivatives with arithmetic and NumPy's functions (np.exp, "
            "np.where, ...) or those of synbench.core.integrators (exp, Piecewise, ...), "
            "without Python if/else on the state (for a branch with only constants, "
            "use Piecewise((1.0, x > a), (0.0, True)))") from err
    if len(variables) == 1 and not isinstance(out, (tuple, list)):
        out = (out,)
    if not isinstance(out, (tuple, list)) or len(out) != len(variables):
        got = len(out) if isinstance(out, (tuple, list)) else 1
        raise SynbenchError(
            f"{name} has {len(variables)} state variable(s) ({', '.join(variables)}) "
            f"but returned {got} derivative(s); return one per variable, in order")
    try:
        exprs = [_expr(e) for e in out]
    except (sympy.SympifyError, TypeError) as err:
        raise SynbenchError(f"{name} returned something that is not an expression: {err}") from err
    for e in exprs:
        for fn in e.atoms(sympy.Function):
            if type(fn).__name__ not in _SUPPORTED:
                raise SynbenchError(
                    f"{name} uses {type(fn).__name__}, which odeint cannot translate to "
                    f"array code; supported functions: {', '.join(sorted(_SUPPORTED))}")
    return dict(zip(variables, exprs, strict=True))


class _Writer:
    """Collects the straight-line body of the step function.

    Every subexpression that depends only on ``shared`` symbols (t, dt and the
    parameters that are the same for every element) is a loop invariant: it is named
    ``_c<i>`` once, in :attr:`constants`, and the per-element lines read that name
    (Brian 2's loop-invariant hoisting). A compiled loop over neurons computes the
    constants once per step instead of once per neuron, and what is left vectorises.
    """

    def __init__(self, shared):
        self.lines: list[str] = []
        self.shared = frozenset(sympy.Symbol(n, real=True) for n in shared)
        self.constants: dict[sympy.Expr, sympy.Symbol] = {}
        self._temps = sympy.numbered_symbols("_s", real=True)
        self._names = sympy.numbered_symbols("_c", real=True)

    def comment(self, text):
        self.lines.append(f"# {text}")

    def _constant(self, e):
        if e not in self.constants:
            self.constants[e] = next(self._names)
        return self.constants[e]

    def _is_shared(self, e):
        return isinstance(e, sympy.Expr) and e.free_symbols <= self.shared

    @staticmethod
    def _trivial(e):
        """Not worth a name: a number, a symbol, or its negation."""
        return e.is_Atom or (e.is_Mul and len(e.args) == 2 and e.args[0] == -1
                             and e.args[1].is_Atom)

    def hoisted(self, e):
        """``e`` with each largest shared subexpression replaced by its ``_c<i>``; of a
        sum or product, the shared terms (factors) are gathered into one constant. A
        shared parameter read as it is keeps its name and is passed with the constants."""
        if not isinstance(e, sympy.Basic):
            return e
        if self._is_shared(e):
            if not self._trivial(e):
                return self._constant(e)
            for symbol in sorted(e.free_symbols, key=str):
                self.constants.setdefault(symbol, symbol)
            return e
        if e.is_Atom:
            return e
        if isinstance(e, (sympy.Add, sympy.Mul)):
            shared = [a for a in e.args if self._is_shared(a)]
            rest = [self.hoisted(a) for a in e.args if not self._is_shared(a)]
            if len(shared) > 1:
                shared = [e.func(*shared)]
            return e.func(*(self.hoisted(a) for a in shared), *rest)
        return e.func(*(self.hoisted(a) for a in e.args))

    def assign(self, targets: dict[str, sympy.Expr]):
        """``name = expr`` for each target, sharing common subexpressions as ``_s<i>``."""
        names = list(targets)
        exprs = [self.hoisted(targets[n]) for n in names]
        temps, reduced = sympy.cse(exprs, symbols=self._temps)
        for sym, e in temps:
            self.lines.append(f"{sym} = {_PRINTER.doprint(e)}")
        for n, e in zip(names, reduced, strict=True):
            self.lines.append(f"{n} = {_PRINTER.doprint(e)}")

    def constant_lines(self) -> list[str]:
        """``_c<i> = expr`` for each constant (a shared parameter needs no line)."""
        return [f"{name} = {_PRINTER.doprint(e)}" for e, name in self.constants.items()
                if e != name]


def _rk_stage(w, derivs, variables, t, dt, stage, c):
    """Slopes ``k<stage>_x`` of every variable, at state ``x_<stage>`` and time t + c*dt."""
    subs = {} if stage == 1 else {
        sympy.Symbol(x, real=True): sympy.Symbol(f"{x}_{stage}", real=True) for x in variables}
    if c:
        subs[t] = t + c * dt
    w.assign({f"k{stage}_{x}": derivs[x].xreplace(subs) for x in variables})


def _body(method, derivs, variables, shared):
    """The writer of the step for ``method``; the new values are named ``<x>_new``."""
    t, dt = sympy.Symbol("t", real=True), sympy.Symbol("dt", real=True)
    half = sympy.Rational(1, 2)
    w = _Writer(("t", "dt", *shared))

    def symbol(name):
        return sympy.Symbol(name, real=True)

    if method == "euler":
        w.comment("Euler: x_new = x + dt * f(x, t)")
        w.assign({f"{x}_new": sympy.Symbol(x, real=True) + dt * derivs[x] for x in variables})
    elif method == "exp_euler":
        w.comment("exponential Euler: x_new = x + expm1(A*dt)/A * f, A = df/dx, others held")
        new = {}
        for x in variables:
            sx = sympy.Symbol(x, real=True)
            a = sympy.diff(derivs[x], sx)
            if a == 0 or a.is_zero:  # f does not depend on x: plain Euler is exact there
                new[f"{x}_new"] = sx + dt * derivs[x]
            else:
                new[f"{x}_new"] = sx + expm1(a * dt) / a * derivs[x]
        w.assign(new)
    elif method == "rk2":
        w.comment("explicit midpoint (RK2): slope at the half step")
        _rk_stage(w, derivs, variables, t, dt, 1, 0)
        w.assign({f"{x}_2": symbol(x) + half * dt * symbol(f"k1_{x}") for x in variables})
        _rk_stage(w, derivs, variables, t, dt, 2, half)
        w.assign({f"{x}_new": symbol(x) + dt * symbol(f"k2_{x}") for x in variables})
    elif method == "rk4":
        w.comment("classic RK4: slopes at t, t + dt/2 (twice) and t + dt; weights 1, 2, 2, 1")
        _rk_stage(w, derivs, variables, t, dt, 1, 0)
        for stage, c in enumerate([half, half, 1], 2):
            w.assign({f"{x}_{stage}": symbol(x) + c * dt * symbol(f"k{stage - 1}_{x}")
                      for x in variables})
            _rk_stage(w, derivs, variables, t, dt, stage, c)
        w.assign({f"{x}_new": symbol(x) + dt / 6 * (
            symbol(f"k1_{x}") + 2 * symbol(f"k2_{x}") + 2 * symbol(f"k3_{x}")
            + symbol(f"k4_{x}")) for x in variables})
    return w


def _check_method(method):
    if method not in METHODS:
        raise SynbenchError(
            f"unknown integration method {method!r}; choose from {', '.join(METHODS)}")


def _check_names(name, variables, parameters, lines):
    """Refuse argument names that the generated code also uses for itself."""
    taken = set(_XP_NAMES) | {"dt", "constants"}
    for line in lines:
        if not line.startswith("#"):
            taken.add(line.split(" = ", 1)[0])
    clash = sorted(taken.intersection((*variables, *parameters)))
    if clash:
        raise SynbenchError(
            f"{name}: argument name(s) {', '.join(clash)} clash with names the generated "
            "step uses (dt, constants, function names, k1_x, x_2, x_new, _s0, _c0, ...); "
            "rename them")


def _check_shared(name, parameters, shared):
    """``shared`` as a tuple of parameter names, in the signature's order."""
    if isinstance(shared, str) or not isinstance(shared, (tuple, list, set, frozenset)) \
            or not all(isinstance(p, str) for p in shared):
        raise SynbenchError(f"shared must be a sequence of parameter names such as "
                            f"('tau', 'el'), not {shared!r}")
    unknown = [p for p in shared if p not in parameters]
    if unknown:
        raise SynbenchError(
            f"{name}: shared names {', '.join(map(repr, unknown))}, which are not among its "
            f"parameters ({', '.join(parameters) or 'none'})")
    return tuple(p for p in parameters if p in shared)


def _function(head, doc, lines, results, filename, namespace):
    """Compile ``def head: doc; lines; return results`` (its text kept for tracebacks)."""
    source = "\n".join([f"def {head}:", f'    """{doc}"""', *(f"    {line}" for line in lines),
                        f"    return {results}", ""])
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # our own generated code
    fn = namespace[head.split("(", 1)[0]]
    fn.source = source
    return fn


@functools.cache
def _build(f, method, xp, shared):
    variables, parameters = _signature(f)
    name = getattr(f, "__name__", "f")
    derivs = _derivatives(f, variables, parameters)
    writer = _body(method, derivs, variables, shared)
    constants = writer.constant_lines()
    _check_names(name, variables, parameters, constants + writer.lines)
    results = ", ".join(f"{x}_new" for x in variables)
    names = [str(name) for name in writer.constants.values()]
    text = "\n".join(constants + writer.lines)
    namespace = {"__name__": __name__}
    missing = []
    for printed, attr in _XP_NAMES.items():
        if re.search(rf"\b{printed}\(", text):
            fn = getattr(xp, attr, None)
            if fn is None:
                missing.append(attr)
            namespace[printed] = fn
    if missing:
        raise SynbenchError(
            f"array namespace {getattr(xp, '__name__', xp)!r} lacks {', '.join(missing)}, "
            f"which the {method} step of {name} needs")
    # Registered under their own file names, so tracebacks and inspect.getsource show them.
    label = f"{name} {method} {getattr(xp, '__name__', 'xp')}"
    hoisted = ["# the same for every element (t, dt and the shared parameters)", *constants]
    step = _function(
        f"step({', '.join((*variables, 't', 'dt', *parameters))})",
        f"{name} advanced by one {method} step.", (hoisted if constants else []) + writer.lines,
        results, f"<synbench.odeint {label}>", namespace)
    step.constants = _function(
        f"constants({', '.join(('t', 'dt', *shared))})",
        f"The loop invariants of {name}'s {method} step: once per step for all elements.",
        constants, f"({', '.join(names)}{',' if len(names) == 1 else ''})",
        f"<synbench.odeint {label} constants>", namespace)
    per_element = [p for p in parameters if p not in shared]
    unpack = [f"{', '.join(names)}{',' if len(names) == 1 else ''} = constants"] if names else []
    step.per_element = _function(
        f"per_element({', '.join((*variables, *per_element, 'constants'))})",
        f"{name}'s {method} step of one element (or array) given step.constants(...).",
        unpack + writer.lines, results, f"<synbench.odeint {label} per element>", namespace)
    step.method = method
    step.variables = variables
    step.parameters = parameters
    step.shared = shared
    step.derivative = f
    step.xp = xp
    return step


def odeint(f, method: str = "exp_euler", xp=numpy, shared=()):
    """One-step integrator for the derivative function ``f``.

    Parameters
    ----------
    f : callable
        ``f(x, y, ..., t, p1, p2, ...)`` returning dx/dt (one variable) or a tuple
        (dx/dt, dy/dt, ...). The names before ``t`` are the state variables, those after
        it the parameters. It is called once with (wrapped) SymPy symbols, so it may use
        arithmetic, NumPy's functions (``np.exp``, ``np.where``, ...) and the SymPy
        functions re-exported by this module (``exp``, ``Piecewise``, ...), not
        ``math.*`` and no Python ``if`` on the state.
    method : {'exp_euler', 'euler', 'rk2', 'rk4'}
        ``exp_euler`` advances each variable x by ``expm1(A dt)/A * f_x`` with
        A = df_x/dx and the other variables held (exact for linear equations; Brian 2's
        exponential Euler); ``euler`` is forward Euler, ``rk2`` the explicit midpoint
        rule, ``rk4`` classic Runge-Kutta.
    xp : module
        Array namespace whose functions the step calls (``numpy``, ``jax.numpy``,
        ``cupy``).
    shared : sequence of str
        The parameters that are the same for every element (a neuron model's ``tau``,
        not its per-neuron input). Every subexpression of only these, ``t`` and ``dt``
        is computed once, before the per-element lines: ``step.constants``.

    Returns
    -------
    step : function
        ``step(x, y, ..., t, dt, p1, p2, ...) -> x_new`` (or a tuple for several
        variables), correct for any mix of scalars and arrays. Its generated source is
        ``step.source``. For a compiled loop over elements it comes in two parts:
        ``step.constants(t, dt, *shared) -> tuple``, once per step, and
        ``step.per_element(x, y, ..., *others, constants)``, the same arithmetic as
        ``step`` per element (``others``: the parameters not shared). The same
        (f, method, xp, shared) returns the same function object.

    >>> def lif(v, t, tau, el, i_syn):
    ...     return (el - v + i_syn) / tau
    >>> step = odeint(lif, "exp_euler", shared=("tau", "el"))
    >>> print(step.per_element.source)
    def per_element(v, i_syn, constants):
        \"\"\"lif's exp_euler step of one element (or array) given step.constants(...).\"\"\"
        el, _c0 = constants
        # exponential Euler: x_new = x + expm1(A*dt)/A * f, A = df/dx, others held
        v_new = _c0*(el + i_syn - v) + v
        return v_new
    <BLANKLINE>
    >>> step.constants(0.0, 0.1, 10.0, -60.0) == (-60.0, -math.expm1(-0.01))
    True
    """
    _check_method(method)
    _, parameters = _signature(f)
    return _build(f, method, xp, _check_shared(getattr(f, "__name__", "f"), parameters, shared))


def _decay(g, t, tau):
    return -g / tau


def decay_factor(tau: float, dt: float, method: str = "exp_euler") -> float:
    """The factor by which ``method`` advances dg/dt = -g/tau over one step of ``dt``.

    ``exp(-dt/tau)`` for exp_euler, ``1 - dt/tau`` for euler, the Taylor polynomial of
    the exponential to order 2 (rk2) or 4 (rk4); computed by running the generated step
    once from g = 1, so it is exactly what a simulation with that step would apply.
    """
    for label, value in (("tau", tau), ("dt", dt)):
        if isinstance(value, bool) or not isinstance(value, (int, float, numpy.number)):
            raise SynbenchError(f"{label} must be a number in ms, not {value!r}")
        if not (math.isfinite(value) and value > 0):
            raise SynbenchError(f"{label} must be positive and finite (in ms), not {value!r}")
    _check_method(method)
    return float(odeint(_decay, method)(1.0, 0.0, float(dt), float(tau)))
