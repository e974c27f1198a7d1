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


@pytest.fixture(scope="session")
def service(tmp_path_factory):
    """One real `rfdesign serve` (2 workers, a fresh job store) shared by the service's tests."""
    from service_process import ServiceProcess

    with ServiceProcess(tmp_path_factory.mktemp("service") / "jobs.sqlite3", workers=2) as process:
        yield process


@pytest.fixture
def http(service):
    """An httpx client of the shared service."""
    import httpx

    with httpx.Client(base_url=service.url, timeout=120) as client:
        yield client
