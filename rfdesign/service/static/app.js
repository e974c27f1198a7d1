// The design-assistant page of `rfdesign serve`: a spec editor, the analysis, the review, and solve jobs.
// Plain JavaScript, no build step and no dependencies; it talks to the same /v1 API as every other client.

const FILENAME = "spec.yaml";
const EXAMPLES = {
  tiny: `name: tiny
input: {size: [224, 224], channels: 3}
layers:
  - {name: conv1, op: conv, out: 64, kernel: 7, stride: 2, padding: 3}
  - {op: maxpool, kernel: 3, stride: 2, padding: 1}
  - {name: skip, op: conv, from: maxpool_1, out: 64, kernel: 1}
  - {name: body, op: conv, from: maxpool_1, out: 64, kernel: 3, padding: 1}
  - {name: merged, op: add, from: [body, skip]}
`,
  head: `# A detector head: it must see 200-220 pixels and output a 14x14 map.
name: detector_head
input: {size: [224, 224], channels: 3}
target:
  receptive_field: {min: 200, max: 220}
  output_size: [14, 14]
  objective: params
  top_k: 3
  constraints: {no_unseen_pixels: true}
layers:
  - {name: stem, op: conv, out: 32, kernel: {choose: [3, 5, 7]}, stride: 2, padding: same}
  - {name: stage1, op: conv, out: 64, kernel: {choose: [1, 3, 5, 7]}, stride: {choose: [1, 2]}, dilation: {choose: [1, 2, 4]}, padding: same}
  - {name: stage2, op: conv, out: 128, kernel: {choose: [1, 3, 5, 7]}, stride: {choose: [1, 2]}, dilation: {choose: [1, 2, 4]}, padding: same}
  - {name: stage3, op: conv, out: 128, kernel: {choose: [1, 3, 5, 7]}, stride: {choose: [1, 2]}, dilation: {choose: [1, 2, 4]}, padding: same}
  - {name: extra, op: conv, out: 128, kernel: {choose: [1, 3]}, dilation: {choose: [1, 2, 4, 8]}, padding: same, optional: true}
  - {name: head, op: conv, out: 256, kernel: {choose: [1, 3, 5]}, stride: {choose: [1, 2]}, dilation: {choose: [1, 2, 4, 8]}, padding: same}
`,
  residual: residualTcn(24),
};

function residualTcn(blocks) {
  const lines = [
    "# A residual TCN whose kernels and dilations are holes. The stage dynamic program (method auto)",
    "# solves it in seconds; z3 (method z3) needs minutes for the proof: watch its progress, or cancel it.",
    "name: tcn",
    "input: {size: [8192], channels: 16}",
    "target:",
    "  receptive_field: {min: 2000, max: 2003}",
    "  output_size: [8192]",
    "  top_k: 10",
    "layers:",
    "  - {name: stem, op: conv, out: 32, kernel: 3, padding: same}",
  ];
  let previous = "stem";
  for (let i = 0; i < blocks; i++) {
    lines.push(`  - {name: c${i}, op: conv, from: ${previous}, out: 32, kernel: {choose: [2, 3, 5]}, ` +
               "dilation: {choose: [1, 2, 4, 8, 16, 32, 64]}, padding: same}");
    lines.push(`  - {name: s${i}, op: add, from: [c${i}, ${previous}]}`);
    previous = `s${i}`;
  }
  return lines.join("\n") + "\n";
}

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
};

// -- the API -----------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(problem, status) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.problem = problem;
    this.status = status;
  }
}

function headers(extra = {}) {
  const token = sessionStorage.getItem("rfdesign-token");
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, signal, headers: headers(body ? { "Content-Type": "application/json" } : {}) };
  if (body) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  if (!response.ok) {
    let problem = { detail: `${response.status} ${response.statusText}` };
    try { problem = await response.json(); } catch (_) { /* not JSON: keep the status line */ }
    if (response.status === 401) showTokenBar();
    throw new ApiError(problem, response.status);
  }
  return response;
}

function showTokenBar() {
  $("token-bar").hidden = false;
  $("token-input").focus();
}

// -- numbers -----------------------------------------------------------------------------------------------

