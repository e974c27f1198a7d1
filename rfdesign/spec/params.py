"""Block parameters: ``$name`` and ``${expression}`` substitution.

A string that is exactly ``$name`` or ``${expr}`` is replaced by the value
(keeping its type: int, list, bool …); ``${expr}`` inside a longer string is
replaced by its text. Expressions are a small, safe subset of Python:
numbers, strings, names of parameters, ``+ - * / // % **``, comparisons,
``and/or/not``, ``x if c else y``, lists and ``min/max/abs``. Nothing else runs.

Every expression is bounded, so a hostile spec cannot hang or exhaust memory
(docs/spec-format.md lists the limits): its text, the depth and number of its
syntax nodes, and every value it computes (integers, strings, lists, counted
element by element through nested lists). Each limit is checked *before* the
work it would bound: ``9**9**9`` and ``[1] * 10**10`` are refused without
being computed.
"""

from __future__ import annotations

import ast
import operator
import re
from fractions import Fraction
from typing import Any

_WHOLE = re.compile(r"^\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{(.*)\})$", re.S)
_EMBEDDED = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")

#: the longest expression text, in characters
MAX_EXPRESSION_CHARS = 1000
#: how deeply an expression's syntax may nest, and how many syntax nodes it may have
MAX_EXPRESSION_DEPTH = 50
MAX_EXPRESSION_NODES = 500
#: the largest integer an expression may compute or use: |n| < 2**MAX_INT_BITS
MAX_INT_BITS = 64
#: the longest string an expression (or a string with embedded expressions) may make
MAX_STRING_CHARS = 10_000
#: the most elements a list value may hold, counted through nested lists
MAX_LIST_ELEMENTS = 10_000

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
#: what a failing operation on the user's values may raise (turned into an ExpressionError)
_OPERATION_ERRORS = (TypeError, ValueError, ZeroDivisionError, OverflowError, ArithmeticError)


class ExpressionError(ValueError):
    """An expression that cannot be evaluated; the message says why."""


def evaluate(expression: str, values: dict[str, Any]) -> Any:
    """Evaluate a parameter expression with the given parameter values."""
    text = expression.strip()
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(
            f"an expression may have at most {MAX_EXPRESSION_CHARS} characters, this one has {len(text)}"
        )
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise ExpressionError(f"cannot parse expression '{_short(expression)}'") from None
    _check_shape(tree.body, expression)
    return _eval(tree.body, values, expression)


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _check_shape(root: ast.AST, text: str) -> None:
    """Refuse an expression nested too deeply or with too many parts (before evaluating anything)."""
    count = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > MAX_EXPRESSION_DEPTH:
            raise ExpressionError(f"'{_short(text)}' nests deeper than {MAX_EXPRESSION_DEPTH} levels")
        if count > MAX_EXPRESSION_NODES:
            raise ExpressionError(f"'{_short(text)}' has more than {MAX_EXPRESSION_NODES} parts")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _size(value: Any, budget: int = MAX_LIST_ELEMENTS) -> int:
    """Elements in ``value`` counted through nested lists (stops counting past ``budget``)."""
    if not isinstance(value, list):
        return 1
    total = 0
    for item in value:
        total += _size(item, budget - total) if isinstance(item, list) else 1
        if total > budget:
            return total
    return total


def _bits(value: Any) -> int:
    """Bits of an int, or of a Fraction's numerator or denominator (the larger)."""
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return value.bit_length()
    if isinstance(value, Fraction):
        return max(value.numerator.bit_length(), value.denominator.bit_length())
    return 0


def _bounded(value: Any, text: str) -> Any:
    """``value`` if it is within the limits, else an ExpressionError."""
    if isinstance(value, complex):
        raise ExpressionError(f"'{_short(text)}' is not a real number")
    if _bits(value) > MAX_INT_BITS:
        raise ExpressionError(f"'{_short(text)}' computes a number beyond {MAX_INT_BITS} bits")
    if isinstance(value, str) and len(value) > MAX_STRING_CHARS:
        raise ExpressionError(f"'{_short(text)}' makes a string longer than {MAX_STRING_CHARS} characters")
    if isinstance(value, list) and _size(value) > MAX_LIST_ELEMENTS:
        raise ExpressionError(f"'{_short(text)}' makes a list of more than {MAX_LIST_ELEMENTS} elements")
    return value


