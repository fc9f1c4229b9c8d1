"""The reproduction matrix file (shaped like Pyserini's 2CR yaml) and its validation.

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
    published:                                  # optional: the figures others report, shown beside ours
      source: Pyserini BEIR regression
      values: {ndcg_cut.10: 0.6789, recall.100: 0.9253}   # a subset of the eval metrics
```

Commands are split with ``shlex`` and run without a shell (``runner.py``). Placeholders: ``{work}`` (the work
dir), ``{output}`` (the condition's run file, ``{work}/runs/NAME.txt``), ``{topics}`` and ``{minilm}`` (the
packaged all-MiniLM-L6-v2 directory, so matrices run offline). Quote YAML values that start with ``{``.
``creates`` should name what a step leaves only when it finished (the Lucene indexer moves a finished index into
place; a dense index is finished when its ``meta.json`` exists), because the indexers refuse to overwrite a
finished output and an interrupted encode resumes when rerun.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field

from ..errors import InputError

DEFAULT_TOLERANCE = 0.0005
MATRIX_KEYS = {"name", "topics", "qrels", "tolerance", "conditions"}
CONDITION_KEYS = {"name", "display", "command", "prepare", "topics", "qrels", "eval", "published"}
STEP_KEYS = {"command", "creates"}
METRIC_KEYS = {"metric", "expected", "tolerance", "relevance_level"}
PUBLISHED_KEYS = {"source", "values"}


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
class Published:
    """Figures reported elsewhere, for the reader to compare: they are shown, never checked."""
    source: str
    values: dict[str, float]  # trec_eval measure -> score


@dataclass
class Condition:
    name: str
    display: str
    command: str
    topics: str | None
    qrels: str
    metrics: list[Metric]
    prepare: list[Step] = field(default_factory=list)
    published: Published | None = None


@dataclass
class Matrix:
    path: str
    name: str
    conditions: list[Condition]

    def select(self, only: list[str] | None) -> list[Condition]:
        """The conditions named in ``only`` (all when None), in the matrix's order."""
        if not only:
            return list(self.conditions)
        known = {c.name for c in self.conditions}
        unknown = [n for n in only if n not in known]
        if unknown:
            raise InputError(f"{self.path}: no condition {unknown[0]!r} (conditions: {', '.join(sorted(known))})")
        return [c for c in self.conditions if c.name in only]


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
        conditions.append(_condition(c, item, f"conditions[{i}]", seen, default_topics, default_qrels, default_tol))
    return Matrix(path, name, conditions)


def _condition(c: _Checker, item, key: str, seen: set[str], default_topics: str | None,
               default_qrels: str | None, default_tol: float) -> Condition:
    """One entry of ``conditions``; ``seen`` collects the names so far (a name is the run file's)."""
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
    metrics = [_metric(c, m, f"{key}.eval[{j}]", default_tol)
               for j, m in enumerate(c.items(cond["eval"], f"{key}.eval"))]
    published = _published(c, cond["published"], f"{key}.published", metrics) if "published" in cond else None
    display = c.string(cond["display"], f"{key}.display") if "display" in cond else cname
    return Condition(cname, display, command, topics, qrels, metrics, prepare, published)


def _metric(c: _Checker, value, key: str, default_tol: float) -> Metric:
    from .metrics import parse_measures

    m = c.mapping(value, key, METRIC_KEYS, ("metric", "expected"))
    metric = c.string(m["metric"], f"{key}.metric")
    try:
        expanded = parse_measures([metric])
    except InputError as e:
        raise c.fail(f"{key}.metric", str(e)) from None
    if expanded != [metric]:
        raise c.fail(f"{key}.metric", f"one measure per entry, found {metric!r}")
    return Metric(metric, c.number(m["expected"], f"{key}.expected"),
                  c.number(m["tolerance"], f"{key}.tolerance", 0) if "tolerance" in m else default_tol,
                  c.integer(m["relevance_level"], f"{key}.relevance_level") if "relevance_level" in m else 1)


def _published(c: _Checker, value, key: str, metrics: list[Metric]) -> Published:
    """A published figure is shown on its metric's row, so it must name one of the condition's eval metrics."""
    p = c.mapping(value, key, PUBLISHED_KEYS, ("source", "values"))
    source = c.string(p["source"], f"{key}.source")
    raw = p["values"]
    if not isinstance(raw, dict) or not raw:
        raise c.fail(f"{key}.values", f"expected a non-empty mapping of metric: score, found {_kind(raw)}")
    evaluated = [m.metric for m in metrics]
    values = {}
    for metric, score in raw.items():
        if metric not in evaluated:
            raise c.fail(f"{key}.values.{metric}", f"not one of this condition's eval metrics "
                                                   f"({', '.join(dict.fromkeys(evaluated))})")
        values[metric] = c.number(score, f"{key}.values.{metric}")
    return Published(source, values)


def _command(c: _Checker, value, key: str) -> str:
    command = c.string(value, key)
    try:
        tokens = shlex.split(command)
    except ValueError as e:
        raise c.fail(key, f"cannot split into arguments ({e})") from None
    if not tokens:
        raise c.fail(key, "empty command")
    return command
