"""Request and response models of the HTTP API (pydantic): the single source of the OpenAPI document.

Requests mirror the command line: every option of ``rfdesign analyze``,
``check``, ``solve`` and ``propose`` that makes sense over HTTP is a field
of the same name (underscores for dashes), and takes the same text the
flag takes (``"224,224"``, ``"200:220"``) or its JSON form (``[224, 224]``,
``224``, ``[200, 220]``). Options that touch the caller's disk
(``--out``, ``--template-out``, ``--force``) stay in the client.

Responses that carry a command's result (analysis, check report, solve
result) are documented here but sent as the command's own text, so a body
is byte for byte what the command prints; tests validate every zoo spec's
output against these models, which forbid unknown keys.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, field_validator, model_serializer

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
SolveStatus = Literal["optimal", "feasible", "infeasible", "unknown"]
Number = int | str  # an exact rational: an int, or "p/q"

MAX_NAME = 255


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def ints_text(value: Any) -> Any:
    """``224`` and ``[224, 224]`` as the command line's ``"224"`` and ``"224,224"`` (text passes through)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return ",".join(str(v) for v in value)
    return value


def range_text(value: Any) -> Any:
    """``200``, ``[200, 220]`` and ``{"min": 200, "max": 220}`` as ``"200"`` and ``"200:220"``; ``None`` is open."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict) and set(value) <= {"min", "max"}:
        value = [value.get("min"), value.get("max")]
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return ":".join("" if v is None else str(v) for v in value)
    return value


#: the command line's text, or its JSON form; validated into the text (``"224,224"``, ``"200:220"``)
IntsText = str | int | list[int]
RangeText = str | int | list[int | None]


# -- requests -------------------------------------------------------------------------------------------


class SpecInput(Strict):
    """A spec: YAML text, or the same document as a JSON object."""

    spec: str | dict[str, Any] = Field(
        description="The spec (docs/spec-format.md) as YAML text, or as a JSON object. A JSON object's line "
                    "numbers in messages refer to it printed as JSON with a two-space indent.")
    filename: str = Field(
        "<spec>", max_length=MAX_NAME,
        description="What the spec is called in messages and results (as the path is on the command line). "
                    "A label only: the server never opens a file of that name.")


class AnalyzeOptions(Strict):
    """The options of ``rfdesign analyze``."""

    format: Literal["json", "table", "markdown", "csv"] = Field("json", description="Output format.")
    input_size: IntsText | None = Field(None, description="Analyze at this input size instead of the spec's (H,W).",
                                        examples=["321,321"])
    layer: str | None = Field(None, max_length=MAX_NAME,
                              description="Show only this layer (and use it for unit/pixel).")
    output: str | None = Field(None, max_length=MAX_NAME, description="Treat this layer as the network's output.")
    unit: IntsText | None = Field(None, description="The input box seen by this output unit (I,J).")
    pixel: IntsText | None = Field(None, description="Which output units see this input pixel (X,Y).")

    _ints = field_validator("input_size", "unit", "pixel", mode="before")(ints_text)


class AnalyzeRequest(AnalyzeOptions, SpecInput):
    """``POST /v1/analyze`` with a JSON body: a spec and the options of ``rfdesign analyze``."""


class CheckOptions(Strict):
    """The options of ``rfdesign check``."""

    format: Literal["json", "text", "sarif", "github"] = Field("json", description="Output format.")
    select: str | list[str] | None = Field(None, description="Only these rules (codes or prefixes: RF1,RF205).")
    ignore: str | list[str] | None = Field(None, description="Skip these rules (codes or prefixes).")
    min_rf: int | None = Field(None, ge=1, description="Target receptive field for RF101 when the spec has none.")
    input_size: IntsText | None = Field(None, description="Check at this input size instead of the spec's.")

    _ints = field_validator("input_size", mode="before")(ints_text)


class CheckRequest(CheckOptions, SpecInput):
    """``POST /v1/check`` with a JSON body: a spec and the options of ``rfdesign check``."""


class SolveOptions(Strict):
    """The options of ``rfdesign solve`` (and ``propose``) that decide the result."""

    timeout: float = Field(60.0, gt=0, description="Seconds before the best design so far is returned (status "
                                                   "feasible) or the search gives up; capped by the server's "
                                                   "--max-timeout.")
    top_k: int | None = Field(None, ge=1, le=1000, description="How many distinct designs to propose.")
    objective: Literal["params", "flops", "activations"] | None = Field(
        None, description="What to minimise: parameters, multiply-adds, or the largest activation.")
    forbid: str | list[str] = Field([], description="Also forbid these review rules (codes: RF106 or [RF106, RF109]).")
    allow: str | list[str] = Field([], description="Allow these default-forbidden rules (RF102-RF105, RF107-RF109), "
                                                   "or `all`.")
    no_unseen_pixels: bool = Field(False, description="Forbid unseen pixels (RF103; forbidden by default).")
    no_gridding: bool = Field(False, description="Forbid gridding (RF104; forbidden by default).")
    explain: bool = Field(False, description="Say what each rule and each choice costs, or the smallest relaxation "
                                             "when infeasible.")
    method: Literal["auto", "dp", "z3"] = Field("auto", description="auto: the stage dynamic program where it "
                                                                    "applies, else z3.")


class SolveRequest(SolveOptions, SpecInput):
    """``POST /v1/solve``: a spec with ``{choose: [...]}`` holes and a ``target:``, and the solve options."""


class ProposeRequest(SolveOptions):
    """``POST /v1/propose``: the options of ``rfdesign propose`` (a template from a few numbers, solved)."""

    input: IntsText = Field(description="Input size: one value per axis, or one value for every axis (see dims).",
                            examples=["224"])
    dims: int = Field(2, ge=1, le=3, description="Spatial axes when input is a single value.")
    input_channels: int = Field(3, ge=1)
    rf: RangeText = Field(description="Target receptive field (N or MIN:MAX).", examples=["200:220"])
    output_size: IntsText | None = Field(None, description="Target output size.")
    family: Literal["plain", "resnet", "bottleneck", "mobilenet", "tcn", "unet"] = Field(
        "plain", description="The kind of network to design (docs/solver.md).")
    depth: RangeText = Field("4:16", description="Number of units (MIN:MAX; unet: levels, the MAX).")
    kernels: IntsText = Field("1,3,5,7", description="Kernel sizes to choose from.")
    strides: IntsText = Field("1,2", description="Strides to choose from (plain).")
    dilations: IntsText = Field("1,2,4", description="Dilations to choose from.")
    channels: RangeText = Field("32:512", description="Widths: geometric from MIN to MAX over the kept units.")
    norm: Literal["batchnorm", "none"] = Field("batchnorm", description="The normalisation after each conv.")
    template_file: str | None = Field(None, max_length=MAX_NAME,
                                      description="What the template is called in the proposals (the CLI's "
                                                  "--template-out); a label only, nothing is written.")

    _ints = field_validator("input", "output_size", "kernels", "strides", "dilations", mode="before")(ints_text)
    _ranges = field_validator("rf", "depth", "channels", mode="before")(range_text)


class ExportRequest(SpecInput):
    """``POST /v1/export``: a spec (a solver's proposal included) as PyTorch code or a flat spec."""

    to: Literal["pytorch", "yaml"] = Field("pytorch", description="pytorch: a standalone nn.Module; yaml: a flat spec.")
    class_name: str | None = Field(None, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                   description="Name of the generated nn.Module class.")


# -- responses: errors and jobs -----------------------------------------------------------------------------


class Problem(BaseModel):
    """An error (RFC 9457 ``application/problem+json``), with the CLI's located message."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem (docs/service.md lists them).")
    title: str
    status: int
    detail: str = Field(description="The one-line message the command line prints.")
    instance: str | None = Field(None, description="The request path.")
    message: str | None = Field(None, description="What is wrong, without location and hint.")
    file: str | None = None
    line: int | None = Field(None, description="1-based line in the spec (or in the JSON body for malformed JSON).")
    column: int | None = Field(None, description="1-based column.")
    hint: str | None = Field(None, description="How to fix it, e.g. the nearest valid name.")
    errors: list[dict[str, Any]] | None = Field(None, description="Each invalid field of the request body.")

    @model_serializer(mode="wrap")
    def _without_nulls(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None}


class JobProgress(BaseModel):
    """Where a running solve is: designs found, best objective so far, proven lower bound, seconds."""

    found: int = 0
    best: int | None = None
    bound: int | None = None
    elapsed: float = 0.0
    message: str = ""


class JobLinks(BaseModel):
    self: str
    events: str
    result: str
    spec: str


class Job(BaseModel):
    """A solve or propose job."""

    id: str
    kind: Literal["solve", "propose"]
    status: JobState
    name: str = Field(description="The name of the spec solved (proposal files are <name>_<rank>.yaml).")
    created: str = Field(description="ISO 8601, UTC.")
    started: str | None = None
    finished: str | None = None
    timeout: float = Field(description="The time limit the solver runs with (the request's, capped).")
    progress: JobProgress | None = None
    result_status: SolveStatus | None = Field(None, description="The solve's status once done.")
    error: Problem | None = Field(None, description="Why the job failed or was cancelled.")
    from_store: bool = Field(False, description="True when an identical earlier request's job answered this one.")
    links: JobLinks


class JobPage(BaseModel):
    """Recent jobs, newest first."""

    jobs: list[Job]
    next: str | None = Field(None, description="The next page, or null on the last one.")


class RuleSummary(BaseModel):
    code: str
    name: str
    severity: Literal["error", "warning", "info"]
    summary: str


class RuleDoc(RuleSummary):
    why: str
    example: str
    fix: str
    options: list[list[str]] = Field(description="(option, meaning) pairs read from the spec's review.options.")
    markdown: str = Field(description="The rule's page, as `rfdesign rule CODE` prints it.")


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Ready(BaseModel):
    ready: bool
    version: str
    workers: int = Field(description="Worker processes ready for a job.")
    queued: int
    running: int
    queue_limit: int
    streams: int = Field(description="Event streams open now.")


# -- responses: the commands' own JSON (documentation; validated against real output in the tests) ----------------


class Misalignment(Strict):
    axis: int
    strides: list[Number]
    centre_offset: Number | None


class AxisFigures(Strict):
    receptive_field: list[int]
    receptive_field_min: list[int | None]
    receptive_field_position_min: list[int]
    effective_stride: list[Number]
    effective_padding: list[int]
    centre: list[Number]
    box: list[list[int] | None]


class LayerReport(AxisFigures):
    """One layer of ``rfdesign analyze -f json`` (docs/json-format.md), or all of ``--layer NAME -f json``."""

    name: str
    op: str
    inputs: list[str]
    input_size: list[int]
    output_size: list[int]
    channels: int
    params: int
    flops: int
    aligned: bool
    global_context: bool
    padding: list[list[int]] | None = None
    misalignment: list[Misalignment] | None = None
    location: str


class AnalysisReport(AxisFigures):
    """``rfdesign analyze -f json`` (docs/json-format.md)."""

    name: str
    input_size: list[int]
    output: str
    outputs: list[str]
    output_size: list[int]
    channels: int
    params: int
    flops: int
    aligned: bool
    global_context: bool
    schema_version: int
    layers: list[LayerReport]


class CoordinatesReport(Strict):
    """``rfdesign analyze --unit I,J`` / ``--pixel X,Y`` with ``-f json``."""

    layer: str
    unit: list[int] | None = None
    box: list[list[int] | None] | None = None
    pixel: list[int] | None = None
    units: list[list[int] | None] | None = None


class FindingReport(Strict):
    code: str
    name: str
    severity: Literal["error", "warning", "info"]
    file: str
    line: int | None
    column: int | None
    layer: str | None
    message: str
    fix: str | None
    data: dict[str, Any]


class CheckedSpec(Strict):
    file: str
    error: str | None
    findings: list[FindingReport]


class CheckSummary(Strict):
    errors: int
    warnings: int
    infos: int
    bad_specs: int


class CheckReport(Strict):
    """``rfdesign check -f json``."""

    tool: Literal["rfdesign"]
    version: str
    specs: list[CheckedSpec]
    summary: CheckSummary


class LayerChoice(Strict):
    name: str
    kernel: int | list[int] | None
    stride: int | list[int] | None
    dilation: int | list[int] | None
    kept: bool


class ProposalFinding(Strict):
    """What `rfdesign check` still reports on a proposal (rules not forbidden)."""

    code: str
    severity: Literal["error", "warning", "info"]
    layer: str | None
    message: str


class RelaxedRule(Strict):
    code: str
    reason: str


class ProposalReport(Strict):
    rank: int
    objective: int
    params: int
    flops: int
    depth: int
    receptive_field: list[int]
    effective_stride: list[Number]
    output_size: list[int]
    layers: list[LayerChoice]
    findings: list[ProposalFinding]
    spec: str = Field(description="The proposal as a complete spec (YAML).")


class SolveReport(Strict):
    """``rfdesign solve -f json`` (and ``propose``)."""

    status: SolveStatus
    objective: str
    method: str
    elapsed: float
    lower_bound: int | None
    reasons: list[str]
    rules: list[str] = Field(description="The review rules every proposal passes.")
    relaxed: list[RelaxedRule] = Field(description="Default rules the target makes impossible, and why.")
    explanation: list[str] = Field(description="What `explain` adds.")
    proposals: list[ProposalReport]
    stats: dict[str, Any]
