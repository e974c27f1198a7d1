"""`rfdesign serve` over real HTTP: the synchronous endpoints, errors as problem+json, limits, the token."""

from __future__ import annotations

import httpx
import pytest

from conftest import ROOT, ZOO
from service_process import ServiceProcess

PROBLEM = "application/problem+json"
TINY = """\
name: tiny
input: {size: [224, 224], channels: 3}
layers:
  - {name: conv1, op: conv, out: 64, kernel: 7, stride: 2, padding: 3}
  - {op: maxpool, kernel: 3, stride: 2, padding: 1}
"""


def assert_problem(response: httpx.Response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["type"].endswith("#" + kind)
    assert "Traceback" not in response.text
    return body


def test_health_and_readiness(http):
    assert http.get("/healthz").json()["status"] == "ok"
    ready = http.get("/readyz").json()
    assert ready["ready"] and ready["workers"] >= 1 and ready["queue_limit"] == 100


def test_analyze_json_and_table(http):
    data = http.post("/v1/analyze", json={"spec": TINY}).json()
    assert data["receptive_field"] == [11, 11] and data["effective_stride"] == [4, 4]
    table = http.post("/v1/analyze", json={"spec": TINY, "format": "table"})
    assert table.headers["content-type"].startswith("text/plain")
    assert "receptive field 11" in table.text and table.headers["rfdesign-exit-status"] == "0"


def test_analyze_options_take_json_or_cli_text(http):
    as_text = http.post("/v1/analyze", json={"spec": TINY, "input_size": "64,64", "unit": "1,1"}).json()
    as_json = http.post("/v1/analyze", json={"spec": TINY, "input_size": [64, 64], "unit": [1, 1]}).json()
    assert as_text == as_json == {"layer": "maxpool_1", "unit": [1, 1], "box": [[-1, 9], [-1, 9]]}


def test_spec_as_json_object(http):
    import yaml

    data = http.post("/v1/analyze", json={"spec": yaml.safe_load(TINY)}).json()
    assert data["receptive_field"] == [11, 11]


def test_bad_spec_is_422_at_its_line(http):
    broken = TINY.replace("kernel: 7", "kernal: 7")
    body = assert_problem(http.post("/v1/analyze", json={"spec": broken, "filename": "tiny.yaml"}), 422, "bad-spec")
    column = broken.splitlines()[3].index("kernal") + 1
    assert (body["file"], body["line"], body["column"]) == ("tiny.yaml", 4, column)
    assert body["hint"] == "did you mean `kernel`?"
    assert body["detail"].startswith(f"tiny.yaml:4:{column}: error: unknown key `kernal`")


def test_bad_option_is_422(http):
    body = assert_problem(http.post("/v1/analyze", json={"spec": TINY, "layer": "conv9"}), 422, "bad-spec")
    assert "no layer named `conv9`" in body["detail"] and "conv1" in body["hint"]
    body = assert_problem(http.post("/v1/analyze", json={"spec": TINY, "format": "pdf"}), 422, "invalid-request")
    assert body["errors"][0]["loc"] == ["format"]
    assert_problem(http.post("/v1/analyze", json={"spec": TINY, "path": "/etc/passwd"}), 422, "invalid-request")


def test_malformed_json_is_400_with_position(http):
    response = http.post("/v1/analyze", content=b'{"spec": "name: x",\n  oops}',
                         headers={"content-type": "application/json"})
    body = assert_problem(response, 400, "malformed-json")
    assert (body["line"], body["column"]) == (2, 3)
    assert_problem(http.post("/v1/analyze", content=b"\xff\xfe{", headers={"content-type": "application/json"}),
                   400, "malformed-json")
    deep = b"[" * 100_000 + b"]" * 100_000
    assert_problem(http.post("/v1/analyze", content=deep, headers={"content-type": "application/json"}), 400,
                   "malformed-json")


def test_other_content_types_are_415(http):
    assert_problem(http.post("/v1/analyze", content=TINY, headers={"content-type": "text/yaml"}), 415,
                   "unsupported-media-type")


def test_a_10_mib_body_is_413_and_the_server_stays_up(http):
    big = b'{"spec": "' + b"#" * (10 * 1024 * 1024) + b'"}'
    body = assert_problem(http.post("/v1/analyze", content=big, headers={"content-type": "application/json"}), 413,
                          "body-too-large")
    assert "1 MiB" in body["detail"]

    def chunks():  # no Content-Length: the limit holds while the body streams in
        yield b'{"spec": "'
        for _ in range(160):
            yield b"#" * 65536
        yield b'"}'

    assert_problem(http.post("/v1/analyze", content=chunks(), headers={"content-type": "application/json"}), 413,
                   "body-too-large")
    assert http.post("/v1/analyze", json={"spec": TINY}).status_code == 200


def test_check_json_sarif_and_exit_status(http):
    spec = (ZOO / "unet.yaml").read_text()
    report = http.post("/v1/check", json={"spec": spec, "filename": "specs/zoo/unet.yaml"}).json()
    assert report["summary"]["warnings"] >= 1 and report["specs"][0]["file"] == "specs/zoo/unet.yaml"
    sarif = http.post("/v1/check", json={"spec": spec, "format": "sarif", "select": ["RF105"]})
    assert sarif.headers["content-type"] == "application/sarif+json"
    results = sarif.json()["runs"][0]["results"]
    assert results and {r["ruleId"] for r in results} == {"RF105"}
    failing = TINY + "target: {receptive_field: 500}\n"
    response = http.post("/v1/check", json={"spec": failing, "select": "RF101"})
    assert response.headers["rfdesign-exit-status"] == "1"
    assert_problem(http.post("/v1/check", json={"spec": TINY, "select": "RF999"}), 422, "bad-spec")


def test_uploads_darknet_and_spec(http):
    cfg = ROOT / "tests" / "fixtures" / "darknet" / "pjreddie" / "yolov3-tiny.cfg"
    data = http.post("/v1/analyze", files={"file": (cfg.name, cfg.read_bytes())}, data={"format": "json"}).json()
    assert data["layers"] and all(layer["location"].startswith(cfg.name) for layer in data["layers"])
    spec = http.post("/v1/analyze", files={"file": ("tiny.yaml", TINY.encode())}).json()
    assert spec["receptive_field"] == [11, 11]
    body = assert_problem(http.post("/v1/analyze", files={"file": ("../../etc/passwd", b"root:x:0:0")}), 422,
                          "bad-spec")
    assert body["file"] == "passwd"  # the name is only ever a label: no path of the client's reaches the disk


def test_rules_schema_export(http):
    rules = http.get("/v1/rules").json()
    assert {"code": "RF104", "name": "gridding"}.items() <= next(r for r in rules if r["code"] == "RF104").items()
    rule = http.get("/v1/rules/gridding").json()
    assert rule["code"] == "RF104" and rule["markdown"].startswith("# RF104")
    assert_problem(http.get("/v1/rules/RF1044"), 404, "not-found")
    assert http.get("/v1/schema").json()["title"]
    code = http.post("/v1/export", json={"spec": TINY, "class_name": "Tiny"})
    assert "class Tiny(nn.Module)" in code.text


def test_unknown_routes_and_methods_are_problems(http):
    assert_problem(http.get("/v1/nothing"), 404, "not-found")
    assert_problem(http.get("/v1/jobs/nope"), 404, "not-found")
    assert_problem(http.put("/v1/analyze", json={}), 405, "method-not-allowed")


def test_openapi_is_generated_from_the_models(http):
    document = http.get("/openapi.json").json()
    paths = document["paths"]
    for path in ("/v1/analyze", "/v1/check", "/v1/solve", "/v1/propose", "/v1/jobs", "/v1/jobs/{job_id}",
                 "/v1/jobs/{job_id}/events", "/v1/rules", "/v1/rules/{code}", "/v1/schema", "/healthz", "/readyz"):
        assert path in paths, path
    schemas = document["components"]["schemas"]
    assert "rf" in schemas["ProposeRequest"]["properties"] and "AnalysisReport" in schemas
    body = paths["/v1/analyze"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    assert "/docs" in http.get("/docs").text or http.get("/docs").status_code == 200


def test_no_cors_by_default_and_page_headers(http):
    response = http.options("/v1/analyze", headers={"Origin": "https://elsewhere.example",
                                                    "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in response.headers
    page = http.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]


def test_token_is_required_off_loopback_and_checked(tmp_path):
    from rfdesign.service.config import ServiceConfig
    from rfdesign.errors import SpecError

    with pytest.raises(SpecError, match="--token"):
        ServiceConfig(host="0.0.0.0", db=str(tmp_path / "x")).check()
    ServiceConfig(host="0.0.0.0", db=str(tmp_path / "x"), insecure=True).check()
    ServiceConfig(host="::1", db=str(tmp_path / "x")).check()
    with ServiceProcess(tmp_path / "jobs.sqlite3", "--cors-origin", "https://app.example",
                        env={"RFDESIGN_TOKEN": "s3cret-token"}) as process:
        url = process.url
        assert_problem(httpx.post(url + "/v1/analyze", json={"spec": TINY}), 401, "unauthorized")
        wrong = httpx.post(url + "/v1/analyze", json={"spec": TINY}, headers={"Authorization": "Bearer s3cret-tokeN"})
        assert_problem(wrong, 401, "unauthorized")
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        right = httpx.post(url + "/v1/analyze", json={"spec": TINY}, headers={"Authorization": "Bearer s3cret-token"})
        assert right.status_code == 200
        assert httpx.get(url + "/healthz").status_code == 200  # probes need no token
        preflight = httpx.options(url + "/v1/analyze", headers={"Origin": "https://app.example",
                                                                "Access-Control-Request-Method": "POST"})
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        other = httpx.options(url + "/v1/analyze", headers={"Origin": "https://evil.example",
                                                            "Access-Control-Request-Method": "POST"})
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"


def test_serve_refuses_a_public_address_without_a_token(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "rfdesign", "serve", "--host", "0.0.0.0", "--db",
                             str(tmp_path / "x.sqlite3")], capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in __import__("os").environ.items() if k != "RFDESIGN_TOKEN"})
    assert result.returncode == 2
    assert "--token" in result.stderr and "Traceback" not in result.stderr


def test_missing_extra_names_the_install(tmp_path):
    import subprocess
    import sys

    code = ("import sys; sys.modules['fastapi'] = None; sys.modules['httpx'] = None; "
            "from rfdesign.cli import main; main()")
    for args in (["serve", "--db", str(tmp_path / "x.sqlite3")],
                 ["analyze", "specs/zoo/vgg_16.yaml", "--server", "http://127.0.0.1:9"]):
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                                timeout=60)
        assert result.returncode == 2, result.stderr
        assert "pip install 'rfdesign[serve]'" in result.stderr and "Traceback" not in result.stderr
