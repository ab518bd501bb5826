"""Safe arithmetic for the ``calculate`` tool.

The expression is parsed with ``ast.parse(mode="eval")`` and evaluated by
walking a whitelist of node types; nothing is ever passed to ``eval``,
``exec`` or ``compile``. Names, attributes, subscripts, strings, comparisons
and every call other than the functions below are refused. Sizes are bounded
so no expression can take long or use much memory: the text is at most
``MAX_EXPRESSION_CHARS``, no integer may grow past ``MAX_INT_BITS`` (a power is
refused *before* it is computed when its result would), and floats must stay
finite.
"""

import ast
import math
import operator
from collections.abc import Callable

from .base import ToolError

MAX_EXPRESSION_CHARS = 500
# About 1,200 decimal digits: far more than arithmetic needs, instant to compute and print.
MAX_INT_BITS = 4096
MAX_ROUND_DIGITS = 100

Number = int | float

_BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Number], Number]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _round(value: Number, digits: Number | None = None) -> Number:
    if digits is None:
        return round(value)
    if not isinstance(digits, int) or abs(digits) > MAX_ROUND_DIGITS:
        raise ToolError("invalid_expression", "round()'s digits must be an integer between -100 and 100.")
    return round(value, digits)


def _min(*values: Number) -> Number:
    return min(values)


def _max(*values: Number) -> Number:
    return max(values)


# name -> (function, fewest arguments, most arguments or None for any number)
_FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int | None]] = {
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "min": (_min, 1, None),
    "max": (_max, 1, None),
    "sqrt": (math.sqrt, 1, 1),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "exp": (math.exp, 1, 1),
    "log": (math.log, 1, 2),
    "log10": (math.log10, 1, 1),
    "log2": (math.log2, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
}

ALLOWED = (
    "numbers, + - * / // % **, unary + and -, parentheses, "
    f"the constants {', '.join(_CONSTANTS)} and the functions {', '.join(_FUNCTIONS)}"
)


def evaluate(expression: str) -> Number:
    """Return the value of an arithmetic expression, or raise ToolError saying why it cannot be computed."""
    text = expression.strip()
    if not text:
        raise ToolError("invalid_expression", "The expression is empty.")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ToolError("expression_too_long", f"The expression is longer than {MAX_EXPRESSION_CHARS} characters.")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        raise ToolError("invalid_expression", f"The expression is not valid arithmetic. Allowed: {ALLOWED}.") from None
    try:
        return _evaluate(tree.body)
    except ZeroDivisionError:
        raise ToolError("division_by_zero", "The expression divides by zero.") from None
    except OverflowError:
        raise ToolError("result_too_large", "The result is too large to compute.") from None
    except RecursionError:
        raise ToolError("expression_too_complex", "The expression is nested too deeply.") from None
    except (ValueError, TypeError) as exc:
        # What the math functions raise for inputs outside their domain (sqrt(-1), log(0)).
        raise ToolError("math_error", f"Math error: {exc}.") from None


def _evaluate(node: ast.expr) -> Number:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ToolError("invalid_expression", f"Only numbers are allowed, not {type(value).__name__} literals.")
        return _checked(value)
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            return _checked(_power(left, right))
        function = _BINARY.get(type(node.op))
        if function is None:
            hint = " (use ** for powers)" if isinstance(node.op, ast.BitXor) else ""
            raise ToolError("invalid_expression", f"The operator {type(node.op).__name__} is not allowed{hint}.")
        return _checked(function(left, right))
    if isinstance(node, ast.UnaryOp):
        function = _UNARY.get(type(node.op))
        if function is None:
            raise ToolError("invalid_expression", f"The operator {type(node.op).__name__} is not allowed.")
        return _checked(function(_evaluate(node.operand)))
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise ToolError("invalid_expression", f"Unknown name '{node.id}'. Allowed: {ALLOWED}.")
    if isinstance(node, ast.Call):
        return _call(node)
    raise ToolError("invalid_expression", f"{type(node).__name__} is not allowed. Allowed: {ALLOWED}.")


def _call(node: ast.Call) -> Number:
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
        raise ToolError("invalid_expression", f"Only these functions may be called: {', '.join(_FUNCTIONS)}.")
    name = node.func.id
    function, fewest, most = _FUNCTIONS[name]
    if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
        raise ToolError("invalid_expression", f"{name}() takes plain positional arguments only.")
    if len(node.args) < fewest or (most is not None and len(node.args) > most):
        expected = str(fewest) if fewest == most else f"{fewest} to {most}" if most else f"at least {fewest}"
        raise ToolError("invalid_expression", f"{name}() takes {expected} argument(s), got {len(node.args)}.")
    arguments = [_evaluate(arg) for arg in node.args]
    try:
        return _checked(function(*arguments))
    except ValueError as exc:
        raise ToolError("math_error", f"Math error in {name}(): {exc}.") from None


def _power(base: Number, exponent: Number) -> Number:
    # Refuse before computing: 10**10**10 would take forever and all memory.
    both_int = isinstance(base, int) and isinstance(exponent, int)
    if both_int and exponent > 0 and abs(base) > 1 and (abs(base).bit_length() - 1) * exponent > MAX_INT_BITS:
        raise ToolError("result_too_large", f"The result would be larger than {MAX_INT_BITS} bits.")
    return base**exponent


def _checked(value: object) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        # A negative number to a fractional power is complex in Python.
        raise ToolError("math_error", "The result is not a real number.")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolError("result_too_large", f"The result is larger than {MAX_INT_BITS} bits.")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("result_too_large", "The result is too large (or not a number).")
    return value