const thousands = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : String(n));
function si(n) {
  for (const [limit, suffix] of [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
    if (Math.abs(n) >= limit) return (n / limit).toFixed(2) + suffix;
  }
  return String(n);
}
function axes(values) {
  const texts = values.map((v) => (v === null || v === undefined ? "–" : String(v)));
  return texts.every((t) => t === texts[0]) ? texts[0] : texts.join(" × ");
}
function lineOf(location) {
  const match = /:(\d+)(?::(\d+))?$/.exec(location || "");
  return match ? { line: Number(match[1]), column: Number(match[2] || 1) } : null;
}

// -- the editor --------------------------------------------------------------------------------------------

const editor = $("spec");
const gutter = $("gutter");
const marks = $("marks");
let errorLines = [];

function lineHeight() {
  return parseFloat(getComputedStyle(editor).lineHeight) || 20;
}

function refreshGutter() {
  const count = editor.value.split("\n").length;
  const numbers = [];
  for (let i = 1; i <= count; i++) numbers.push(errorLines.includes(i) ? `● ${i}` : String(i));
  gutter.textContent = numbers.join("\n");
  refreshMarks();
}

function refreshMarks() {
  marks.replaceChildren();
  const height = lineHeight();
  const padding = parseFloat(getComputedStyle(editor).paddingTop) || 0;
  for (const line of errorLines) {
    const mark = el("div", { class: "mark" });  // placed through CSSOM: the page's policy forbids style attributes
    mark.style.top = `${padding + (line - 1) * height - editor.scrollTop}px`;
    mark.style.height = `${height}px`;
    marks.append(mark);
  }
  gutter.scrollTop = editor.scrollTop;
}

function goToLine(line, column = 1) {
  const lines = editor.value.split("\n");
  let offset = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
  offset += Math.max(0, column - 1);
  editor.focus();
  editor.setSelectionRange(offset, offset);
  editor.scrollTop = Math.max(0, (line - 3) * lineHeight());
  refreshMarks();
}

function showErrors(problems) {
  const list = $("errors");
  list.replaceChildren();
  errorLines = [];
  for (const problem of problems) {
    const where = problem.line ? `line ${problem.line}${problem.column ? `, column ${problem.column}` : ""}` : "";
    if (problem.line) errorLines.push(problem.line);
    const item = el("li", { class: "error", "data-line": problem.line || "" },
      where ? el("button", { type: "button", class: "where", onclick: () => goToLine(problem.line, problem.column) },
                 where) : null,
      el("span", { class: "message" }, withCode(problem.message || problem.detail)),
      problem.hint ? el("span", { class: "hint" }, `hint: ${problem.hint}`) : null);
    list.append(item);
  }
  refreshGutter();
}

// -- analysis ----------------------------------------------------------------------------------------------

let analyzeTimer = null;
let analyzeRun = 0;

function scheduleAnalyze() {
  clearTimeout(analyzeTimer);
  analyzeTimer = setTimeout(analyze, 450);
}

async function analyze() {
  clearTimeout(analyzeTimer);
  const spec = editor.value;
  const run = ++analyzeRun;
  if (!spec.trim()) {
    showErrors([]);
    return;
  }
  document.body.classList.add("busy");
  const started = performance.now();
  try {
    const [analysis, review] = await Promise.allSettled([
      api("/v1/analyze", { method: "POST", body: { spec, filename: FILENAME } }).then((r) => r.json()),
      api("/v1/check", { method: "POST", body: { spec, filename: FILENAME } }).then((r) => r.json()),
    ]);
    if (run !== analyzeRun) return; // a newer edit has been sent
    if (analysis.status === "rejected") {
      const error = analysis.reason;
      const problem = error instanceof ApiError ? error.problem : { detail: String(error) };
      if (/is still a free choice/.test(problem.message || "")) {
        showTemplate(problem);
        return;
      }
      showErrors([problem]);
      document.querySelectorAll(".stale-able").forEach((node) => node.classList.add("stale"));
      return;
    }
    showErrors([]);
    document.querySelectorAll(".stale").forEach((node) => node.classList.remove("stale"));
    renderAnalysis(analysis.value);
    $("analysis-time").textContent = `${Math.round(performance.now() - started)} ms`;
    if (review.status === "fulfilled") renderFindings(review.value);
  } finally {
    if (run === analyzeRun) document.body.classList.remove("busy");
  }
}

function showTemplate(problem) {
  // a spec with {choose: [...]} holes is a question for the solver, not a broken spec
  showErrors([]);
  setMode("solve");
  $("summary").className = "summary template";
  $("summary").replaceChildren(
    el("strong", {}, "A template for the solver."),
    " This spec has holes ", el("code", {}, "{choose: [...]}"), " (the first at ",
    el("button", { type: "button", class: "where", onclick: () => goToLine(problem.line, problem.column) },
       `line ${problem.line}`),
    "), so it has no receptive field yet. Solve it below; ",
    el("em", {}, "open"), " puts a proposal in the editor to analyse it.");
  $("chart").replaceChildren();
  $("layers").tHead.replaceChildren();
  $("layers").tBodies[0].replaceChildren();
  $("findings").replaceChildren(el("li", { class: "muted" }, "The review runs on a finished design."));
  $("review-count").textContent = "";
}

function figure(label, value, id, note) {
  return el("div", { class: "figure" }, el("div", { class: "label" }, label),
            el("div", { class: "value", id }, value), note ? el("div", { class: "note" }, note) : null);
}

function renderAnalysis(data) {
  const summary = $("summary");
  summary.className = "summary stale-able";
  const uniform = data.receptive_field_position_min.every((v, i) => v === data.receptive_field[i]);
  summary.replaceChildren(
    el("div", { class: "summary-head" }, el("strong", {}, data.name), " · input ",
       data.input_size.join("×"), " → output ", el("code", {}, data.output), " ",
       `${data.output_size.join("×")}×${data.channels}`),
    el("div", { class: "figures" },
      figure("receptive field", axes(data.receptive_field), "rf-value",
             uniform ? `shortest path ${axes(data.receptive_field_min)}`
                     : `${axes(data.receptive_field_position_min)}–${axes(data.receptive_field)} by position`),
      figure("effective stride", axes(data.effective_stride), "stride-value"),
      figure("effective padding", axes(data.effective_padding), "padding-value"),
      figure("parameters", si(data.params), "params-value", thousands(data.params)),
      figure("multiply-adds", si(data.flops), "flops-value", thousands(data.flops))),
    ...(data.aligned ? [] : [el("div", { class: "warning" }, "Misaligned merges: branch strides or centres differ.")]),
  );
  renderChart(data);
  renderLayers(data);
}

function renderLayers(data) {
  const table = $("layers");
  table.classList.add("stale-able");
  const head = ["layer", "op", "output", "rf", "stride", "padding", "params", "flops"];
  table.tHead.replaceChildren(el("tr", {}, head.map((h, i) => el("th", { class: i > 1 ? "num" : "" }, h))));
  const rows = data.layers.map((layer) => {
    const at = lineOf(layer.location);
    const rf = layer.receptive_field_position_min.every((v, i) => v === layer.receptive_field[i])
      ? axes(layer.receptive_field)
      : `${axes(layer.receptive_field_position_min)}..${axes(layer.receptive_field)}`;
    return el("tr", { class: layer.name === data.output ? "output" : "", title: at ? `line ${at.line}` : "",
                      onclick: () => at && goToLine(at.line, at.column) },
      el("td", {}, layer.name), el("td", {}, layer.op),
      el("td", { class: "num" }, `${layer.output_size.join("×")}×${layer.channels}`),
      el("td", { class: "num" }, rf), el("td", { class: "num" }, axes(layer.effective_stride)),
      el("td", { class: "num" }, axes(layer.effective_padding)),
      el("td", { class: "num" }, si(layer.params)), el("td", { class: "num" }, si(layer.flops)));
  });
  table.tBodies[0].replaceChildren(...rows);
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(child));
  return node;
}

