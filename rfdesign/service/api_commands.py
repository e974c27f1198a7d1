"""``/v1/analyze``, ``/v1/check``, ``/v1/export``, ``/v1/rules`` and ``/v1/schema``: answered at once, in threads.

Each handler reads and validates the body, then does the command's work in
a worker thread (the event loop stays free) through the same functions as
the CLI (:mod:`rfdesign.commands`), and answers with the command's output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response

from rfdesign.commands.args import parse_ints
from rfdesign.errors import SpecError
from rfdesign.service import models
from rfdesign.service.http import json_body, text_response, validated
from rfdesign.service.inputs import label as upload_label
from rfdesign.service.inputs import load_upload, parse
from rfdesign.service.problems import ServiceProblem, from_spec_error
from rfdesign.spec.graph import Graph

router = APIRouter()
MAX_FORM_FIELDS = 20


def body_doc(model: type[models.BaseModel], upload: type[models.BaseModel] | None = None) -> dict[str, Any]:
    """The OpenAPI requestBody of a handler that reads its own body (JSON, and multipart when it takes uploads)."""
    content: dict[str, Any] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}
    if upload is not None:
        properties: dict[str, Any] = {"file": {"type": "string", "format": "binary",
                                               "description": "An ONNX model (.onnx), a Darknet cfg (.cfg) or a "
                                                              "spec (.yaml); its name is a label in messages."}}
        for name, field in upload.model_fields.items():
            properties[name] = {"type": "string", "description": field.description or ""}
        content["multipart/form-data"] = {"schema": {"type": "object", "properties": properties,
                                                     "required": ["file"]}}
    return {"requestBody": {"required": True, "content": content}}


def result_doc(*schemas: type[models.BaseModel], text: str | None = None) -> dict[int | str, Any]:
    refs = [{"$ref": f"#/components/schemas/{schema.__name__}"} for schema in schemas]
    content: dict[str, Any] = {"application/json": {"schema": refs[0] if len(refs) == 1 else {"oneOf": refs}}}
    if text:
        content["text/plain"] = {"schema": {"type": "string"}, "example": text}
    return {200: {"description": "The command's output, as `rfdesign` prints it.", "content": content},
            422: {"description": "A bad spec or option", "content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}}}}}


async def spec_request(request: Request, model: type[Any], options: type[Any]) -> tuple[Any, bytes | None, str]:
    """The validated options, and for an upload its bytes and file name (JSON bodies: None, the spec's label)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "multipart/form-data":
        body = validated(model, await json_body(request))
        return body, None, body.filename
    form = await request.form(max_files=1, max_fields=MAX_FORM_FIELDS)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ServiceProblem("invalid-request", "a multipart request needs the model in a field named `file`")
    fields = {key: value for key, value in form.items() if key != "file" and isinstance(value, str) and value != ""}
    data = await upload.read()
    return validated(options, fields), data, upload.filename or "model"


def graph_of(body: Any, data: bytes | None, name: str, size: tuple[int, ...] | None) -> Graph:
    output = getattr(body, "output", None)
    if data is not None:
        return load_upload(data, name, size, output)
    return parse(body.spec, body.filename, output)


async def in_thread(work: Callable[[], Response]) -> Response:
    try:
        return await run_in_threadpool(work)
    except SpecError as exc:
        raise from_spec_error(exc) from None
    except RecursionError:
        raise ServiceProblem("bad-spec", "the input nests too deeply to process") from None


@router.post("/analyze", summary="Analyze a spec (rfdesign analyze)",
             openapi_extra=body_doc(models.AnalyzeRequest, models.AnalyzeOptions),
             responses=result_doc(models.AnalysisReport, models.LayerReport, models.CoordinatesReport,
                                  text="layer  op  output  rf ..."))
async def analyze(request: Request) -> Response:
    """Receptive field, effective stride and padding, sizes, params and FLOPs, per layer and axis.

    The body is the JSON of `rfdesign analyze SPEC [options] -f FORMAT`; the answer is what that command prints.
    ONNX models and Darknet cfgs are multipart uploads (field `file`, options as form fields).
    """
    from rfdesign.commands.analyze import analysis_output

    body, data, name = await spec_request(request, models.AnalyzeRequest, models.AnalyzeOptions)

    def work() -> Response:
        size = parse_ints(body.input_size, "input_size", 1)
        graph = graph_of(body, data, name, size)
        text = analysis_output(graph, body.format, size, body.layer, parse_ints(body.unit, "unit"),
                               parse_ints(body.pixel, "pixel"))
        return text_response(text, body.format, exit_status=0)

    return await in_thread(work)


def _codes(value: str | list[str] | None, what: str, known: list[str]) -> tuple[str, ...]:
    from rfdesign.review.config import parse_codes

    if not value:
        return ()
    return tuple(parse_codes(value if isinstance(value, str) else ",".join(value), what, known))


@router.post("/check", summary="Review a spec (rfdesign check)",
             openapi_extra=body_doc(models.CheckRequest, models.CheckOptions),
             responses=result_doc(models.CheckReport, text="spec.yaml:5:5: RF104 [warning] ..."))
async def check(request: Request) -> Response:
    """The design review: every rule's findings, as `rfdesign check SPEC [options] -f FORMAT` prints them.

    The header `Rfdesign-Exit-Status` is the command's exit code (0 clean, 1 error-level findings).
    A spec that cannot be loaded is a 422 problem (the command reports it in its output and exits 2).
    """
    from rfdesign.commands.check import check_graph, check_output, exit_status
    from rfdesign.review.rule import all_rules

    body, data, name = await spec_request(request, models.CheckRequest, models.CheckOptions)

    def work() -> Response:
        rules = all_rules()
        known = list(rules)
        selected = _codes(body.select, "select", known)
        ignored = _codes(body.ignore, "ignore", known)
        size = parse_ints(body.input_size, "input_size", 1)
        label = upload_label(name, "model") if data is not None else body.filename
        outcome = check_graph(label, lambda: graph_of(body, data, name, size), selected, ignored, body.min_rf, size)
        if outcome[2] is not None:
            raise outcome[2]
        return text_response(check_output([outcome], body.format, rules) + "\n", body.format,
                             exit_status=exit_status([outcome]))

    return await in_thread(work)


@router.post("/export", summary="A spec as PyTorch code or a flat spec (rfdesign export)",
             openapi_extra=body_doc(models.ExportRequest),
             responses={200: {"description": "The code or the spec", "content": {"text/x-python": {},
                                                                               "application/yaml": {}}}})
async def export(request: Request) -> Response:
    """What `rfdesign export SPEC --to pytorch|yaml` writes (the web page's downloads use it)."""
    body = validated(models.ExportRequest, await json_body(request))

    def work() -> Response:
        from rfdesign.io.yaml_export import dump, spec_dict

        graph = parse(body.spec, body.filename)
        if body.to == "pytorch":
            from rfdesign.io.torch_export import export_pytorch

            return Response(export_pytorch(graph, body.class_name), media_type="text/x-python; charset=utf-8")
        text = dump(spec_dict(graph), f"exported by `rfdesign export` from {body.filename}", notes_as_comments=True)
        return Response(text, media_type="application/yaml")

    return await in_thread(work)


def _rule_summary(rule: Any) -> models.RuleSummary:
    return models.RuleSummary(code=rule.code, name=rule.name, severity=rule.severity, summary=rule.summary)


@router.get("/rules", response_model=list[models.RuleSummary], summary="Every rule of rfdesign check")
def rules() -> list[models.RuleSummary]:
    from rfdesign.review.rule import all_rules

    return [_rule_summary(rule) for rule in all_rules().values()]


@router.get("/rules/{code}", response_model=models.RuleDoc, summary="One rule's documentation (rfdesign rule CODE)",
            responses={404: {"model": models.Problem}})
def rule(code: str) -> models.RuleDoc:
    """The rule by code (`RF104`) or name, with what it checks, why, an example and the fix."""
    from rfdesign.review.docs import rule_markdown
    from rfdesign.review.rule import all_rules
    from rfdesign.spec.suggest import did_you_mean

    all_of = all_rules()
    by_name = {r.name: c for c, r in all_of.items()}
    key = by_name.get(code, code.upper())
    if key not in all_of:
        raise ServiceProblem("not-found", f"no rule {code!r}",
                             hint=did_you_mean(code.upper(), list(all_of)) or "GET /v1/rules lists them")
    item = all_of[key]
    return models.RuleDoc(**_rule_summary(item).model_dump(), why=item.why, example=item.example, fix=item.fix,
                          options=[list(pair) for pair in item.options], markdown=rule_markdown(item))


@router.get("/schema", summary="The JSON Schema of the spec format (rfdesign schema)")
def schema() -> dict[str, Any]:
    from rfdesign.spec.model import json_schema

    return json_schema()
