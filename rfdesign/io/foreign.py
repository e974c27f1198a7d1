"""Running code that is not rfdesign's (a user's model module) without letting it end the run.

Importing a module, building a model and tracing its ``forward`` run the
user's code, which may raise anything: ``SystemExit`` (``exit()``,
``sys.exit``), ``KeyboardInterrupt``, ``GeneratorExit``, a ``BaseException``
subclass of its own. :func:`foreign_code` turns each into a located
:class:`~rfdesign.errors.SpecError` for that source, so the command reports
it (and ``check`` goes on to its other sources) instead of stopping silently
or with exit code 0.

A real Ctrl-C is told apart from a ``KeyboardInterrupt`` the code raised
itself: while the block runs, SIGINT is recorded before it interrupts, and a
recorded interrupt still stops the whole run.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rfdesign.errors import Location, RfDesignError, SpecError


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


_state = {"depth": 0, "interrupted": False}


def _on_interrupt(signum: int, frame: object) -> None:
    _state["interrupted"] = True
    raise KeyboardInterrupt


@contextmanager
def foreign_code(location: Location, what: str, exceptions: bool = True) -> Iterator[None]:
    """Run the block as user code: whatever it raises becomes a SpecError at ``location``.

    ``what`` says what was being done ("importing module 'x'"). With
    ``exceptions=False`` ordinary exceptions pass through unchanged (the caller
    handles them) and only the ``BaseException`` family (exits, interrupts,
    ...) is caught. rfdesign's own errors always pass through.
    """
    previous = None
    # only the main thread may set handlers; an ignored SIGINT stays ignored; nested blocks share one record
    watch = threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
    if watch:
        if _state["depth"] == 0:
            _state["interrupted"] = False
        _state["depth"] += 1
        previous = signal.signal(signal.SIGINT, _on_interrupt)
    try:
        yield
    except RfDesignError:
        raise
    except KeyboardInterrupt as exc:
        if _state["interrupted"]:
            raise
        raise _error(exc, location, what) from None
    except Exception as exc:
        if not exceptions:
            raise
        raise _error(exc, location, what) from None
    except BaseException as exc:  # noqa: BLE001 - SystemExit, GeneratorExit, a BaseException of the user's
        raise _error(exc, location, what) from None
    finally:
        if watch:
            signal.signal(signal.SIGINT, previous)
            _state["depth"] -= 1


def _error(exc: BaseException, location: Location, what: str) -> SpecError:
    name = type(exc).__name__
    if isinstance(exc, SystemExit):
        detail = f"SystemExit({exc.code!r})" if exc.code is not None else "SystemExit"
        return SpecError(
            f"{what} called exit ({detail})",
            location,
            "the model's code must not exit; rfdesign reported this source as an error and did not use it",
        )
    message = first_line(exc)
    return SpecError(f"{what} failed: {name}" + (f": {message}" if message != name else ""), location)