function renderChart(data) {
  // receptive field per layer on a log scale (growth is multiplicative), with the input size for reference
  const box = $("chart");
  box.classList.add("stale-able");
  const layers = data.layers;
  const width = Math.max(320, box.clientWidth || 560);
  const height = 230;
  const pad = { left: 52, right: 24, top: 18, bottom: 36 };
  const dims = data.input_size.length;
  const values = layers.flatMap((l) => l.receptive_field);
  const top = Math.max(2, ...data.input_size, ...values);
  const log = (v) => Math.log2(Math.max(1, v));
  const x = (i) => pad.left + (layers.length <= 1 ? 0 : (i * (width - pad.left - pad.right)) / (layers.length - 1));
  const y = (v) => height - pad.bottom - (log(v) / log(top)) * (height - pad.top - pad.bottom);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", height, role: "img",
                             "aria-label": "receptive field per layer" });
  const every = Math.max(1, Math.ceil(log(top) / 6));
  for (let power = 0; 2 ** power <= top; power += every) {
    const value = 2 ** power;
    chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value), class: "grid" }),
                 svg("text", { x: pad.left - 8, y: y(value) + 4, class: "tick", "text-anchor": "end" },
                     thousands(value)));
  }
  for (const size of new Set(data.input_size)) {
    chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(size), y2: y(size), class: "input-line" }),
                 svg("text", { x: width - pad.right, y: y(size) - 5, class: "tick", "text-anchor": "end" },
                     `input ${thousands(size)}`));
  }
  const distinct = dims > 1 && layers.some((l) => l.receptive_field.some((v) => v !== l.receptive_field[0]));
  const series = distinct ? [...Array(dims).keys()] : [0];
  series.forEach((axis, index) => {
    const points = layers.map((l, i) => `${x(i).toFixed(1)},${y(l.receptive_field[axis]).toFixed(1)}`).join(" ");
    chart.append(svg("polyline", { points, class: `series s${index}` }));
    if (layers.length <= 120) {
      layers.forEach((l, i) => {
        chart.append(svg("circle", { cx: x(i), cy: y(l.receptive_field[axis]), r: layers.length > 40 ? 2 : 3.2,
                                     class: `dot s${index}` },
                         svg("title", {}, `${l.name} (${l.op}): receptive field ${axes(l.receptive_field)}`)));
      });
    }
  });
  const step = Math.max(1, Math.ceil(layers.length / 7));
  layers.forEach((l, i) => {
    const last = i === layers.length - 1;
    if ((i % step === 0 && layers.length - 1 - i >= step / 2) || last) {
      const name = l.name.length > 16 ? l.name.slice(0, 15) + "…" : l.name;
      const anchor = last && layers.length > 1 ? "end" : i === 0 ? "start" : "middle";
      chart.append(svg("text", { x: x(i), y: height - pad.bottom + 18, class: "tick", "text-anchor": anchor }, name));
    }
  });
  chart.append(svg("text", { x: pad.left, y: 10, class: "axis-label" }, "receptive field (px, log scale)"));
  if (distinct) {
    series.forEach((axis, index) => chart.append(
      svg("text", { x: pad.left + 200 + index * 64, y: 10, class: `legend s${index}` }, `axis ${axis + 1}`)));
  }
  box.replaceChildren(chart);
}

