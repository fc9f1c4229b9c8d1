"""Pyserini's own published command lines, pasted into Pyserini's CLI and into ours, each in a fresh process
(issue: Pyserini parity in practice): the same rankings, scores equal to 1e-5, the same trec_eval lines.

The lines are those of Pyserini's BEIR regressions (BM25 flat and multifield, dense search) and of its MS MARCO and
TREC DL 2CR pages (trec_eval, fusion), with ``--index`` pointed at our indexes. Pyserini cannot fetch its topic and
qrels files here (no network), so its side reads the files ``python -m pyserini_dr.data.export`` wrote; ours takes
the very same names too. The MS MARCO and DL runs are synthetic (there is no MS MARCO corpus here): deterministic
rankings of the judged and random passage ids of the real dev (top 100) and DL19 (top 1,000) queries.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from pyserini_dr.data.runs import read_ranked_run

from conftest import REPO, SCIFACT_TEST


@pytest.fixture(scope="module")
def exported(data_dir, tmp_path_factory):
    from pyserini_dr.data.export import export_dataset

    out = tmp_path_factory.mktemp("parity")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYSERINI_DR_DATA", str(data_dir))
        for name in (SCIFACT_TEST, "msmarco-passage-dev-subset", "dl19-passage"):
            export_dataset(name, str(out / name))
    return out


def synthetic_run(qrels_file, path, seed, tag, depth):
    """``depth`` hits a query: its judged passages at seeded ranks among random MS MARCO passage ids, scores
    falling."""
    rng = random.Random(seed)
    judged: dict[str, list[str]] = {}
    for line in open(qrels_file):
        qid, _, docid, _ = line.split()
        judged.setdefault(qid, []).append(docid)
    with open(path, "w") as f:
        for qid, docs in judged.items():
            hits = list(dict.fromkeys(docs[: rng.randint(0, len(docs))] +
                                      [str(rng.randrange(8_841_823)) for _ in range(depth)]))[:depth]
            rng.shuffle(hits)
            for rank, docid in enumerate(hits, 1):
                f.write(f"{qid} Q0 {docid} {rank} {depth - rank + rng.random():.6f} {tag}\n")
    return path


@pytest.fixture(scope="module")
def runs(exported, tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic-runs")
    made = {}
    # 100 hits for the 6,980 dev queries keeps the files small (the measures do not care); 1,000 for DL19's 43
    for name, depth in (("msmarco-passage-dev-subset", 100), ("dl19-passage", 1000)):
        qrels = exported / name / "qrels.txt"
        made[name] = [synthetic_run(qrels, out / f"{name}.{i}.txt", i, f"run{i}", depth) for i in (1, 2)]
    return made


def ours(module: str, *args, cwd) -> subprocess.CompletedProcess:
    """Our CLI in a fresh process, as a user of this checkout runs it."""
    env = dict(os.environ, PYTHONPATH=str(REPO), PYSERINI_DR_QUIET="1", HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


def same_ranking(theirs_file, ours_file, tol=1e-5):
    theirs, mine = read_ranked_run(theirs_file), read_ranked_run(ours_file)
    assert theirs.keys() == mine.keys()
    for qid, hits in theirs.items():
        assert [(d, r) for d, _, r in mine[qid]] == [(d, r) for d, _, r in hits], qid
        assert max(abs(a[1] - b[1]) for a, b in zip(mine[qid], hits)) <= tol, qid


def measure_lines(stdout: str) -> list[list[str]]:
    return sorted(line.split() for line in stdout.splitlines() if line.split()[1:2] == ["all"])


BEIR_BM25 = ["--threads", "2", "--batch-size", "128", "--output-format", "trec", "--hits", "1000", "--bm25",
             "--remove-query"]


@pytest.mark.parametrize("fixture, flags", [
    ("scifact_flat", BEIR_BM25),
    ("scifact_multifield", BEIR_BM25 + ["--fields", "contents=1.0", "title=1.0"]),
], ids=["beir-bm25-flat", "beir-bm25-multifield"])
def test_beir_bm25_regression_command(request, exported, mirror, pyserini_cli, tmp_path, fixture, flags):
    case = request.getfixturevalue(fixture)
    theirs, mine = tmp_path / "theirs.txt", tmp_path / "ours.txt"
    done = pyserini_cli("pyserini.search.lucene", "--index", case.index, "--topics",
                        exported / SCIFACT_TEST / "topics.tsv", "--output", theirs, *flags)
    assert done.returncode == 0, done.stderr[-2000:]
    done = ours("pyserini_dr.search.lucene", "--index", case.index, "--topics", SCIFACT_TEST, "--output", mine,
                *flags, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    same_ranking(theirs, mine)


def test_beir_dense_command(subset, pyserini_cli, tmp_path):
    """Pyserini's BEIR dense line (``--encoder-class auto ... --l2-norm``), with MiniLM's mean pooling."""
    flags = ["--index", subset.dense, "--topics", subset.cli_topics, "--encoder-class", "auto", "--encoder",
             subset.model, "--pooling", "mean", "--l2-norm", "--threads", "2", "--batch-size", "512",
             "--hits", "100", "--remove-query"]
    theirs, mine = tmp_path / "theirs.txt", tmp_path / "ours.txt"
    done = pyserini_cli("pyserini.search.faiss", *flags, "--output", theirs)
    assert done.returncode == 0, done.stderr[-2000:]
    done = ours("pyserini_dr.search.faiss", *flags, "--output", mine, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    same_ranking(theirs, mine)


@pytest.mark.parametrize("topics, flags", [
    (SCIFACT_TEST, ["-c", "-m", "ndcg_cut.10"]),
    (SCIFACT_TEST, ["-c", "-m", "recall.100"]),
    ("msmarco-passage-dev-subset", ["-c", "-M", "10", "-m", "recip_rank"]),
    ("msmarco-passage-dev-subset", ["-c", "-m", "recall.100"]),
    ("dl19-passage", ["-c", "-l", "2", "-m", "map"]),
    ("dl19-passage", ["-c", "-m", "ndcg_cut.10"]),
    ("dl19-passage", ["-c", "-l", "2", "-m", "recall.1000"]),
], ids=["beir-ndcg10", "beir-recall100", "msmarco-mrr10", "msmarco-recall100", "dl19-map", "dl19-ndcg10",
        "dl19-recall1000"])
def test_trec_eval_command(exported, runs, scifact_flat, pyserini_cli, tmp_path, topics, flags):
    qrels = exported / topics / "qrels.txt"
    run = scifact_flat.run_file if topics == SCIFACT_TEST else runs[topics][0]
    done = pyserini_cli("pyserini.eval.trec_eval", *flags, qrels, run)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = measure_lines(done.stdout)
    assert theirs
    done = ours("pyserini_dr.eval.trec_eval", *flags, qrels, run, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert measure_lines(done.stdout) == theirs


@pytest.mark.parametrize("topics, flags", [
    ("msmarco-passage-dev-subset", ["--method", "rrf", "--rrf.k", "60", "--k", "100", "--depth", "100"]),
    ("dl19-passage", ["--method", "interpolation", "--alpha", "0.5", "--depth", "1000", "--k", "1000"]),
], ids=["msmarco-rrf", "dl19-interpolation"])
def test_fusion_command(runs, pyserini_cli, tmp_path, topics, flags):
    theirs, mine = tmp_path / "theirs.txt", tmp_path / "ours.txt"
    done = pyserini_cli("pyserini.fusion", "--runs", *runs[topics], "--output", theirs, "--runtag", "fused", *flags)
    assert done.returncode == 0, done.stderr[-2000:]
    done = ours("pyserini_dr.fusion", "--runs", *runs[topics], "--output", mine, "--runtag", "fused", *flags,
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    same_ranking(theirs, mine)
