"""`rfdesign ... --server URL` and `rfdesign.client.Client` against a real service: the same output as locally."""

from __future__ import annotations

import json
import pathlib
import re

import pytest
from click.testing import CliRunner

from conftest import FIXTURES, ROOT
from rfdesign.cli import main
from rfdesign.client import Client, ServiceError
from rfdesign.errors import SpecError


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def run(*args: str, server: str | None = None) -> tuple[int, str, str]:
    flags = ["--server", server] if server else []
    command, rest = args[0], list(args[1:])
    result = CliRunner().invoke(main, [command, *rest, *flags], env={"RFDESIGN_SERVER": None})
    return result.exit_code, result.stdout, result.stderr


def without_timing(text: str) -> str:
    text = re.sub(r'"elapsed": [0-9.]+', '"elapsed": 0', text)
    text = re.sub(r"elapsed: [0-9.]+", "elapsed: 0", text)
    return re.sub(r"in [0-9.]+ s \(", "in 0 s (", text)


@pytest.mark.parametrize("args", [
    ("analyze", "specs/zoo/resnet_v1_50.yaml"),
    ("analyze", "specs/zoo/unet.yaml", "-f", "json", "--unit", "0,0"),
    ("analyze", "specs/zoo/vgg_16.yaml", "--layer", "vgg_16/pool5", "-f", "markdown"),
    ("analyze", "tests/fixtures/darknet/pjreddie/yolov3-tiny.cfg", "--input-size", "320"),
    ("check", "specs/zoo/unet.yaml", "specs/zoo/vgg_16.yaml", "specs/zoo/mobilenet_v1.yaml"),
    ("check", "specs/zoo/unet.yaml", "specs/zoo/vgg_16.yaml", "-f", "sarif"),
    ("check", "specs/zoo/unet.yaml", "-f", "github", "--select", "RF105"),
    ("check", "specs/zoo/unet.yaml", "--min-rf", "500", "-f", "json"),
])
def test_cli_with_server_prints_what_it_prints_locally(service, args):
    assert run(*args, server=service.url) == run(*args)


def test_cli_with_server_reports_bad_specs_as_locally(service, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ninput: {size: [32, 32]}\nlayers:\n  - {op: conv, kernal: 3}\n")
    for args in (("analyze", str(bad)), ("check", str(bad), "specs/zoo/vgg_16.yaml", "-f", "json"),
                 ("solve", str(bad))):
        remote, local = run(*args, server=service.url), run(*args)
        assert remote[0] == local[0] == 2
        assert remote == local, args
    code, _, err = run("analyze", "torchvision.models:resnet18", server=service.url)
    assert code == 2 and "does not import" in err


def test_solve_and_propose_with_server(service, tmp_path):
    spec = "examples/detector_head.yaml"
    for fmt in ("table", "json", "yaml"):
        remote = run("solve", spec, "-f", fmt, "-q", "--top-k", "2", server=service.url)
        local = run("solve", spec, "-f", fmt, "-q", "--top-k", "2")
        assert remote[0] == local[0] == 0
        assert without_timing(remote[1]) == without_timing(local[1]), fmt
    out = tmp_path / "out"
    code, _, err = run("solve", spec, "--out", str(out), "--top-k", "2", server=service.url)
    assert code == 0 and sorted(p.name for p in out.iterdir()) == ["detector_head_1.yaml", "detector_head_2.yaml"]
    local_out = tmp_path / "local"
    run("solve", spec, "--out", str(local_out), "--top-k", "2")
    assert (out / "detector_head_1.yaml").read_text() == (local_out / "detector_head_1.yaml").read_text()
    code, _, err = run("solve", spec, "--out", str(out), server=service.url)
    assert code == 2 and "not overwriting" in err  # files the user has are kept, as locally
    family = ["--input", "64", "--rf", "30:60", "--family", "resnet", "--depth", "3:4", "--output-size", "8",
              "--allow", "RF104", "--forbid", "RF109", "-f", "table", "-q"]
    remote, local = run("propose", *family, server=service.url), run("propose", *family)
    assert remote[0] == local[0] == 0 and without_timing(remote[1]) == without_timing(local[1])
    template = tmp_path / "template.yaml"
    flags = ["--input", "64", "--rf", "30:40", "--output-size", "8", "--depth", "3:4", "-f", "json", "-q"]
    remote = run("propose", *flags, "--template-out", str(template), server=service.url)
    local_template = tmp_path / "local_template.yaml"
    local = run("propose", *flags, "--template-out", str(local_template))
    assert template.read_text() == local_template.read_text()
    assert without_timing(remote[1]).replace(str(template), "T") == without_timing(local[1]).replace(
        str(local_template), "T")


def test_client_api(service, tmp_path):
    with Client(service.url) as client:
        report = client.analyze(pathlib.Path("specs/zoo/vgg_16.yaml"))
        assert report["receptive_field"] == [212, 212] and report["name"] == "vgg_16"
        assert "receptive field 212" in client.analyze(pathlib.Path("specs/zoo/vgg_16.yaml"), format="table")
        assert client.check(pathlib.Path("specs/zoo/unet.yaml"))["summary"]["warnings"] >= 1
        seen = []
        result = client.solve(pathlib.Path("examples/detector_head.yaml"), top_k=2, progress=seen.append)
        assert result["status"] == "optimal" and len(result["proposals"]) == 2
        assert all(p.found >= 1 for p in seen)
        job = client.submit_propose(input=64, rf=[30, 40], output_size=8, depth="3:4")
        assert client.follow(job["id"])["proposals"]
        assert client.job_spec(job["id"]).startswith("# plain template made by `rfdesign propose`")
        assert client.jobs(limit=1)[0]["id"] == job["id"]
        assert "class" in client.export(pathlib.Path("specs/zoo/vgg_16.yaml"))
        assert client.rule("RF104")["name"] == "gridding" and len(client.rules()) >= 10
        with pytest.raises(SpecError) as bad:
            client.analyze("name: x\ninput: {size: [32, 32]}\nlayers:\n  - {op: conv, kernal: 3}\n",
                           filename="x.yaml")
        assert (bad.value.location.file, bad.value.location.line) == ("x.yaml", 4)
        assert bad.value.hint == "did you mean `kernel`?"
        with pytest.raises(ServiceError) as missing:
            client.job("nope")
        assert missing.value.status == 404
    with pytest.raises(ServiceError, match="cannot reach"):
        Client("http://127.0.0.1:9").analyze("name: x")


def test_client_follows_a_long_solve_and_cancels_it(service):
    with Client(service.url) as client:
        job = client.submit_solve((FIXTURES / "service" / "long_solve.yaml").read_text(), filename="long.yaml",
                                  method="z3")
        reports = []
        for name, data in client.events(job["id"]):
            state = json.loads(data)
            if state.get("progress"):
                reports.append(state["progress"])
            if len(reports) >= 2:
                break
        cancelled = client.cancel(job["id"])
        assert cancelled["status"] == "cancelled"
        with pytest.raises(ServiceError) as failed:
            client.result(job["id"])
        assert failed.value.status == 409