function withCode(text) {
  // `name` in rfdesign's messages as <code>name</code> (text nodes only: nothing is parsed as HTML)
  return text.split("`").map((part, i) => (i % 2 ? el("code", {}, part) : part));
}

function renderFindings(report) {
  const list = $("findings");
  const findings = report.specs.flatMap((spec) => spec.findings);
  const s = report.summary;
  const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  $("review-count").textContent = findings.length
    ? [count(s.errors, "error", "errors"), count(s.warnings, "warning", "warnings"), count(s.infos, "info", "infos")]
        .join(" · ") : "";
  if (!findings.length) {
    list.replaceChildren(el("li", { class: "clean" }, "All checks passed."));
    return;
  }
  list.replaceChildren(...findings.map((f) => el("li", { class: `finding ${f.severity}` },
    el("span", { class: `severity ${f.severity}` }, f.severity),
    el("a", { class: "code", href: `/v1/rules/${f.code}`, target: "_blank", rel: "noopener",
              title: f.name }, f.code),
    f.line ? el("button", { type: "button", class: "where", onclick: () => goToLine(f.line, f.column || 1) },
                `line ${f.line}`) : null,
    el("span", { class: "message" }, withCode(f.message)),
    f.fix ? el("div", { class: "fix" }, "fix: ", withCode(f.fix)) : null)));
}

// -- solve and propose -------------------------------------------------------------------------------------

let mode = "solve";
let currentJob = null;
let streamAbort = null;

