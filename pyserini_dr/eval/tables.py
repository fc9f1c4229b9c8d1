"""A matrix run's tables: the verdict line, Markdown and HTML (expected, got, delta, OK/DRIFT/FAILED per metric)."""
from __future__ import annotations

import datetime
import html
import os
import platform

from .matrix import Matrix, Metric
from .runner import Row

HEADER = ("condition", "metric", "expected", "got", "delta", "tolerance", "status", "time")


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


def summary(rows: list[Row], seconds: float) -> str:
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
    lines = [f"# {matrix.name}", "", f"{summary(rows, seconds)}", "", _context(matrix, work), "",
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
           "</head><body>", f"<h1>{e(matrix.name)}</h1>", f"<p><b>{e(summary(rows, seconds))}</b></p>",
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
