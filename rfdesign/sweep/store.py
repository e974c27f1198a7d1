"""Finished points on disk, by content key, so an interrupted sweep resumes where it stopped.

The store is a directory of small JSON files, one per finished point:
``<store>/<key[:2]>/<key>.json``, where the key is the point's content hash
(:func:`rfdesign.sweep.points.point_key`). Each file is written to a temporary
name in the same folder and renamed over the final one (atomic on POSIX and
Windows), so a crash or Ctrl-C leaves either the whole result or nothing; a
file that does not parse (a disk that lost power mid-write) counts as
missing and is solved again.

Only the process that runs the sweep writes (workers return results to it),
so there are no concurrent writers. Keys depend only on content, so one store
can serve many sweeps: a point two sweeps share is solved once. Deleting the
directory forgets everything; `rfdesign sweep --force` solves every point
again and overwrites its file.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

Result = dict[str, Any]


class ResultStore:
    """A directory of per-point JSON results (see the module docstring)."""

    def __init__(self, directory: str):
        self.directory = directory

    def path(self, key: str) -> str:
        return os.path.join(self.directory, key[:2], f"{key}.json")

    def get(self, key: str) -> Result | None:
        """The stored result of ``key``, or None if it is missing or unreadable."""
        try:
            with open(self.path(key), encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        return data

    def put(self, key: str, result: Result, about: dict[str, Any] | None = None) -> None:
        """Store ``result`` under ``key`` atomically; ``about`` (template and options) is kept for people."""
        folder = os.path.dirname(self.path(key))
        os.makedirs(folder, exist_ok=True)
        data = dict(result)
        if about:
            data["about"] = about
        descriptor, temporary = tempfile.mkstemp(prefix=f".{key[:8]}-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(data, handle, sort_keys=True)
            os.replace(temporary, self.path(key))
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise

    def __len__(self) -> int:
        if not os.path.isdir(self.directory):
            return 0
        return sum(
            1
            for folder in os.listdir(self.directory)
            if os.path.isdir(os.path.join(self.directory, folder))
            for name in os.listdir(os.path.join(self.directory, folder))
            if name.endswith(".json")
        )
