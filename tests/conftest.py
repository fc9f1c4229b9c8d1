"""Shared fixtures: the data mirror, an isolated cache, CLI subprocesses and the session's Lucene indexes/runs.

Tests are offline. Larger checks read the data mirror ($PYSERINI_DR_DATA, else ../shared/data next to the repo)
and skip when it is absent. The Lucene fixtures (SciFact flat and multifield, Cranfield flat, their BM25 runs) are
built once per session, in-process, and shared: the JVM starts once.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# read once, before any fixture touches the environment
_DATA_ENV = os.environ.get("PYSERINI_DR_DATA")

SCIFACT = "beir-v1.0.0-scifact"
SCIFACT_TEST = f"{SCIFACT}-test"


def pytest_configure(config):
    # trectools 0.0.50 calls DataFrame.sort_values(inplace=True), deprecated by pandas: noise, not our code
    config.addinivalue_line("filterwarnings", "ignore:The inplace keyword in DataFrame.sort_values is deprecated")


# ---- data mirror and cache --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The data mirror; the test is skipped when it is absent."""
    path = Path(_DATA_ENV) if _DATA_ENV else DEFAULT_DATA
    if not path.is_dir():
        pytest.skip(f"data mirror absent: set PYSERINI_DR_DATA to a directory laid out like ../shared/data "
                    f"(looked at {path})")
    return path.resolve()


@pytest.fixture
def mirror(data_dir, monkeypatch) -> Path:
    """The data mirror, with PYSERINI_DR_DATA pointing at it for this test."""
    monkeypatch.setenv("PYSERINI_DR_DATA", str(data_dir))
    return data_dir


def need(data_dir: Path, *relpaths: str) -> None:
    missing = [p for p in relpaths if not (data_dir / p).is_file()]
    if missing:
        pytest.skip(f"data mirror absent: {data_dir} lacks {', '.join(missing)} (set PYSERINI_DR_DATA)")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch) -> Path:
    """No test touches ~/.cache or sees a mirror it did not ask for; progress bars are off."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("PYSERINI_DR_CACHE", str(cache))
    monkeypatch.delenv("PYSERINI_DR_DATA", raising=False)
    monkeypatch.setenv("PYSERINI_DR_QUIET", "1")
    return cache


@pytest.fixture
def cache_root() -> Path:
    return Path(os.environ["PYSERINI_DR_CACHE"])


# ---- command-line subprocesses ----------------------------------------------------------------------------------

@dataclass
class CliResult:
    args: list
    returncode: int
    stdout: str
    stderr: str

    def error_line(self) -> str:
        """Assert the one-line error contract (exit 2, one 'error:' line, no traceback) and return the line."""
        assert "Traceback" not in self.stderr and "Traceback" not in self.stdout, self.stderr
        assert self.returncode == 2, (self.returncode, self.stderr)
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith("error: "), self.stderr
        return lines[0]


@pytest.fixture
def cli(tmp_path):
    """Run ``python -m MODULE ARGS`` from tmp_path with the current (isolated) environment."""
    def run(module: str, *args, env: dict | None = None, cwd=None, timeout: float = 120) -> CliResult:
        environ = dict(os.environ)
        environ["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([environ["PYTHONPATH"]]
                                                                if environ.get("PYTHONPATH") else []))
        environ.update(env or {})
        cmd = [sys.executable, "-m", module, *map(str, args)]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd or tmp_path, env=environ, timeout=timeout)
        return CliResult(cmd, done.returncode, done.stdout, done.stderr)
    return run


@pytest.fixture
def pyserini_cli(tmp_path):
    """Run one of Pyserini's own commands (``python -m pyserini....``) in a fresh process, as a user of this
    environment would: no JAVA_HOME, no OPENAI_API_KEY, the system's Java first on PATH. Only the start-up hook that
    the package installs (pyserini_dr_java.pth) prepares Java."""
    def run(module: str, *args, timeout: float = 300) -> CliResult:
        environ = {k: v for k, v in os.environ.items()
                   if k not in ("JAVA_HOME", "OPENAI_API_KEY", "PYTHONPATH", "PYSERINI_DR_NO_JAVA_SETUP")}
        environ["PATH"] = "/usr/bin" + os.pathsep + environ.get("PATH", "")
        cmd = [sys.executable, "-m", module, *map(str, args)]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=environ, timeout=timeout)
        return CliResult(cmd, done.returncode, done.stdout, done.stderr)
    return run


# ---- session-wide Lucene indexes and BM25 runs ------------------------------------------------------------------

@dataclass
class Bm25Case:
    index: Path
    stats: object          # CorpusStats from the build
    run: dict              # qid -> [(docid, score)]
    run_file: Path         # TREC run written with write_run
    qrels: dict
    qrels_file: Path       # TREC qrels written with write_trec_qrels (for Anserini's trec_eval)
    topics: dict


def _bm25_case(data_dir: Path, workdir: Path, corpus_name: str, topics_name: str, *, multifield: bool,
               fields: dict | None, remove_query: bool) -> Bm25Case:
    from pyserini_dr.data import read_qrels, resolve_corpus, resolve_qrels, resolve_topics, write_run, \
        write_trec_qrels
    from pyserini_dr.index.lucene import LuceneIndexBuilder
    from pyserini_dr.search.lucene import BM25Searcher

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYSERINI_DR_DATA", str(data_dir))
        mp.setenv("PYSERINI_DR_CACHE", str(workdir / "cache"))
        mp.setenv("PYSERINI_DR_QUIET", "1")
        index = workdir / "index"
        stats = LuceneIndexBuilder(multifield=multifield).build(resolve_corpus(corpus_name), str(index))
        topics = resolve_topics(topics_name)
        qrels = read_qrels(resolve_qrels(topics_name))
        run = BM25Searcher(str(index), k1=0.9, b=0.4, fields=fields).batch_search(
            topics, hits=1000, remove_query=remove_query)
        run_file, qrels_file = workdir / "run.trec", workdir / "qrels.trec"
        write_run(run, run_file)
        write_trec_qrels(qrels, qrels_file)
    return Bm25Case(index, stats, run, run_file, qrels, qrels_file, topics)


@pytest.fixture(scope="session")
def scifact_flat(data_dir, tmp_path_factory) -> Bm25Case:
    need(data_dir, "scifact/corpus.jsonl", "scifact/queries.jsonl", "scifact/qrels/test.tsv")
    return _bm25_case(data_dir, tmp_path_factory.mktemp("scifact-flat"), SCIFACT, SCIFACT_TEST,
                      multifield=False, fields=None, remove_query=True)


@pytest.fixture(scope="session")
def scifact_multifield(data_dir, tmp_path_factory) -> Bm25Case:
    need(data_dir, "scifact/corpus.jsonl", "scifact/queries.jsonl", "scifact/qrels/test.tsv")
    return _bm25_case(data_dir, tmp_path_factory.mktemp("scifact-multifield"), SCIFACT, SCIFACT_TEST,
                      multifield=True, fields={"contents": 1.0, "title": 1.0}, remove_query=True)


@pytest.fixture(scope="session")
def cranfield_flat(data_dir, tmp_path_factory) -> Bm25Case:
    need(data_dir, "cranfield/corpus.jsonl", "cranfield/queries.jsonl", "cranfield/qrels/test.tsv")
    # Cranfield query ids (1..225) and document ids (1..1400) overlap: no --remove-query here
    return _bm25_case(data_dir, tmp_path_factory.mktemp("cranfield-flat"), "cranfield", "cranfield",
                      multifield=False, fields=None, remove_query=False)
