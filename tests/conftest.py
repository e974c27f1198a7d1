"""Shared test helpers."""

from __future__ import annotations

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
ZOO = SPECS / "zoo"
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def write_spec(tmp_path):
    """Write spec text to a file and return its path."""

    def write(text: str, name: str = "spec.yaml") -> pathlib.Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
