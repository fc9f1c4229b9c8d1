"""Pyserini's flags (issue 19): every flag of its search, index, encode, fusion and trec_eval commands is taken with
Pyserini's meaning or refused with one line naming it, and docs/pyserini_flags.md says which, for Pyserini as it is
installed now (an upgrade that adds a flag makes the table stale, or shows an ``unknown`` row)."""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

from pyserini_dr.cli import run_main

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("pyserini_flags_script", ROOT / "scripts" / "pyserini_flags.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module   # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


SCRIPT = _script()
PYSERINI = SCRIPT.pyserini_commands()   # Pyserini's flags, read once (two JVM starts)


def test_the_table_is_current_and_has_no_unknown_row():
    text = SCRIPT.render()
    assert "| unknown |" not in text, [line for line in text.splitlines() if "| unknown |" in line]
    assert (ROOT / "docs" / "pyserini_flags.md").read_text() == text, \
        "docs/pyserini_flags.md is stale: run python scripts/pyserini_flags.py"


def test_every_command_and_the_flags_everyone_pastes_are_read():
    assert set(PYSERINI) == set(SCRIPT.our_parsers())
    names = {command: {f.name for f in flags} for command, flags in PYSERINI.items()}
    assert {"--bm25", "--k1", "--b", "--batch-size", "--threads", "--remove-query"} <= names["search.lucene"]
    assert {"--encoder-class", "--pooling", "--l2-norm", "--encoded-queries"} <= names["search.faiss"]
    assert {"--collection", "--generator", "--input", "--storeRaw", "--fields"} <= names["index.lucene"]
    assert {"-c", "-q", "-m", "-M", "-remove-unjudged"} <= names["eval.trec_eval"]
    assert {"--embeddings", "--to-faiss"} == names["encode output"]


# ---- every refused flag: one error line naming it, exit 2 -----------------------------------------------------

MODULES = {"search.lucene": "pyserini_dr.search.lucene.__main__", "search.faiss": "pyserini_dr.search.faiss.__main__",
           "search.hybrid": "pyserini_dr.search.hybrid.__main__", "index.lucene": "pyserini_dr.index.lucene.__main__",
           "encode": "pyserini_dr.encode.__main__", "fusion": "pyserini_dr.fusion",
           "eval.trec_eval": "pyserini_dr.eval.trec_eval"}
SECTIONS = {"search.hybrid": {"dense": ["--index", "d"], "sparse": ["--index", "s"], "fusion": [],
                              "run": ["--topics", "t", "--output", "o"]},
            "encode": {"input": ["--corpus", "c"], "output": ["--embeddings", "o", "--to-faiss"],
                       "encoder": ["--encoder", "m"]}}


def argv_with(command: str, flag) -> tuple[str, list[str]]:
    """(module, a command line whose first option in its section is ``flag`` with an unsupported value)."""
    given = [flag.name] + (["pyserini-dr-test"] if flag.takes_value else [])
    base, _, section = command.partition(" ")
    if not section:
        return MODULES[base], given
    parts = {name: (given if name == section else []) + args for name, args in SECTIONS[base].items()}
    return MODULES[base], [word for name, args in parts.items() for word in (name, *args)]


def _refusals():
    ours = SCRIPT.our_parsers()
    cases = []
    for command, flags in PYSERINI.items():
        for flag in flags:
            _, _, status, note = SCRIPT.row(command, flag, ours[command])
            if status.startswith("refused") or "another value is refused" in note:
                cases.append(pytest.param(command, flag, id=f"{command}:{flag.name}"))
    return cases


@pytest.mark.parametrize("command, flag", _refusals())
def test_a_refused_flag_is_one_line_naming_it(command, flag, capsys):
    module, argv = argv_with(command, flag)
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit) as done:
        run_main(main, argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {flag.name}: unsupported Pyserini flag ("), err


@pytest.mark.parametrize("argv, flag", [
    (["-whitelist", "w.txt", "-input", "c", "-index", "i"], "-whitelist"),           # Anserini's single-dash spelling
    (["-collection", "TrecCollection", "-input", "c", "-index", "i"], "--collection"),
    (["-collection", "BeirMultifieldCollection", "-input", "c", "-index", "i"], "--collection"),
    (["--fields", "title", "url", "--input", "c", "--index", "i"], "--fields"),  # only the title field
])
def test_index_lucene_refuses_anserini_spellings_too(argv, flag, capsys):
    from pyserini_dr.index.lucene.__main__ import main

    with pytest.raises(SystemExit) as done:
        run_main(main, argv)
    assert done.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: {flag}: unsupported Pyserini flag (")


# ---- accepted flags mean what Pyserini's mean ----------------------------------------------------------------

def _runs(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("1 Q0 d1 1 3.0 a\n1 Q0 d2 2 2.0 a\n1 Q0 d3 3 1.0 a\n2 Q0 d4 1 1.5 a\n2 Q0 d5 2 0.5 a\n")
    b.write_text("1 Q0 d3 1 9.0 b\n1 Q0 d1 2 8.0 b\n2 Q0 d5 1 7.0 b\n2 Q0 d6 2 6.0 b\n")
    return str(a), str(b)


def test_fusion_takes_pyserinis_k_and_runtag(tmp_path):
    from pyserini_dr.fusion import main

    a, b = _runs(tmp_path)
    theirs, ours = tmp_path / "theirs.txt", tmp_path / "ours.txt"
    assert main(["--runs", a, b, "--output", str(theirs), "--k", "2", "--runtag", "t", "--rrf.k", "10"]) == 0
    assert main(["--runs", a, b, "--output", str(ours), "--hits", "2", "--run-tag", "t", "--rrf-k", "10"]) == 0
    assert theirs.read_text() == ours.read_text()
    assert len(theirs.read_text().splitlines()) == 4


def test_trec_eval_judged_and_remove_unjudged(tmp_path, capsys):
    from pyserini_dr.eval.trec_eval import main

    qrels, run = tmp_path / "qrels.txt", tmp_path / "run.txt"
    qrels.write_text("1 0 d1 1\n1 0 d2 0\n2 0 d3 1\n")
    run.write_text("1 Q0 d1 1 3.0 r\n1 Q0 d5 2 2.0 r\n1 Q0 d2 3 1.0 r\n2 Q0 d4 1 1.5 r\n2 Q0 d3 2 0.5 r\n")
    assert main(["-m", "judged.1,2", "-m", "P.2", str(qrels), str(run)]) == 0
    # pooled, as Pyserini computes it: top 1 {d1, d4} -> 1 of 2 judged; top 2 {d1, d5, d4, d3} -> 2 of 4
    assert capsys.readouterr().out.split("\n") == [f"{'P_2':<22}\tall\t0.5000", f"{'judged_1':<22}\tall\t0.5000",
                                                   f"{'judged_2':<22}\tall\t0.5000", ""]
    assert main(["-remove-unjudged", "-m", "judged.2", "-m", "P.2", str(qrels), str(run)]) == 0
    # unjudged d5 and d4 dropped first: q1 d1 d2 (one relevant), q2 d3
    assert capsys.readouterr().out.split("\n") == [f"{'P_2':<22}\tall\t0.5000", f"{'judged_2':<22}\tall\t1.0000", ""]


def test_encode_takes_pyserinis_sections():
    from pyserini_dr.encode.__main__ import build_parser
    from pyserini_dr.encode.options import parse_pyserini_sections

    theirs = parse_pyserini_sections(
        ["input", "--corpus", "c.jsonl", "--fields", "title", "text", "--shard-id", "1", "--shard-num", "4",
         "output", "--embeddings", "out", "--to-faiss",
         "encoder", "--encoder", "m", "--fields", "title", "text", "--batch-size", "64", "--max-length", "128",
         "--prefix", "passage: ", "--pooling", "mean", "--l2-norm", "--dimension", "384", "--device", "cpu"],
        build_parser())
    ours = build_parser().parse_args(["--corpus", "c.jsonl", "--output", "out", "--encoder", "m", "--shard-id", "1",
                                      "--shard-num", "4", "--max-length", "128", "--passage-prefix", "passage: ",
                                      "--pooling", "mean", "--l2-norm", "--device", "cpu"])
    assert {k: v for k, v in vars(theirs).items() if k not in ("to_faiss", "pyserini_text_only", "pyserini_sections")} \
        == vars(ours)
    assert ours.passage_prefix == "passage:  "   # Pyserini's f"{prefix} {text}"


def test_encode_shards_split_as_pyserinis():
    from pyserini_dr.encode.corpus import shard_range

    # JsonlCollectionIterator: shards of total // shard_num documents, the last one takes the rest
    assert [shard_range(11, i, 3) for i in range(3)] == [(0, 3), (3, 6), (6, 11)]


def test_search_flags_pyserini_gives(tmp_path):
    from pyserini_dr.data.runs import remove_duplicates
    from pyserini_dr.search.lucene.__main__ import build_parser
    from pyserini_dr.search.lucene.options import BM25Options, bm25_parameters

    assert remove_duplicates({"q": [("d1", 3.0), ("d2", 2.0), ("d1", 1.0)]}) == {"q": [("d1", 3.0), ("d2", 2.0)]}
    # Pyserini's set_bm25_parameters: MS MARCO's tuned values by prebuilt name when neither flag is given
    assert bm25_parameters(BM25Options("msmarco-v1-passage")) == (0.82, 0.68)
    assert bm25_parameters(BM25Options("msmarco-v1-passage", k1=1.2)) == (1.2, 0.4)
    assert bm25_parameters(BM25Options("beir-v1.0.0-scifact.flat")) == (0.9, 0.4)
    base = ["--index", "i", "--topics", "t", "--output", "o"]
    pasted = build_parser().parse_args(base + ["--language", "en", "--topics-format", "default", "--max-length", "64"])
    assert vars(pasted) == vars(build_parser().parse_args(base))


def test_index_lucene_takes_anserinis_flags(tmp_path):
    from pyserini_dr.index.lucene.__main__ import build_parser

    folder = tmp_path / "collection"
    folder.mkdir()
    (folder / "docs.jsonl").write_text('{"id": "d1", "contents": "a"}\n')
    theirs = build_parser().parse_args(
        ["--collection", "JsonCollection", "--input", str(folder), "--index", "i", "--generator",
         "DefaultLuceneDocumentGenerator", "--threads", "2", "--storePositions", "--storeDocvectors", "--storeRaw",
         "-memoryBuffer", "512", "-fields", "title", "-optimize"])
    assert (theirs.input, theirs.index, theirs.threads, theirs.fields, theirs.optimize) == \
        (str(folder), "i", 2, ["title"], True)
    from pyserini_dr.data.registry import resolve_corpus

    assert resolve_corpus(str(folder)) == str(folder)  # a JsonCollection folder is read whole (data.corpus)


def test_encode_refuses_pyserinis_text_only_default_on_a_corpus_with_titles(tmp_path, capsys):
    from pyserini_dr.encode.__main__ import main

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "d1", "title": "A title", "text": "a text"}\n')
    with pytest.raises(SystemExit) as done:
        run_main(main, ["input", "--corpus", str(corpus), "output", "--embeddings", str(tmp_path / "o"), "--to-faiss",
                        "encoder", "--encoder", "m"])
    assert done.value.code == 2
    assert capsys.readouterr().err.startswith("error: --fields: Pyserini's default (text alone)")
    assert not (tmp_path / "o").exists()


def test_max_passage_as_pyserinis_output_writer():
    from pyserini_dr.data.runs import max_passage

    # OutputWriter.hits_iterator: the docid up to the delimiter; a document's first (best) passage; max_passage_hits
    run = {"q": [("d1#0", 3.0), ("d2#1", 2.5), ("d1#3", 2.0), ("d3#0", 1.0)]}
    assert max_passage(run, "#", 100) == {"q": [("d1", 3.0), ("d2", 2.5), ("d3", 1.0)]}
    assert max_passage(run, "#", 2) == {"q": [("d1", 3.0), ("d2", 2.5)]}
    assert max_passage({"q": [("d1-a", 2.0), ("d1-b", 1.0)]}, "-", 100) == {"q": [("d1", 2.0)]}


def test_normalize_distances_as_pyserinis_faiss_searcher():
    import numpy as np

    from pyserini_dr.data.runs import unit_interval

    scores = np.array([0.17278, -0.3, 0.9999999], dtype=np.float32)
    expected = (1.0 + scores) / 2.0   # FaissSearcher._normalize_to_unit_interval, on faiss's float32 scores
    got = unit_interval({"q": [(f"d{i}", float(s)) for i, s in enumerate(scores)]})
    assert [s for _, s in got["q"]] == [float(v) for v in expected]