def _check_cost(op: ast.operator, left: Any, right: Any, text: str) -> None:
    """Refuse, before computing it, a result beyond the limits: the work of ``**`` and of repetition."""
    if isinstance(op, ast.Mod) and isinstance(left, str):
        raise ExpressionError(f"string formatting with % is not allowed in '{_short(text)}'")
    if isinstance(op, ast.Pow) and isinstance(left, (int, Fraction)) and isinstance(right, int):
        # |left ** right| needs about (bits(left) - 1) * |right| bits (both ways for a Fraction)
        if _bits(left) > 1 and (_bits(left) - 1) * abs(right) > MAX_INT_BITS:
            raise ExpressionError(f"'{_short(text)}' computes a number beyond {MAX_INT_BITS} bits")
    if isinstance(op, ast.Mult):
        for sequence, count in ((left, right), (right, left)):
            if not isinstance(count, int) or count <= 1:
                continue
            if isinstance(sequence, str) and len(sequence) * count > MAX_STRING_CHARS:
                raise ExpressionError(f"'{_short(text)}' makes a string longer than {MAX_STRING_CHARS} characters")
            if isinstance(sequence, list) and _size(sequence) * count > MAX_LIST_ELEMENTS:
                raise ExpressionError(f"'{_short(text)}' makes a list of more than {MAX_LIST_ELEMENTS} elements")


def _eval(node: ast.AST, values: dict[str, Any], text: str) -> Any:
    return _bounded(_eval_node(node, values, text), text)


def _eval_node(node: ast.AST, values: dict[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in values:
            return values[node.id]
        if node.id in ("true", "false"):
            return node.id == "true"
        raise ExpressionError(f"unknown parameter '{node.id}' in '{_short(text)}'")
    if isinstance(node, ast.BinOp):
        left = _eval(node.left, values, text)
        right = _eval(node.right, values, text)
        try:
            if isinstance(node.op, ast.Div):
                if right == 0:
                    raise ExpressionError(f"division by zero in '{_short(text)}'")
                result = Fraction(left) / Fraction(right)
                _bounded(result, text)
                return int(result) if result.denominator == 1 else result
            op = _BINARY.get(type(node.op))
            if op is None:
                raise ExpressionError(f"operator not allowed in '{_short(text)}'")
            _check_cost(node.op, left, right, text)
            return op(left, right)
        except ExpressionError:
            raise
        except _OPERATION_ERRORS as exc:
            raise _failed(exc, text) from None
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, values, text)
        try:
            if isinstance(node.op, ast.USub):
                return -operand
            if isinstance(node.op, ast.UAdd):
                return +operand
        except ExpressionError:
            raise
        except _OPERATION_ERRORS as exc:
            raise _failed(exc, text) from None
        if isinstance(node.op, ast.Not):
            return not operand
        return _refuse(text)
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
            try:
                holds = op(left, right)
            except _OPERATION_ERRORS as exc:
                raise _failed(exc, text) from None
            if not holds:
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
        arguments = [_eval(arg, values, text) for arg in node.args]
        try:
            return _FUNCTIONS[node.func.id](*arguments)
        except _OPERATION_ERRORS as exc:
            raise _failed(exc, text) from None
    return _refuse(text)


def _failed(exc: Exception, text: str) -> ExpressionError:
    reason = "the result is too large" if isinstance(exc, OverflowError) else str(exc)
    return ExpressionError(f"{reason} in '{_short(text)}'")


def _refuse(text: str) -> Any:
    raise ExpressionError(f"only arithmetic on parameters is allowed in '{_short(text)}'")


def substitute(value: Any, values: dict[str, Any]) -> Any:
    """Replace ``$name`` / ``${expr}`` in every string inside ``value`` (recursively)."""
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            name, expression = whole.groups()
            return evaluate(name if name is not None else expression, values)
        if "$" not in value:
            return value
        return _embed(value, values)
    if isinstance(value, list):
        return [substitute(item, values) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, values) for key, item in value.items()}
    return value


def _embed(value: str, values: dict[str, Any]) -> str:
    """``value`` with each embedded expression replaced by its text, the whole within the string limit."""
    pieces: list[str] = []
    length = 0
    position = 0
    for match in _EMBEDDED.finditer(value):
        piece = value[position : match.start()] + str(evaluate(match.group(1) or match.group(2), values))
        length += len(piece)
        if length > MAX_STRING_CHARS:
            raise ExpressionError(f"substituting into '{_short(value)}' makes more than {MAX_STRING_CHARS} characters")
        pieces.append(piece)
        position = match.end()
    pieces.append(value[position:])
    return "".join(pieces)
