"""The design-assistant page of `rfdesign serve`, in a real browser with real clicks."""

from __future__ import annotations

import re

import httpx
import pytest

from browser import browser, page  # noqa: F401 - pytest fixtures
from conftest import FIXTURES, ROOT
from rfdesign.commands.render import axes_text
from rfdesign.rf import analyze
from rfdesign.spec import parse_spec


def readme_spec() -> str:
    """The spec the README shows (the YAML block after "A spec looks like this")."""
    text = (ROOT / "README.md").read_text()
    after = text[text.index("A spec looks like this"):]
    return re.search(r"```yaml\n(.*?)```", after, re.S).group(1)


def type_spec(page, text: str) -> None:
    page.fill("#spec", text)  # one input event, as a paste gives


def test_readme_spec_shows_its_receptive_field(service, page):
    spec = readme_spec()
    expected = analyze(parse_spec(spec))
    page.goto(service.url + "/")
    type_spec(page, spec)
    page.wait_for_selector("#rf-value")
    assert page.inner_text("#rf-value") == axes_text(expected.output.axis_values("receptive_field"))
    assert page.inner_text("#stride-value") == axes_text(expected.output.axis_values("effective_stride"))
    rows = page.locator("#layers tbody tr")
    assert rows.count() == len(expected.layers)
    assert rows.last.locator("td").first.inner_text() == expected.output.name
    assert page.locator("#chart svg polyline").count() >= 1
    page.wait_for_selector("#findings li")


def test_a_broken_spec_shows_the_error_at_its_line(service, page):
    spec = readme_spec()
    broken = spec.replace("kernel: 7", "kernal: 7")
    line = next(i for i, text in enumerate(broken.splitlines(), 1) if "kernal" in text)
    column = broken.splitlines()[line - 1].index("kernal") + 1
    page.goto(service.url + "/")
    type_spec(page, broken)
    error = page.wait_for_selector("#errors .error")
    assert error.query_selector(".where").inner_text() == f"line {line}, column {column}"
    assert "unknown key kernal" in error.inner_text() and "did you mean" in error.inner_text()
    assert f"● {line}" in page.inner_text("#gutter")
    assert page.locator("#marks .mark").count() == 1
    error.query_selector(".where").click()
    caret = page.evaluate("document.getElementById('spec').selectionStart")
    assert broken[:caret].count("\n") == line - 1
    type_spec(page, spec)  # fixed: the error goes, the analysis comes back
    page.wait_for_selector("#errors .error", state="detached")
    assert page.inner_text("#rf-value")


def test_solve_shows_the_proposals_and_downloads_them(service, page):
    spec = (ROOT / "examples" / "detector_head.yaml").read_text()
    local = httpx.post(service.url + "/v1/solve?wait=120", json={"spec": spec, "filename": "spec.yaml"}).json()
    page.goto(service.url + "/")
    type_spec(page, spec)
    page.wait_for_selector(".summary.template")  # holes: a template for the solver, not an error
    assert page.locator("#errors .error").count() == 0
    page.click("#run")
    page.wait_for_selector(".proposals tbody tr")
    rows = page.locator(".proposals tbody tr")
    assert rows.count() == len(local["proposals"])
    first = rows.first.locator("td")
    assert first.nth(1).inner_text() == f"{local['proposals'][0]['params']:,}"
    assert "optimal (proven)" in page.inner_text("#solve-result")
    with page.expect_download() as download:
        rows.first.get_by_role("button", name="YAML").click()
    assert download.value.suggested_filename == "detector_head_1.yaml"
    assert open(download.value.path()).read() == local["proposals"][0]["spec"]
    with page.expect_download() as download:
        rows.first.get_by_role("button", name="PyTorch").click()
    assert download.value.suggested_filename == "detector_head_1.py"
    assert "(nn.Module):" in open(download.value.path()).read()
    rows.first.get_by_role("button", name="open").click()  # the proposal in the editor, analysed
    page.wait_for_selector("#rf-value")
    assert page.inner_text("#rf-value") == axes_text(local["proposals"][0]["receptive_field"])


def test_propose_from_numbers(service, page):
    page.goto(service.url + "/")
    page.click("#tab-propose")
    page.fill("input[name=input]", "64")
    page.fill("input[name=rf]", "30:40")
    page.fill("input[name=output_size]", "8")
    page.fill("input[name=depth]", "3:4")
    page.click("#run")
    page.wait_for_selector(".proposals tbody tr")
    assert page.locator("#job-state").inner_text().lower() == "done"


def test_cancel_a_long_solve(service, page):
    page.goto(service.url + "/")
    type_spec(page, (FIXTURES / "service" / "long_solve.yaml").read_text())
    page.wait_for_selector(".summary.template")
    page.fill("input[name=timeout]", "300")
    page.select_option("select[name=method]", "z3")  # long for z3 (the stage dynamic program is fast on it)
    page.click("#run")
    page.wait_for_selector("#job-state.running")
    page.wait_for_selector("#progress:has-text('lower bound')")
    assert page.is_enabled("#cancel")
    page.click("#cancel")
    page.wait_for_selector("#job-state.cancelled")
    jobs = httpx.get(service.url + "/v1/jobs?limit=1").json()["jobs"]
    assert jobs[0]["status"] == "cancelled" and jobs[0]["name"] == "tcn"
    assert page.is_enabled("#run") and not page.is_enabled("#cancel")
