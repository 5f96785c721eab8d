"""The runner's neuron kernel, generated from the neuron model's SymPy-derived integrator.

odeint writes the integrator as Python source (straight-line assignments). Translating
that source's syntax tree to C keeps NumPy's evaluation order operation by operation,
and the kinds below keep NumPy 2's dtype promotion (a Python float adopts the array's
dtype; a NumPy function of a Python float is a float64 scalar), so float64 runs do the
NumPy runner's arithmetic exactly, up to the last bit of CUDA's exp (and pow).

:func:`neuron_source` returns the CUDA source of ``neuron_update`` (no GPU needed),
which the runner appends to its network module: cuda/network.cu defines what it calls
(the grid-stride loop, ``CTL_STEP``, ``record_spike``).
"""

from __future__ import annotations

import ast

import numpy as np

from ...core.errors import SynbenchError
from . import CTYPES

# Python (as odeint prints it) -> CUDA C, keeping NumPy's evaluation order and dtypes.
_UNARY_FUNCS = {"exp": "exp", "expm1": "expm1", "log": "log", "log1p": "log1p",
                "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan", "asin": "asin",
                "acos": "acos", "atan": "atan", "sinh": "sinh", "cosh": "cosh",
                "tanh": "tanh", "floor": "floor", "ceil": "ceil", "abs": "fabs",
                "sign": "synbench_sign"}
_BINARY_FUNCS = {"minimum": "fmin", "maximum": "fmax", "atan2": "atan2"}
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
# Kinds of value, after NumPy 2's promotion rules (NEP 50): "weak" is a Python float
# (adopts the dtype of the array it meets), "f64" a float64 NumPy scalar or array, "T"
# an array of the run's dtype, "bool" a condition.
_CTYPE = {"weak": "double", "f64": "double", "T": "T", "bool": "bool"}


def _literal(value) -> str:
    """A double literal that reads back exactly (parenthesized when negative)."""
    text = repr(float(value))
    return f"({text})" if text.startswith("-") else text


def _promote(a, b):
    if a == b:
        return a
    if {a, b} == {"weak", "T"}:
        return "T"
    return "f64"


def _cast(code, kind, to):
    if kind == to or to == "bool":
        return code
    return f"(({_CTYPE[to]})({code}))"


