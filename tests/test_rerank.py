"""The cross-encoder (``pyserini_dr.rerank``): scoring, re-ranking, its command line and the ``cross-encoder`` recipe.

A TINY random BERT with a one-label classification head (hidden 32, 2 layers, dropout 0) over the WordPiece vocab,
corpus and training file of tests/test_train.py (its ``setup`` fixture). Every score is checked against
transformers itself: ``AutoModelForSequenceClassification`` over the tokenizer's pair encoding, one pair at a time
and unpadded, never through ``CrossEncoder``.
"""
from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import pytest
import torch

try:  # pytest puts tests/ on sys.path (no __init__.py): the module object test_train.py itself runs as
    from test_train import WORDS, read_log, setup, train_here  # noqa: F401  (setup: a fixture)
except ImportError:  # pragma: no cover
    from tests.test_train import WORDS, read_log, setup, train_here  # noqa: F401

from pyserini_dr.data.runs import read_run
from pyserini_dr.rerank import SETTINGS_FILE, CrossEncoder
from pyserini_dr.train.batches import GroupSampler
from pyserini_dr.train.examples import read_examples


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def ce_model(setup, tmp_path_factory) -> Path:
    """A saved BertForSequenceClassification (num_labels 1, dropout 0) with the tiny vocab: a real checkpoint whose
    head is stored, so every load computes the same function."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    path = tmp_path_factory.mktemp("tiny-ce") / "ce"
    tok = AutoTokenizer.from_pretrained(str(setup.model_nodrop))
    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, type_vocab_size=2, initializer_range=0.2,
                        pad_token_id=0, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_labels=1)
    torch.manual_seed(1)
    BertForSequenceClassification(config).save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


@functools.lru_cache(maxsize=None)
def _reference(model_dir: str):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    return (AutoModelForSequenceClassification.from_pretrained(model_dir).eval(),
            AutoTokenizer.from_pretrained(model_dir))


def ref_score(model_dir, query: str, title: str, text: str, max_length: int = 256) -> float:
    """transformers alone: one pair, unpadded; the passage is "title text", or the text alone without a title."""
    model, tok = _reference(str(model_dir))
    passage = f"{title} {text}" if title else text
    features = tok(query, passage, truncation=True, max_length=max_length, return_tensors="pt")
    with torch.no_grad():
        return float(model(**features).logits[0, 0])


def ref_rerank(model_dir, topics, run, corpus, depth):
    """qid -> [(docid, score)]: the top ``depth`` of each query with a topic, by score desc then docid."""
    out = {}
    for qid, hits in run.items():
        if qid in topics:
            scored = [(d, ref_score(model_dir, topics[qid], *corpus[d])) for d, _ in hits[:depth]]
            out[qid] = sorted(scored, key=lambda h: (-h[1], h[0]))
    return out


PAIRS = [("aspirin fever", ("pain dose", "adults children aspirin dose fever")),
         ("heart blood pressure", ("", "blood pressure heart stomach bleeding")),   # no title: the text alone
         ("insulin diabetes", ("diet sugar", "obesity exercise insulin")),
         ("vaccine", ("", "virus vaccine immune response infection")),
         ("sleep memory stress", ("brain", "anxiety depression therapy trial placebo"))]


# ==== 1. scores ==================================================================================================

def test_scores_equal_transformers_one_pair_at_a_time(ce_model):
    ce = CrossEncoder(ce_model)
    assert ce.max_length == 256  # no saved settings: the default
    queries, passages = [q for q, _ in PAIRS], [p for _, p in PAIRS]
    expected = [ref_score(ce_model, q, *p) for q, p in PAIRS]
    assert len({round(x, 4) for x in expected}) == len(expected)  # a model whose scores tell pairs apart
    for batch_size in (2, 256):  # padded batches, split or whole
        got = ce.score(queries, passages, batch_size=batch_size)
        assert got.dtype.name == "float32" and got.shape == (len(PAIRS),)
        assert got.tolist() == pytest.approx(expected, abs=1e-5)
    # an empty title is no title: exactly the text, not " text" or "[SEP]"-shifted
    q, (_, text) = PAIRS[1]
    assert float(ce.score([q], [("", text)])[0]) == pytest.approx(ref_score(ce_model, q, "", text), abs=1e-5)
    assert ce.features([q], [("", text)])["input_ids"][0].tolist() == \
        _reference(str(ce_model))[1](q, text)["input_ids"]
    assert ce.score([], []).shape == (0,)
    for mode in (True, False):  # score() runs in eval mode and leaves the mode it found
        ce.train(mode)
        ce.score(queries[:1], passages[:1])
        assert ce.training is mode and ce.model.training is mode


def test_max_length_truncates_longest_first_like_the_tokenizer(ce_model):
    tok = _reference(str(ce_model))[1]
    query = " ".join(WORDS[:3])                               # 3 tokens
    passages = [("cancer tumor", " ".join(WORDS[10:40])),     # 32 tokens: only the passage is cut
                ("", "gene protein")]                         # short: nothing is cut
    ce = CrossEncoder(ce_model, max_length=14)
    features = ce.features([query] * 2, passages)
    for i, (title, text) in enumerate(passages):
        passage = f"{title} {text}" if title else text
        expected = tok(query, passage, truncation="longest_first", max_length=14)["input_ids"]
        row = features["input_ids"][i][features["attention_mask"][i].bool()].tolist()
        assert row == expected
        assert ce.score([query], [(title, text)])[0] == \
            pytest.approx(ref_score(ce_model, query, title, text, max_length=14), abs=1e-5)
    first = features["input_ids"][0].tolist()
    assert len(first) == 14 and first[1:5] == tok(query)["input_ids"][1:]  # the 3 query tokens and [SEP] kept
    # a long query (20) and a long passage (24): both are cut (longest first) to 11 content tokens in all
    long_q = " ".join(WORDS[:20])
    row = ce.features([long_q], [("", " ".join(WORDS[20:44]))])["input_ids"][0].tolist()
    assert row == tok(long_q, " ".join(WORDS[20:44]), truncation=True, max_length=14)["input_ids"]
    first_sep = row.index(tok.sep_token_id)
    assert len(row) == 14 and {first_sep - 1, len(row) - first_sep - 2} == {5, 6}


def test_save_round_trip_keeps_max_length_and_loads_in_transformers(ce_model, tmp_path):
    from transformers import AutoModelForSequenceClassification

    ce = CrossEncoder(ce_model, max_length=14)
    ce.save(str(tmp_path / "saved"))
    assert json.loads((tmp_path / "saved" / SETTINGS_FILE).read_text()) == {"max_length": 14}
    assert not (tmp_path / "saved.saving").exists()
    again = CrossEncoder(tmp_path / "saved")
    assert again.max_length == 14
    assert CrossEncoder(tmp_path / "saved", max_length=20).max_length == 20  # the argument wins
    q, p = PAIRS[0]
    assert float(again.score([q], [p])[0]) == pytest.approx(ref_score(tmp_path / "saved", q, *p, max_length=14),
                                                           abs=1e-5)
    assert float(again.score([q], [p])[0]) == pytest.approx(ref_score(ce_model, q, *p), abs=1e-5)
    assert AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "saved")).config.num_labels == 1


# ==== 2. rerank ==================================================================================================

def _rerank_inputs(setup):
    corpus = dict(setup.corpus)
    corpus["dup"] = corpus["d05"]  # the same passage under another id: a tie, broken by docid ("d05" < "dup")
    topics = {"qa": "aspirin fever pain", "qb": "heart blood pressure"}
    ids = sorted(setup.corpus)
    run = {"qa": [("dup", 9.0)] + [(d, 8.0 - i) for i, d in enumerate(ids[:3])] + [("d05", 1.0), ("d30", 0.5)],
           "qz": [("d07", 3.0), ("d08", 2.0)],          # no topic: dropped
           "qb": [(d, 5.0 - i) for i, d in enumerate(ids[10:13])]}  # fewer hits than the depth
    return topics, run, corpus


def test_rerank_sorts_the_top_depth_by_score_and_drops_unknown_queries(setup, ce_model):
    topics, run, corpus = _rerank_inputs(setup)
    depth = 5
    expected = ref_rerank(ce_model, topics, run, corpus, depth)
    got = CrossEncoder(ce_model).rerank(topics, run, corpus, depth=depth, batch_size=3)
    assert list(got) == ["qa", "qb"]  # run order; qz has no topic
    for qid in got:
        assert [d for d, _ in got[qid]] == [d for d, _ in expected[qid]]
        assert [s for _, s in got[qid]] == pytest.approx([s for _, s in expected[qid]], abs=1e-5)
    assert {d for d, _ in got["qa"]} == {d for d, _ in run["qa"][:depth]}  # d30 (beyond the depth) is left out
    assert len(got["qb"]) == 3
    # the tie: equal scores, the smaller docid first although the run had "dup" on top
    scores = dict(got["qa"])
    assert scores["dup"] == scores["d05"]
    order = [d for d, _ in got["qa"]]
    assert order.index("d05") == order.index("dup") - 1
    assert order != [d for d, _ in run["qa"][:depth]]  # the scores did re-order something


# ==== 3. the command line ========================================================================================

def _cli_inputs(setup, tmp_path):
    topics = tmp_path / "topics.tsv"
    topics.write_text("qa\taspirin fever pain\nqb\theart blood pressure\n", encoding="utf-8")
    ids = sorted(setup.corpus)
    rows = {"qb": ids[10:15], "qa": ids[:5]}  # a query missing from the topics is refused (test_cli_errors)
    run = tmp_path / "bm25.trec"
    run.write_text("".join(f"{q} Q0 {d} {r} {20 - r}.25 bm25\n" for q, docs in rows.items()
                           for r, d in enumerate(docs, 1)))
    return topics, run


def test_cli_writes_the_cross_encoder_run(setup, ce_model, cli, tmp_path):
    topics, run = _cli_inputs(setup, tmp_path)
    out = tmp_path / "reranked.trec"
    done = cli("pyserini_dr.rerank", "--model", ce_model, "--topics", topics, "--run", run, "--corpus",
               setup.corpus_file, "--output", out, "--hits", 3, "--batch-size", 2, "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert "re-ranked 2 queries (6 pairs)" in done.stderr
    expected = ref_rerank(ce_model, {"qa": "aspirin fever pain", "qb": "heart blood pressure"}, read_run(run),
                          setup.corpus, 3)
    lines = [x.split() for x in out.read_text().splitlines()]
    assert [(c[0], c[1], c[2], c[3], c[5]) for c in lines] == \
        [(q, "Q0", d, str(r), "pyserini-dr-rerank") for q in ("qb", "qa")
         for r, (d, _) in enumerate(expected[q], 1)]
    assert [float(c[4]) for c in lines] == \
        pytest.approx([s for q in ("qb", "qa") for _, s in expected[q]], abs=2e-6)


def test_cli_errors(setup, ce_model, cli, tmp_path):
    topics, run = _cli_inputs(setup, tmp_path)
    out = tmp_path / "out.trec"
    common = ("--model", ce_model, "--corpus", setup.corpus_file, "--output", out, "--device", "cpu")

    bad = tmp_path / "unknown-doc.trec"
    bad.write_text("qa Q0 d01 1 3.0 bm25\nqa Q0 nope 2 2.0 bm25\n")
    line = cli("pyserini_dr.rerank", *common, "--topics", topics, "--run", bad).error_line()
    assert "'nope'" in line and str(bad) in line and "not in the corpus" in line

    line = cli("pyserini_dr.rerank", *common, "--topics", topics, "--run", run, "--hits", 0).error_line()
    assert "--hits" in line

    strangers = tmp_path / "strangers.trec"
    strangers.write_text("q7 Q0 d01 1 3.0 bm25\nq8 Q0 d02 1 2.0 bm25\n")
    line = cli("pyserini_dr.rerank", *common, "--topics", topics, "--run", strangers).error_line()
    assert line == f"error: 2 queries of {strangers} are not in {topics} (first: q7): give the run's own topics"
    one_stranger = tmp_path / "one-stranger.trec"  # its pairs would be dropped without a word
    one_stranger.write_text(run.read_text() + "qz Q0 d01 1 3.0 bm25\n")
    line = cli("pyserini_dr.rerank", *common, "--topics", topics, "--run", one_stranger).error_line()
    assert line == f"error: 1 queries of {one_stranger} are not in {topics} (first: qz): give the run's own topics"
    assert not out.exists()


# ==== 4 and 5. the cross-encoder recipe ==========================================================================

def ce_train_argv(setup, ce_model, out, *extra) -> list[str]:
    return ["--recipe", "cross-encoder", "--model", str(ce_model), "--train-data", str(setup.train),
            "--corpus", str(setup.corpus_file), "--output", str(out), "--device", "cpu", "--batch-size", "4",
            "--negatives", "2", "--max-steps", "2", "--log-every", "1", "--lr", "1e-3", "--warmup-ratio", "0",
            "--seed", "42", *map(str, extra)]


@pytest.fixture(scope="module")
def trained(setup, ce_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("ce-train") / "out"
    argv = ce_train_argv(setup, ce_model, out)
    train_here(argv)
    return out, argv


def test_first_loss_is_cross_entropy_over_each_group(setup, ce_model, trained):
    out, _ = trained
    records, summary = read_log(out)
    assert [r["step"] for r in records] == [1, 2] and summary["steps"] == 2
    sampler = GroupSampler(read_examples(setup.train), list(setup.corpus), negatives=2, batch_size=4, seed=42)
    groups = sampler.batch(0, 0)
    assert len(groups) == 4 and all(len(g.negatives) == 2 for g in groups)
    per_group = []
    for g in groups:
        s = [ref_score(ce_model, g.query, *setup.corpus[d]) for d in [g.positive, *g.negatives]]
        per_group.append(math.log(sum(math.exp(x) for x in s)) - s[0])  # target: the positive, index 0
    assert records[0]["loss"] == pytest.approx(sum(per_group) / 4, abs=1e-5)
    assert records[1]["loss"] != pytest.approx(records[0]["loss"], abs=1e-6)  # another batch, a moved model


def test_trained_model_loads_with_cross_encoder_and_transformers(setup, ce_model, trained):
    from transformers import AutoModelForSequenceClassification

    model = trained[0] / "model"
    assert AutoModelForSequenceClassification.from_pretrained(str(model)).config.num_labels == 1
    ce = CrossEncoder(model)
    queries, passages = [q for q, _ in PAIRS], [p for _, p in PAIRS]
    got = ce.score(queries, passages).tolist()
    assert got == pytest.approx([ref_score(model, q, *p) for q, p in PAIRS], abs=1e-5)
    start = [ref_score(ce_model, q, *p) for q, p in PAIRS]
    assert max(abs(a - b) for a, b in zip(got, start)) > 1e-3  # two steps at lr 1e-3 changed the function


def test_rerunning_a_finished_cross_encoder_run_resumes(trained, capsys):
    from safetensors.torch import load_file

    out, argv = trained
    before = load_file(str(out / "model" / "model.safetensors"))
    capsys.readouterr()
    train_here(argv)
    assert "resumed from step 2 of 2" in capsys.readouterr().err
    records, summary = read_log(out)  # asserts one summary line, the last
    assert [r["step"] for r in records] == [1, 2] and summary["steps"] == 2
    after = load_file(str(out / "model" / "model.safetensors"))
    assert sorted(before) == sorted(after) and all(torch.equal(before[k], after[k]) for k in before)


def test_recipe_refuses_dev_data_and_grad_cache(setup, ce_model, cli, tmp_path):
    out = tmp_path / "out"
    line = cli("pyserini_dr.train", *ce_train_argv(setup, ce_model, out, "--dev-data", setup.train)).error_line()
    assert "--dev-data" in line
    line = cli("pyserini_dr.train", *ce_train_argv(setup, ce_model, out, "--grad-cache-chunk", 2)).error_line()
    assert "--grad-cache-chunk" in line and "cross-encoder" in line
    assert not out.exists()


def test_recipe_refuses_groups_without_negatives(setup, ce_model, cli, tmp_path):
    argv = ce_train_argv(setup, ce_model, tmp_path / "out")
    argv[argv.index("--negatives") + 1] = "0"
    assert cli("pyserini_dr.train", *argv).error_line() == (
        "error: the cross-encoder recipe needs --negatives >= 1 (a group of one passage has no loss)")


def test_a_new_classifier_head_starts_from_the_seed(setup, tmp_path):
    """Starting from a checkpoint without a head (a bi-encoder), --seed fixes the new head: the same command twice
    gives the same first loss."""
    firsts = []
    for name in ("a", "b"):
        out = tmp_path / name
        argv = ce_train_argv(setup, setup.model_nodrop, out)
        argv[argv.index("--max-steps") + 1] = "1"
        train_here(argv)
        firsts.append(read_log(out)[0][0]["loss"])
    assert firsts[0] == firsts[1]


def test_cli_scores_every_pair_of_a_training_file(setup, ce_model, cli, tmp_path):
    """--train-data: the teacher-scores file of the distillation recipes, every (query, positive | negative) pair."""
    out = tmp_path / "teacher.txt"
    done = cli("pyserini_dr.rerank", "--model", ce_model, "--train-data", setup.train, "--corpus", setup.corpus_file,
               "--output", out)
    assert done.returncode == 0, done.stderr
    run = read_run(out)
    examples = read_examples(setup.train)
    assert {q: sorted(d for d, _ in hits) for q, hits in run.items()} == \
        {e.query_id: sorted(set(e.positives + e.negatives)) for e in examples}
    e = examples[2]
    got = dict(run[e.query_id])
    for d in e.positives + e.negatives[:2]:
        assert got[d] == pytest.approx(ref_score(str(ce_model), e.query, *setup.corpus[d]), abs=2e-6)
    assert cli("pyserini_dr.rerank", "--model", ce_model, "--run", out, "--corpus", setup.corpus_file,
               "--output", tmp_path / "x").error_line() == "error: --run needs --topics"
