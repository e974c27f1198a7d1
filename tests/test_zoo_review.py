"""docs/zoo-review.md stays true: the rules it lists per zoo spec are exactly those that fire."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT, ZOO
from rfdesign.review.runner import review
from rfdesign.spec import load_spec

ROW = re.compile(r"^\| (\w+) \| (.+) \|$")


def documented() -> dict[str, set[str]]:
    table = {}
    for line in (ROOT / "docs" / "zoo-review.md").read_text().splitlines():
        match = ROW.match(line)
        if match and match[1] != "spec":
            codes = set(re.findall(r"RF\d{3}", match[2]))
            table[match[1]] = codes
    return table


TABLE = documented()


def test_every_zoo_spec_is_in_the_table():
    assert set(TABLE) == {path.stem for path in ZOO.glob("*.yaml")}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_rules_that_fire(name):
    result = review(load_spec(str(ZOO / f"{name}.yaml")))
    assert {f.code for f in result.findings} == TABLE[name]
    assert result.count("error") == 0
