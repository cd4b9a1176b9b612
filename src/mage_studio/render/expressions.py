"""A safe evaluator for the math expressions in Deforum schedules.

Deforum evaluates schedule values with numexpr. Here the expression is parsed with
`ast` and compiled into a tree of Python closures that accepts only numbers, the
variables `t` (frame), `max_f` (last frame index) and `s` (seed), the math
functions below, arithmetic, comparisons and `&`/`|`. Nothing reaches `eval` or
`exec`, attribute access and names outside the lists are rejected, and size
limits keep a hostile expression from using much CPU or memory.
"""

from __future__ import annotations

import ast
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

MAX_EXPRESSION_LENGTH = 1000
"""Characters in one expression."""
MAX_NODES = 300
"""Syntax tree nodes in one expression."""
MAX_EXPONENT = 1000.0
"""Largest absolute exponent accepted by `**` and `pow`."""
MAX_ARGUMENTS = 16

VARIABLES = ("t", "max_f", "s")
CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}

Scope = tuple[float, float, float]
"""Values of (t, max_f, s)."""
Compiled = Callable[[Scope], float]


class ExpressionError(ValueError):
    """An expression that is not allowed or cannot be evaluated."""


def _round_half_up(value: float) -> float:
    return float(math.floor(value + 0.5))


def _sign(value: float) -> float:
    return float((value > 0) - (value < 0))


def _where(condition: float, if_true: float, if_false: float) -> float:
    return if_true if condition else if_false


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _checked_pow(base: float, exponent: float) -> float:
    if abs(exponent) > MAX_EXPONENT:
        raise ExpressionError(f"exponent {exponent:g} is larger than {MAX_EXPONENT:g}")
    if base == 0 and exponent < 0:
        raise ExpressionError("zero cannot be raised to a negative power")
    result = math.pow(base, exponent)
    return result


# name: (function, minimum arguments, maximum arguments)
FUNCTIONS: dict[str, tuple[Callable[..., float], int, int]] = {
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
    "asin": (math.asin, 1, 1),
    "acos": (math.acos, 1, 1),
    "atan": (math.atan, 1, 1),
    "arcsin": (math.asin, 1, 1),
    "arccos": (math.acos, 1, 1),
    "arctan": (math.atan, 1, 1),
    "atan2": (math.atan2, 2, 2),
    "arctan2": (math.atan2, 2, 2),
    "sinh": (math.sinh, 1, 1),
    "cosh": (math.cosh, 1, 1),
    "tanh": (math.tanh, 1, 1),
    "asinh": (math.asinh, 1, 1),
    "acosh": (math.acosh, 1, 1),
    "atanh": (math.atanh, 1, 1),
    "arcsinh": (math.asinh, 1, 1),
    "arccosh": (math.acosh, 1, 1),
    "arctanh": (math.atanh, 1, 1),
    "exp": (math.exp, 1, 1),
    "expm1": (math.expm1, 1, 1),
    "log": (math.log, 1, 1),
    "log10": (math.log10, 1, 1),
    "log2": (math.log2, 1, 1),
    "log1p": (math.log1p, 1, 1),
    "sqrt": (math.sqrt, 1, 1),
    "abs": (abs, 1, 1),
    "fabs": (math.fabs, 1, 1),
    "floor": (lambda x: float(math.floor(x)), 1, 1),
    "ceil": (lambda x: float(math.ceil(x)), 1, 1),
    "trunc": (lambda x: float(math.trunc(x)), 1, 1),
    "round": (_round_half_up, 1, 1),
    "sign": (_sign, 1, 1),
    "min": (min, 2, MAX_ARGUMENTS),
    "max": (max, 2, MAX_ARGUMENTS),
    "pow": (_checked_pow, 2, 2),
    "fmod": (math.fmod, 2, 2),
    "hypot": (math.hypot, 2, 2),
    "where": (_where, 3, 3),
    "clip": (_clip, 3, 3),
}
"""Functions available in expressions: Python's math names and numexpr's arc* names.

`round` rounds halves up (2.5 gives 3), and comparisons give 1.0 or 0.0.
"""


def _divide(left: float, right: float) -> float:
    if right == 0:
        raise ExpressionError("division by zero")
    return left / right


def _floor_divide(left: float, right: float) -> float:
    if right == 0:
        raise ExpressionError("division by zero")
    return float(left // right)


def _modulo(left: float, right: float) -> float:
    if right == 0:
        raise ExpressionError("modulo by zero")
    return left % right


_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: _divide,
    ast.FloorDiv: _floor_divide,
    ast.Mod: _modulo,
    ast.Pow: _checked_pow,
    ast.BitAnd: lambda a, b: float(bool(a) and bool(b)),
    ast.BitOr: lambda a, b: float(bool(a) or bool(b)),
}

