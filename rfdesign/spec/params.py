"""Block parameters: ``$name`` and ``${expression}`` substitution.

A string that is exactly ``$name`` or ``${expr}`` is replaced by the value
(keeping its type: int, list, bool …); ``${expr}`` inside a longer string is
replaced by its text. Expressions are a small, safe subset of Python:
numbers, strings, names of parameters, ``+ - * / // % **``, comparisons,
``and/or/not``, ``x if c else y``, lists and ``min/max/abs``. Nothing else runs.
"""

from __future__ import annotations

import ast
import operator
import re
from fractions import Fraction
from typing import Any

_WHOLE = re.compile(r"^\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{(.*)\})$", re.S)
_EMBEDDED = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_FUNCTIONS = {"min": min, "max": max, "abs": abs}


class ExpressionError(ValueError):
    """An expression that cannot be evaluated; the message says why."""


def evaluate(expression: str, values: dict[str, Any]) -> Any:
    """Evaluate a parameter expression with the given parameter values."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise ExpressionError(f"cannot parse expression '{expression}'") from None
    return _eval(tree.body, values, expression)


def _eval(node: ast.AST, values: dict[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in values:
            return values[node.id]
        if node.id in ("true", "false"):
            return node.id == "true"
        raise ExpressionError(f"unknown parameter '{node.id}' in '{text}'")
    if isinstance(node, ast.BinOp):
        left = _eval(node.left, values, text)
        right = _eval(node.right, values, text)
        if isinstance(node.op, ast.Div):
            if right == 0:
                raise ExpressionError(f"division by zero in '{text}'")
            result = Fraction(left) / Fraction(right)
            return int(result) if result.denominator == 1 else result
        op = _BINARY.get(type(node.op))
        if op is None:
            raise ExpressionError(f"operator not allowed in '{text}'")
        try:
            return op(left, right)
        except (TypeError, ZeroDivisionError) as exc:
            raise ExpressionError(f"{exc} in '{text}'") from None
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, values, text)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return +operand
        if isinstance(node.op, ast.Not):
            return not operand
    if isinstance(node, ast.BoolOp):
        results = [_eval(value, values, text) for value in node.values]
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, values, text)
        for op_node, comparator in zip(node.ops, node.comparators):
            op = _COMPARE.get(type(op_node))
            if op is None:
                _refuse(text)
            right = _eval(comparator, values, text)
            if not op(left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        branch = node.body if _eval(node.test, values, text) else node.orelse
        return _eval(branch, values, text)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(item, values, text) for item in node.elts]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        if node.keywords:
            _refuse(text)
        return _FUNCTIONS[node.func.id](*[_eval(arg, values, text) for arg in node.args])
    return _refuse(text)


def _refuse(text: str) -> Any:
    raise ExpressionError(f"only arithmetic on parameters is allowed in '{text}'")


def substitute(value: Any, values: dict[str, Any]) -> Any:
    """Replace ``$name`` / ``${expr}`` in every string inside ``value`` (recursively)."""
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            name, expression = whole.groups()
            return evaluate(name if name is not None else expression, values)
        if "$" not in value:
            return value
        return _EMBEDDED.sub(lambda m: str(evaluate(m.group(1) or m.group(2), values)), value)
    if isinstance(value, list):
        return [substitute(item, values) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, values) for key, item in value.items()}
    return value