function setMode(next) {
  mode = next;
  for (const tab of document.querySelectorAll(".tabs [role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.mode === mode));
  }
  $("propose-fields").hidden = mode !== "propose";
  $("run").textContent = mode === "propose" ? "Propose" : "Solve";
}

function formOptions() {
  const form = new FormData($("solve-form"));
  const options = {};
  for (const [key, value] of form.entries()) {
    if (value === "" || value === "on") continue;
    options[key] = value;
  }
  options.explain = form.get("explain") === "on";
  for (const name of ["top_k", "dims"]) if (name in options) options[name] = Number(options[name]);
  options.timeout = Number(options.timeout || 60);
  if (mode === "solve") {
    for (const name of ["input", "dims", "rf", "output_size", "family", "depth", "kernels", "strides", "dilations",
                        "channels", "norm"]) {
      delete options[name];
    }
  }
  return options;
}

function setJobState(status, text) {
  const badge = $("job-state");
  badge.hidden = !status;
  badge.textContent = status || "";
  badge.className = `badge ${status || ""}`;
  $("progress").textContent = text || "";
}

function progressText(job) {
  const p = job.progress;
  if (job.status === "queued") return "waiting for a worker…";
  if (!p) return "starting…";
  const best = p.best === null || p.best === undefined ? "none yet" : thousands(p.best);
  const bound = p.bound === null || p.bound === undefined ? "?" : thousands(p.bound);
  return `${p.elapsed.toFixed(1)} s · designs found ${p.found} · best ${best} · lower bound ${bound}`;
}

async function runSolve(event) {
  event.preventDefault();
  $("solve-error").replaceChildren();
  $("solve-result").replaceChildren();
  const options = formOptions();
  const body = mode === "propose" ? options : { spec: editor.value, filename: FILENAME, ...options };
  $("run").disabled = true;
  setJobState("submitting", "");
  try {
    const response = await api(`/v1/${mode}`, { method: "POST", body });
    if (response.status === 200) { // an identical request's stored result
      const jobId = response.headers.get("Rfdesign-Job");
      const job = await (await api(`/v1/jobs/${jobId}`)).json();
      setJobState("done", "from the store: an identical request was solved before");
      renderProposals(job, await response.json());
      return;
    }
    const job = await response.json();
    currentJob = job.id;
    $("cancel").disabled = false;
    await follow(job);
  } catch (error) {
    if (error.name === "AbortError") return;
    setJobState("failed", "");
    const problem = error instanceof ApiError ? error.problem : { detail: String(error) };
    $("solve-error").replaceChildren(el("li", { class: "error" }, problem.detail));
    if (problem.line && mode === "solve") showErrors([problem]);
  } finally {
    $("run").disabled = false;
    $("cancel").disabled = true;
    currentJob = null;
  }
}

async function follow(job) {
  setJobState(job.status, progressText(job));
  streamAbort = new AbortController();
  const response = await api(job.links.events, { signal: streamAbort.signal });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let last = job;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (!data.length) continue;
      const payload = JSON.parse(data.join("\n"));
      if (name === "job") {
        last = payload;
        setJobState(payload.status, progressText(payload));
      } else if (name === "result") {
        setJobState("done", `${STATUS_TEXT[payload.status] || payload.status} in ${payload.elapsed.toFixed(2)} s`);
        renderProposals(last, payload);
        return;
      } else if (name === "error") {
        setJobState(last.status === "cancelled" ? "cancelled" : "failed", payload.detail);
        return;
      }
    }
  }
}

const STATUS_TEXT = {
  optimal: "optimal (proven)",
  feasible: "feasible (the time ran out before the proof)",
  infeasible: "infeasible",
  unknown: "unknown (the time ran out before any design was found)",
};

async function cancelJob() {
  if (!currentJob) return;
  $("cancel").disabled = true;
  try {
    const job = await (await api(`/v1/jobs/${currentJob}`, { method: "DELETE" })).json();
    setJobState(job.status, job.status === "cancelled" ? "cancelled: the worker was stopped" : progressText(job));
  } catch (error) {
    $("solve-error").replaceChildren(el("li", { class: "error" }, error.message));
  } finally {
    if (streamAbort) streamAbort.abort();
  }
}

function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function downloadPytorch(name, spec) {
  const response = await api("/v1/export", { method: "POST", body: { spec, filename: `${name}.yaml`, to: "pytorch" } });
  download(`${name}.py`, await response.text(), "text/x-python");
}

function choiceText(layer) {
  // "conv2 k3 s2 d2": the kernel, and the stride and dilation where they are not 1
  const part = (prefix, value, skipOne) => {
    if (value === null || value === undefined) return "";
    const text = axes([].concat(value));
    return skipOne && text === "1" ? "" : ` ${prefix}${text}`;
  };
  return layer.name + part("k", layer.kernel, false) + part("s", layer.stride, true) + part("d", layer.dilation, true);
}

