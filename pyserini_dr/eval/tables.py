"""A matrix run's tables: the verdict line, Markdown and HTML (expected, got, delta, OK/DRIFT/FAILED per metric,
then the published figures when the matrix gives any) and a condition-per-line table for the terminal."""
from __future__ import annotations

import datetime
import html
import os
import platform

from .matrix import Matrix, Metric
from .runner import Row

HEADER = ("condition", "metric", "expected", "got", "delta", "tolerance", "status", "time")
PUBLISHED_HEADER = ("published", "source")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _delta(row: Row, metric: Metric) -> str:
    if row.error is not None:
        return "-"
    return f"{round(row.scores[metric.metric] - metric.expected, 4) + 0.0:+.4f}"  # + 0.0: no "-0.0000"


def _published(row: Row, metric: Metric) -> float | None:
    published = row.condition.published
    return published.values.get(metric.metric) if published else None


def has_published(rows: list[Row]) -> bool:
    """The published columns appear only when some condition has figures to show."""
    return any(row.condition.published for row in rows)


def header(rows: list[Row]) -> tuple[str, ...]:
    return HEADER + (PUBLISHED_HEADER if has_published(rows) else ())


def table_rows(rows: list[Row]):
    """One tuple of cells per metric; HEADER's eight, then PUBLISHED_HEADER's two when ``has_published``."""
    published = has_published(rows)
    for row in rows:
        source = row.condition.published.source if row.condition.published else "-"
        for i, m in enumerate(row.condition.metrics):
            got = None if row.error is not None else row.scores[m.metric]
            cells = (row.condition.display if i == 0 else "", m.label, _fmt(m.expected), _fmt(got), _delta(row, m),
                     f"{m.tolerance:g}", row.status(m), f"{row.seconds:.0f}s" if i == 0 else "")
            yield cells + ((_fmt(_published(row, m)), source if i == 0 else "") if published else ())


def console_table(matrix: Matrix, rows: list[Row]) -> str:
    """One line per condition, a column per metric, as the old main job printed it: readable in a terminal."""
    labels = list(dict.fromkeys(m.label for row in rows for m in row.condition.metrics))
    published = list(dict.fromkeys(m.label for row in rows for m in row.condition.metrics
                                   if _published(row, m) is not None))
    head = (["condition"] + labels + [f"published {label}" for label in published]
            + (["source"] if published else []) + ["status", "time"])
    body = []
    for row in rows:
        metrics = {m.label: m for m in row.condition.metrics}
        got = [_fmt(row.scores[metrics[label].metric]) if label in metrics and row.error is None else "-"
               for label in labels]
        figures = [_fmt(_published(row, metrics[label]) if label in metrics else None) for label in published]
        source = [row.condition.published.source if row.condition.published else "-"] if published else []
        status = "FAILED" if row.error is not None else "OK" if row.green else "DRIFT"
        body.append([row.condition.display] + got + figures + source + [status, f"{row.seconds:.0f}s"])
    widths = [max(len(cell) for cell in column) for column in zip(head, *body)]

    def line(cells):
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths)) + " |"

    lines = [f"{matrix.name}; trec_eval -c", line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    return "\n".join(lines + [line(cells) for cells in body]) + "\n"


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
             "| " + " | ".join(header(rows)) + " |", "|" + "|".join(" --- " for _ in header(rows)) + "|"]
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
           "<tr>" + "".join(f"<th>{e(h)}</th>" for h in header(rows)) + "</tr>"]
    for cells in table_rows(rows):
        status = cells[6]
        tds = [f"<td>{e(cells[0])}</td>", f"<td>{e(cells[1])}</td>"]
        tds += [f"<td class=\"n\">{e(c)}</td>" for c in cells[2:6]]
        tds.append(f"<td style=\"color:{colors[status]};font-weight:bold\">{e(status)}</td>")
        tds.append(f"<td class=\"n\">{e(cells[7])}</td>")
        if len(cells) > len(HEADER):
            tds += [f"<td class=\"n\">{e(cells[8])}</td>", f"<td>{e(cells[9])}</td>"]
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