# What the printed names call in NumPy, to fold constant subexpressions on the host.
_NUMPY_FUNCS = {**{k: getattr(np, k) for k in ("exp", "expm1", "log", "log1p", "sqrt", "sin",
                                                "cos", "tan", "sinh", "cosh", "tanh", "floor",
                                                "ceil", "abs", "sign", "minimum", "maximum",
                                                "where")},
                "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "atan2": np.arctan2}


class _ToC:
    """Translates expressions; ``values`` holds the host value of every constant name."""

    def __init__(self, kinds, values):
        self.kinds, self.values = dict(kinds), dict(values)

    def expr(self, node):
        """(C code, kind) of a Python expression node.

        A subexpression of constants only (parameters, dt) is evaluated here with NumPy,
        exactly as the NumPy runner evaluates it, and written as a literal.
        """
        code, kind = self._expr(node)
        if kind in ("weak", "f64") and not isinstance(node, ast.Constant):
            try:
                value = eval(compile(ast.Expression(node), "<fold>", "eval"),  # noqa: S307
                             {"__builtins__": {}, **_NUMPY_FUNCS}, self.values)
            except NameError:  # depends on t or on the state
                return code, kind
            return _literal(value), kind
        return code, kind

    def _expr(self, node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            return _literal(node.value), "weak"
        if isinstance(node, ast.Name):
            return node.id, self.kinds[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            code, kind = self.expr(node.operand)
            return (f"(-{code})" if isinstance(node.op, ast.USub) else code), kind
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            return self.power(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            (a, ka), (b, kb) = self.expr(node.left), self.expr(node.right)
            kind = _promote(ka, kb)
            return f"({_cast(a, ka, kind)} {_OPS[type(node.op)]} {_cast(b, kb, kind)})", kind
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMP:
            (a, ka), (b, kb) = self.expr(node.left), self.expr(node.comparators[0])
            kind = _promote(ka, kb)
            return f"({_cast(a, ka, kind)} {_CMP[type(node.ops[0])]} {_cast(b, kb, kind)})", "bool"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            return self.call(node.func.id, [self.expr(a) for a in node.args])
        raise ValueError(f"cannot translate {ast.unparse(node)!r} to CUDA C")

    def power(self, node):
        base, kb = self.expr(node.left)
        right = node.right
        if isinstance(right, ast.Constant) or (
                isinstance(right, ast.UnaryOp) and isinstance(right.operand, ast.Constant)):
            e = float(ast.literal_eval(node.right))
            # NumPy's fast paths for an array to a scalar power (and exact anyway for 2).
            if e == 2:
                return f"({base} * {base})", kb
            if kb != "weak":
                one = _cast("1.0", "weak", kb)
                special = {1: base, 0: one, 0.5: f"sqrt({base})", -1: f"({one} / {base})"}
                if e in special:
                    return special[e], kb
        exp_code, ke = self.expr(node.right)
        kind = _promote(kb, ke)
        return f"pow({_cast(base, kb, kind)}, {_cast(exp_code, ke, kind)})", kind

    def call(self, name, args):
        if name in _UNARY_FUNCS and len(args) == 1:
            code, kind = args[0]
            # NumPy's ufuncs turn a Python float into a float64 scalar.
            return f"{_UNARY_FUNCS[name]}({code})", ("f64" if kind == "weak" else kind)
        if name in _BINARY_FUNCS and len(args) == 2:
            (a, ka), (b, kb) = args
            kind = _promote(ka, kb)
            kind = "f64" if kind == "weak" else kind
            return f"{_BINARY_FUNCS[name]}({_cast(a, ka, kind)}, {_cast(b, kb, kind)})", kind
        if name == "where" and len(args) == 3:
            (c, _), (a, ka), (b, kb) = args
            kind = _promote(ka, kb)
            kind = "f64" if kind == "weak" else kind
            return f"({c} ? {_cast(a, ka, kind)} : {_cast(b, kb, kind)})", kind
        if name in ("logical_and", "logical_or") and len(args) == 2:
            op = "&&" if name == "logical_and" else "||"
            return f"({args[0][0]} {op} {args[1][0]})", "bool"
        if name == "logical_not" and len(args) == 1:
            return f"(!{args[0][0]})", "bool"
        raise ValueError(f"cannot translate a call of {name} to CUDA C")


def step_to_c(step, kinds, values):
    """The body of odeint's ``step`` as CUDA C statements; returns (lines, [(name, kind)]).

    ``kinds`` gives the kind of each argument, ``values`` the value of each constant one.
    Every intermediate is a ``const`` local of its kind's C type.
    """
    tree = ast.parse(step.source)
    fn = tree.body[0]
    t = _ToC(kinds, values)
    lines, results = [], None
    for stmt in fn.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # the docstring
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 \
                and isinstance(stmt.targets[0], ast.Name):
            code, kind = t.expr(stmt.value)
            name = stmt.targets[0].id
            t.kinds[name] = kind
            t.values.pop(name, None)
            try:  # a constant: later expressions fold it too, with its NumPy type
                value = float(code.strip("()"))
                t.values[name] = value if kind == "weak" else np.float64(value)
            except ValueError:
                pass
            lines.append(f"const {_CTYPE[kind]} {name} = {code};")
        elif isinstance(stmt, ast.Return):
            value = stmt.value
            names = [e.id for e in value.elts] if isinstance(value, ast.Tuple) else [value.id]
            results = [(n, t.kinds[n]) for n in names]
        else:
            raise ValueError(f"cannot translate {ast.unparse(stmt)!r} to CUDA C")
    return lines, results


#: The update rule of each model (``lif_update``, ``hh_update`` in core/neurons.py), in C.
#: ``{store}`` writes the new state; ``spike`` is this step's spike decision.
_UPDATES = {
    "lif": """
        const bool spike = !refractory && {v_new_ge_th};
        {store}
""",
    "hh": """
        const bool spike = !refractory && (v < {v_th_T}) && {v_new_ge_th};
        {store}
""",
}


def neuron_source(neurons, dtype, float_spikes: bool) -> str:
    """CUDA source of ``neuron_update``: one thread per neuron, the model's update rule."""
    model, params, step = neurons.model, neurons.params, neurons.integrator
    if model.name not in _UPDATES:
        raise SynbenchError(f"the CuPy runner has no update rule for the {model.name!r} model "
                            f"(it knows {', '.join(_UPDATES)})")
    ctype = CTYPES[np.dtype(dtype).name]
    kinds = {"t": "weak", "dt": "weak", **{x: "T" for x in step.variables}}
    consts = [f"const double dt = {float(neurons.dt)!r};",
              "const double t = ((double)step) * dt;"]
    for name in step.parameters:
        if name == "i_syn":
            kinds[name] = "T"
        else:
            kinds[name] = "weak"
            consts.append(f"const double {name} = {float(getattr(params, name))!r};")
    values = {"dt": neurons.dt, **{name: getattr(params, name) for name in step.parameters
                                   if name != "i_syn"}}
    lines, results = step_to_c(step, kinds, values)
    new_kind = dict(results)
    v_kind = new_kind["v_new"]
    th_kind = _promote(v_kind, "weak")
    v_th = repr(float(params.v_th))
    fields = {
        "v_new_ge_th": f"({_cast('v_new', v_kind, th_kind)} >= {_cast(v_th, 'weak', th_kind)})",
        "v_th_T": _cast(v_th, "weak", "T"),
    }
    if model.name == "lif":  # where(refractory, v, where(spike, v_reset, v_int))
        inner_kind = _promote("weak", v_kind)
        inner = (f"(spike ? {_cast(repr(float(params.v_reset)), 'weak', inner_kind)} : "
                 f"{_cast('v_new', v_kind, inner_kind)})")
        outer_kind = _promote("T", inner_kind)
        value = (f"(refractory ? {_cast('v', 'T', outer_kind)} : "
                 f"{_cast(inner, inner_kind, outer_kind)})")
        fields["store"] = f"arr_v[j] = {_cast(value, outer_kind, 'T')};"
    else:  # every neuron integrates
        fields["store"] = "\n        ".join(
            f"arr_{x}[j] = {_cast(f'{x}_new', new_kind[f'{x}_new'], 'T')};" for x in step.variables)
    update = _UPDATES[model.name].format(**fields)
    state_args = "".join(f"T* arr_{x}, " for x in step.variables)
    loads = "".join(f"        const T {x} = arr_{x}[j];\n" for x in step.variables)
    body = "\n".join(f"        {line}" for line in lines)
    float_line = "        spikes_float[j] = spike ? (T)1 : (T)0;\n" if float_spikes else ""
    source = f"""
// Generated by synbench.impls.cupy._neurons from {model.name}'s {neurons.method} integrator:
// {step.source.splitlines()[1].strip()}
extern "C" __global__ void neuron_update({state_args}const T* arr_i_syn, int* last_spike,
        bool* spiked, T* spikes_float, int* ctl, int* spike_ids, long long capacity,
        long long n_neurons) {{
    const long long step = ctl[CTL_STEP];
    {chr(10).join('    ' + c for c in consts).strip()}
    SYNBENCH_GRID_STRIDE(j, n_neurons) {{
{loads}        const T i_syn = arr_i_syn[j];
        const bool refractory = (step - (long long)last_spike[j]) <= {int(neurons.ref_steps)}LL;
{body}
{update}        spiked[j] = spike;
{float_line}        if (spike) {{
            last_spike[j] = (int)step;
            record_spike(ctl, spike_ids, capacity, j);
        }}
    }}
}}
"""
    return source.replace("T*", f"{ctype}*").replace("(T)", f"({ctype})").replace(
        "const T ", f"const {ctype} ")
