"""Option values written as on the command line: ``224,224`` (or ``224x224``), ``200:220``.

The CLI and the service parse the same text the same way, with the same
messages; ``what`` names the option in them (``--input-size`` on the
command line, ``input_size`` over HTTP).
"""

from __future__ import annotations

from rfdesign.errors import SpecError


def parse_ints(text: str | None, what: str, minimum: int = 0) -> tuple[int, ...] | None:
    """Parse ``"321,321"`` (or ``"321"``, ``"321x321"``) into a tuple of ints; None stays None."""
    if text is None:
        return None
    try:
        values = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise SpecError(f"{what} must be comma-separated integers such as 224,224, got {text!r}") from None
    if not values or any(v < minimum for v in values):
        raise SpecError(f"{what} must be integers >= {minimum}, got {text!r}")
    return values


def parse_range(text: str, what: str) -> tuple[int | None, int | None]:
    """``N`` or ``MIN:MAX`` (either side may be empty) as (low, high)."""
    problem = SpecError(f"{what} must be N or MIN:MAX (either side may be empty), got {text!r}")
    parts = text.split(":")
    if len(parts) > 2 or not all(part.strip().isdigit() or not part.strip() for part in parts):
        raise problem
    values = [int(part) if part.strip() else None for part in parts]
    if len(values) == 1:
        if values[0] is None:
            raise problem
        return values[0], values[0]
    low, high = values
    if low is not None and high is not None and low > high:
        raise problem
    return low, high


def per_axis(size: tuple[int, ...] | None, dims: int, what: str, where: str = "the network") -> tuple[int, ...] | None:
    """One value per spatial axis: a single value stands for every axis; a wrong count is a SpecError."""
    if size is None:
        return None
    if len(size) == 1 and dims > 1:
        size = size * dims
    if len(size) != dims:
        raise SpecError(f"{what} has {len(size)} values but {where} has {dims} spatial axes")
    return size
