"""Errors that reach the user as one clear line.

Every problem with user input is a :class:`SpecError`: it carries where it
happened (file, 1-based line and column), what was expected, and a hint. The
CLI renders it as ``file:line:col: error: message (hint: ...)`` and exits 2.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A position in a source file; ``line`` and ``column`` are 1-based."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        if self.column is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"


class RfDesignError(Exception):
    """Base class of every error rfdesign raises on purpose."""


class SpecError(RfDesignError):
    """Bad user input: a spec, a model file or a command-line value.

    ``message`` says what is wrong and what was expected; ``hint`` (optional)
    says how to fix it, e.g. the nearest valid name for a typo.
    """

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def render(self) -> str:
        """The single line shown to the user."""
        prefix = f"{self.location}: " if self.location is not None else ""
        text = f"{prefix}error: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return " ".join(text.split("\n"))

    def __str__(self) -> str:
        return self.render()


class MissingExtraError(RfDesignError):
    """An optional dependency is needed but not installed."""

    def __init__(self, module: str, extra: str):
        self.module = module
        self.extra = extra
        super().__init__(
            f"this needs the optional dependency '{module}', which is not installed; "
            f"run: pip install 'rfdesign[{extra}]'"
        )


def require(module: str, extra: str):  # noqa: ANN201 - returns a module
    """Import an optional dependency or raise :class:`MissingExtraError`."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module, extra) from exc