_COMPARE: dict[type[ast.cmpop], Callable[[float, float], bool]] = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled expression; call it with the frame, last frame index and seed."""

    source: str
    _compiled: Compiled

    def __call__(self, t: float = 0.0, max_f: float = 0.0, s: float = 0.0) -> float:
        """Evaluate, raising ExpressionError for division by zero and math errors."""
        try:
            result = self._compiled((t, max_f, s))
        except ExpressionError:
            raise
        except ZeroDivisionError as error:
            raise ExpressionError("division by zero") from error
        except (ValueError, OverflowError) as error:
            raise ExpressionError(f"math error ({error})") from error
        if not math.isfinite(result):
            raise ExpressionError(f"the result is not a finite number ({result})")
        return result


def compile_expression(
    source: str, variables: tuple[str, ...] = VARIABLES
) -> Expression:
    """Parse and check `source`, returning a callable Expression.

    `variables` limits which of t, max_f and s may appear (frame keys may not use
    `t`). Raises ExpressionError for syntax errors, names or constructs outside
    the allow-lists, and expressions over the size limits.
    """
    text = source.strip()
    if not text:
        raise ExpressionError("the expression is empty")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"the expression is longer than {MAX_EXPRESSION_LENGTH} characters"
        )
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise ExpressionError(f"invalid syntax in {text!r}") from error
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise ExpressionError(f"the expression has more than {MAX_NODES} parts")
    return Expression(text, _Compiler(variables).compile(tree.body))


class _Compiler:
    def __init__(self, variables: tuple[str, ...]) -> None:
        self.variables = variables

    def compile(self, node: ast.expr) -> Compiled:
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise ExpressionError(f"{type(node).__name__} expressions are not allowed")

    def _constant(self, node: ast.Constant) -> Compiled:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ExpressionError(f"only numbers are allowed, not {value!r}")
        number = float(value)  # floats cannot grow without bound the way ints can
        return lambda _scope: number

    def _name(self, node: ast.Name) -> Compiled:
        if node.id in CONSTANTS:
            constant = CONSTANTS[node.id]
            return lambda _scope: constant
        if node.id in self.variables:
            position = VARIABLES.index(node.id)
            return lambda scope: scope[position]
        allowed = ", ".join([*self.variables, *CONSTANTS])
        raise ExpressionError(f"unknown name {node.id!r} (allowed: {allowed})")

    def _unary(self, node: ast.UnaryOp) -> Compiled:
        operand = self.compile(node.operand)
        if isinstance(node.op, ast.USub):
            return lambda scope: -operand(scope)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Invert | ast.Not):
            return lambda scope: float(not operand(scope))
        raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")

    def _binary(self, node: ast.BinOp) -> Compiled:
        operation = _BINARY.get(type(node.op))
        if operation is None:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
        left = self.compile(node.left)
        right = self.compile(node.right)
        return lambda scope: operation(left(scope), right(scope))

    def _compare(self, node: ast.Compare) -> Compiled:
        operands = [
            self.compile(node.left),
            *(self.compile(c) for c in node.comparators),
        ]
        tests = []
        for operator in node.ops:
            test = _COMPARE.get(type(operator))
            if test is None:
                raise ExpressionError(
                    f"comparison {type(operator).__name__} is not allowed"
                )
            tests.append(test)

        def compare(scope: Scope) -> float:
            values = [operand(scope) for operand in operands]
            pairs = itertools.pairwise(values)
            return float(
                all(test(a, b) for test, (a, b) in zip(tests, pairs, strict=True))
            )

        return compare

    def _call(self, node: ast.Call) -> Compiled:
        if not isinstance(node.func, ast.Name) or node.keywords:
            raise ExpressionError("only plain calls such as sin(t) are allowed")
        entry = FUNCTIONS.get(node.func.id)
        if entry is None:
            raise ExpressionError(f"unknown function {node.func.id!r}")
        function, minimum, maximum = entry
        if any(isinstance(argument, ast.Starred) for argument in node.args):
            raise ExpressionError("argument unpacking is not allowed")
        if not minimum <= len(node.args) <= maximum:
            expected = str(minimum) if minimum == maximum else f"{minimum}-{maximum}"
            raise ExpressionError(
                f"{node.func.id}() takes {expected} arguments, got {len(node.args)}"
            )
        arguments = [self.compile(argument) for argument in node.args]
        return lambda scope: float(
            function(*(argument(scope) for argument in arguments))
        )