function renderProposals(job, result) {
  const box = $("solve-result");
  const method = result.method === "dp" ? "exhaustive dynamic program" : "z3";
  const parts = [el("p", { class: "result-status" }, el("strong", {}, STATUS_TEXT[result.status] || result.status),
                    ` · ${method} · minimising ${result.objective}`)];
  for (const reason of result.reasons) parts.push(el("p", { class: "reason" }, withCode(reason)));
  if (result.rules && result.rules.length) {
    parts.push(el("p", { class: "rules muted" }, `every proposal passes ${result.rules.join(", ")} (rfdesign check)`));
  }
  for (const item of result.relaxed || []) {
    parts.push(el("p", { class: "reason" }, `not checked: ${item.code}, because `, withCode(item.reason)));
  }
  if (result.explanation && result.explanation.length) {
    parts.push(el("ul", { class: "explanation" }, result.explanation.map((line) => el("li", {}, withCode(line)))));
  }
  if (result.proposals.length) {
    const rows = result.proposals.map((p) => {
      const name = `${job.name}_${p.rank}`;
      return el("tr", {},
        el("td", { class: "num" }, p.rank), el("td", { class: "num" }, thousands(p.params)),
        el("td", { class: "num" }, si(p.flops)), el("td", { class: "num" }, p.depth),
        el("td", { class: "num" }, axes(p.receptive_field)), el("td", { class: "num" }, axes(p.effective_stride)),
        el("td", { class: "num" }, p.output_size.join("×")),
        el("td", { class: "choices" }, p.layers.filter((l) => l.kept).map(choiceText).join(", ")),
        el("td", { class: "downloads" },
          el("button", { type: "button", onclick: () => download(`${name}.yaml`, p.spec, "application/yaml") }, "YAML"),
          el("button", { type: "button", onclick: () => downloadPytorch(name, p.spec) }, "PyTorch"),
          el("button", { type: "button", onclick: () => { editor.value = p.spec; refreshGutter(); analyze(); } },
             "open")));
    });
    parts.push(el("div", { class: "table-wrap" }, el("table", { class: "data proposals" },
      el("thead", {}, el("tr", {}, ["#", "params", "flops", "depth", "rf", "stride", "output", "choices", ""].map(
        (h, i) => el("th", { class: i < 7 ? "num" : "" }, h)))),
      el("tbody", {}, rows))));
  }
  box.replaceChildren(...parts);
}

// -- start -------------------------------------------------------------------------------------------------

async function ping() {
  try {
    const ready = await (await fetch("/readyz")).json();
    $("service-state").textContent = ready.ready
      ? `ready · ${ready.workers} idle worker${ready.workers === 1 ? "" : "s"} · ${ready.running} running · ` +
        `${ready.queued} queued`
      : "starting…";
    $("service-state").className = `state ${ready.ready ? "ok" : "wait"}`;
    $("version").textContent = ready.version;
  } catch (_) {
    $("service-state").textContent = "unreachable";
    $("service-state").className = "state bad";
  }
}

function loadExample(name) {
  if (!EXAMPLES[name]) return;
  editor.value = EXAMPLES[name];
  refreshGutter();
  analyze();
  if (name !== "tiny") setMode("solve");
  if (name === "residual") document.querySelector("select[name=method]").value = "z3";
}

editor.addEventListener("input", () => { refreshGutter(); scheduleAnalyze(); });
editor.addEventListener("scroll", refreshMarks);
editor.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    analyze();
  } else if (event.key === "Tab" && !event.shiftKey) {
    event.preventDefault();
    editor.setRangeText("  ", editor.selectionStart, editor.selectionEnd, "end");
    refreshGutter();
  }
});
$("analyze").addEventListener("click", analyze);
$("example").addEventListener("change", (event) => { loadExample(event.target.value); event.target.value = ""; });
$("open-file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (file) { editor.value = await file.text(); refreshGutter(); analyze(); }
});
for (const tab of document.querySelectorAll(".tabs [role=tab]")) {
  tab.addEventListener("click", () => setMode(tab.dataset.mode));
}
$("solve-form").addEventListener("submit", runSolve);
$("cancel").addEventListener("click", cancelJob);
$("token-bar").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("rfdesign-token", $("token-input").value.trim());
  $("token-bar").hidden = true;
  analyze();
});
window.addEventListener("resize", () => { refreshMarks(); });

refreshGutter();
ping();
setInterval(ping, 5000);
