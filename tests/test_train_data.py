"""Training data (``pyserini_dr.train``): the false-negative mask and the group sampler, negatives from a ranking,
training examples, the dev split, unseen queries and the negatives command line (split from tests/test_train.py)."""
from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace

import pytest

from pyserini_dr.errors import InputError
from pyserini_dr.train.batches import Group, GroupSampler, false_negative_mask
from pyserini_dr.train.examples import (TrainExample, build_examples, read_examples, split_dev, unseen_queries,
                                        write_examples)
from pyserini_dr.train.negatives import mine_run, negatives_from_ranking


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


# ==== 2. false-negative mask and the group sampler ===============================================================

def test_false_negative_mask_by_hand():
    groups = [Group("q0", "", "a", ["b"]), Group("q1", "", "b", ["c"]), Group("q2", "", "c", ["a"])]
    positives = {"q0": {"a", "b"}, "q1": {"b"}, "q2": {"c", "a"}}
    # passage columns: a b | b c | c a (each group: positive, negative)
    T, F = True, False
    expected = [[F, T, T, F, F, T],   # q0: its own target a stays; b (twice) and the last a are relevant
                [F, T, F, F, F, F],   # q1: q0's hard negative b is q1's positive; its own target b (col 2) stays
                [T, F, F, T, F, T]]   # q2: a and the other c are relevant; target c (col 4) stays
    assert false_negative_mask(groups, positives, "cpu").tolist() == expected
    expected = [[F, T, T, T, T, T],   # without in-batch negatives every other group's column is masked too
                [T, T, F, F, T, T],
                [T, T, T, T, F, T]]
    assert false_negative_mask(groups, positives, "cpu", in_batch=False).tolist() == expected


def _sampler_examples(n: int = 10) -> tuple[list[TrainExample], list[str]]:
    corpus = [f"d{i}" for i in range(30)]
    examples = [TrainExample(f"q{i}", f"query {i}", [f"d{i}", f"d{i + 10}"],
                             [f"d{(i + k) % 30}" for k in (3, 5, 7, 9, 11)]) for i in range(n)]
    return examples, corpus


def test_group_sampler_is_a_function_of_seed_and_epoch():
    examples, corpus = _sampler_examples()
    a = GroupSampler(examples, corpus, negatives=3, batch_size=4, seed=11)
    b = GroupSampler(examples, corpus, negatives=3, batch_size=4, seed=11)
    assert a.batches_per_epoch() == 2  # 10 // 4: the partial batch is dropped
    keys = [(e, i) for e in range(3) for i in range(2)]
    forward = {k: a.batch(*k) for k in keys}
    backward = {k: b.batch(*k) for k in reversed(keys)}
    assert forward == backward
    assert a.batch(1, 0) == forward[(1, 0)]  # asking again changes nothing
    for e in range(3):  # an epoch's batches are distinct queries
        ids = [g.query_id for i in range(2) for g in forward[(e, i)]]
        assert len(set(ids)) == 8
    assert len({tuple(g.query_id for g in forward[(e, 0)]) for e in range(3)}) > 1  # epochs reshuffle
    other = GroupSampler(examples, corpus, negatives=3, batch_size=4, seed=12)
    assert [other.batch(*k) for k in keys] != [forward[k] for k in keys]
    # a group depends on (seed, epoch, query) only, not on the batch it lands in
    by_query = {g.query_id: g for i in range(2) for g in forward[(0, i)]}
    small = GroupSampler(examples, corpus, negatives=3, batch_size=2, seed=11)
    for i in range(5):
        for g in small.batch(0, i):
            if g.query_id in by_query:
                assert g == by_query[g.query_id]


def test_group_sampler_negatives_come_from_the_pool_and_never_a_positive():
    examples, corpus = _sampler_examples()
    sampler = GroupSampler(examples, corpus, negatives=3, batch_size=5, seed=3)
    by_id = {ex.query_id: ex for ex in examples}
    seen_positives = set()
    for epoch in range(20):
        for index in range(2):
            for g in sampler.batch(epoch, index):
                ex = by_id[g.query_id]
                assert g.query == ex.query
                assert g.positive in ex.positives
                seen_positives.add((g.query_id, g.positive))
                assert len(g.negatives) == 3 == len(set(g.negatives))
                assert set(g.negatives) <= set(ex.negatives)
                assert not set(g.negatives) & set(ex.positives)
    assert len(seen_positives) == 20  # both positives of every query get drawn over the epochs
    # a recipe replacing the pools (ANCE's refresh) changes what is drawn
    sampler.pools = {ex.query_id: ["d29", "d28", "d27"] for ex in examples}
    assert all(sorted(g.negatives) == ["d27", "d28", "d29"] for g in sampler.batch(0, 0))


def test_group_sampler_tops_up_a_short_pool_with_corpus_documents_that_are_not_positives():
    corpus = [f"d{i}" for i in range(30)]
    positives = [f"d{i}" for i in range(20)]  # most of the corpus is relevant: a careless top-up would hit one
    examples = [TrainExample("q0", "q", positives, ["d25"]), TrainExample("q1", "r", ["d0"], [])]
    sampler = GroupSampler(examples, corpus, negatives=4, batch_size=2, seed=0)
    topped = set()
    for epoch in range(30):
        groups = {g.query_id: g for g in sampler.batch(epoch, 0)}
        negs = groups["q0"].negatives
        assert len(negs) == 4 == len(set(negs))
        assert negs[0] == "d25"  # the pool first, then the top-up
        assert not set(negs) & set(positives)
        topped |= set(negs[1:])
        assert len(groups["q1"].negatives) == 4 and "d0" not in groups["q1"].negatives
    assert topped <= {f"d{i}" for i in range(20, 30)} - {"d25"} and len(topped) > 3  # random, not fixed


def test_group_sampler_never_draws_a_positive_listed_in_the_pool():
    examples = [TrainExample("q0", "q", ["a"], ["a", "b", "c"])]
    drawn = set()
    for seed in range(10):
        drawn |= set(GroupSampler(examples, ["a", "b", "c", "d"], negatives=2, batch_size=1, seed=seed)
                     .batch(0, 0)[0].negatives)
    assert "a" not in drawn


# ==== 3. negatives from a ranking, training examples, dev split, unseen queries ================================

RANKING = [f"d{i}" for i in range(1, 11)]  # d1 best ... d10


def test_negatives_from_ranking_depth_skip_and_exclusions():
    assert negatives_from_ranking(RANKING, {"d2"}, depth=5) == ["d1", "d3", "d4", "d5"]
    # skip counts from the top: ranks skip+1 .. depth
    assert negatives_from_ranking(RANKING, {"d2"}, depth=5, skip=2) == ["d3", "d4", "d5"]
    assert negatives_from_ranking(RANKING, {"d2", "d4"}, depth=6, skip=1, exclude={"d6"}) == ["d3", "d5"]
    assert negatives_from_ranking(RANKING, set(), depth=50) == RANKING
    assert negatives_from_ranking(RANKING, set(), depth=3, skip=3) == []


def test_negatives_from_ranking_sampling_is_seeded_and_keeps_rank_order():
    pool = negatives_from_ranking(RANKING, {"d2"}, depth=10)
    draws = [negatives_from_ranking(RANKING, {"d2"}, depth=10, sample=3, rng=random.Random(s)) for s in range(8)]
    for d in draws:
        assert len(d) == 3 and "d2" not in d
        assert d == [x for x in pool if x in d]  # a subsequence: rank order kept
    assert draws[5] == negatives_from_ranking(RANKING, {"d2"}, depth=10, sample=3, rng=random.Random(5))
    assert len({tuple(d) for d in draws}) > 1
    # without an rng the draw is still fixed; a sample larger than the pool keeps it all
    assert negatives_from_ranking(RANKING, set(), depth=10, sample=4) == \
        negatives_from_ranking(RANKING, set(), depth=10, sample=4)
    assert negatives_from_ranking(RANKING, {"d2"}, depth=10, sample=20) == pool


def _run(ranking: dict[str, list[str]]) -> dict:
    return {q: [(d, 10.0 - i) for i, d in enumerate(docs)] for q, docs in ranking.items()}


def test_mine_run():
    run = _run({"q1": ["d1", "q1", "d2", "d3", "d4", "d5"], "q2": ["d9", "d8", "q2", "d7", "d6", "d5"]})
    qrels = {"q1": {"d2": 1, "d3": 0}, "q2": {"d9": 2}}
    assert mine_run(run, qrels, depth=4) == {"q1": ["d1", "q1", "d3"], "q2": ["d8", "q2", "d7"]}
    assert mine_run(run, qrels, depth=4, exclude_query_id=True) == {"q1": ["d1", "d3"], "q2": ["d8", "d7"]}
    assert mine_run(run, qrels, depth=5, skip=1, exclude_query_id=True) == {"q1": ["d3", "d4"],
                                                                             "q2": ["d8", "d7", "d6"]}
    # sampling is per query: the same negatives whatever the order of the run's queries
    a = mine_run(run, qrels, depth=6, sample=2, seed=4)
    b = mine_run(dict(reversed(list(run.items()))), qrels, depth=6, sample=2, seed=4)
    assert a == b and all(len(v) == 2 for v in a.values())
    assert not set(a["q1"]) & {"d2"} and not set(a["q2"]) & {"d9"}
    assert len({json.dumps(mine_run(run, qrels, depth=6, sample=2, seed=s)) for s in range(6)}) > 1


def test_build_examples_never_keeps_a_judged_positive_as_negative():
    topics = {"q1": "first", "q2": "second", "q3": "unjudged", "q4": "nothing relevant"}
    qrels = {"q1": {"d1": 1, "d2": 0, "d3": 2}, "q2": {"d5": 1}, "q4": {"d6": 0}}
    negatives = {"q1": ["d3", "d2", "d4", "d1"], "q2": ["d6", "d5"], "q3": ["d7"]}
    examples = build_examples(topics, qrels, negatives)
    assert [e.to_json() for e in examples] == [
        {"query_id": "q1", "query_text": "first", "positive_document_ids": ["d1", "d3"],
         "negative_document_ids": ["d2", "d4"]},   # judged non-relevant d2 is a fine negative
        {"query_id": "q2", "query_text": "second", "positive_document_ids": ["d5"], "negative_document_ids": ["d6"]},
    ]
    assert [e.negatives for e in build_examples(topics, qrels)] == [[], []]
    with pytest.raises(InputError, match="no training query"):
        build_examples({"q4": "x"}, qrels)


def test_write_and_read_examples_round_trip(tmp_path):
    examples = [TrainExample("q1", "caf\u00e9 query", ["d1"], ["d2", "d3"]), TrainExample("7", "x", ["d4", "d5"])]
    write_examples(examples, tmp_path / "t.jsonl")
    assert read_examples(tmp_path / "t.jsonl") == examples
    (tmp_path / "bad.jsonl").write_text('{"query_id": "q", "query_text": "x", "positive_document_ids": []}\n')
    with pytest.raises(InputError, match="bad.jsonl:1"):
        read_examples(tmp_path / "bad.jsonl")


def test_split_dev_is_deterministic_and_order_free():
    examples = [TrainExample(f"q{i}", f"t{i}", [f"d{i}"]) for i in range(200)]
    train, dev = split_dev(examples, 0.25)
    train2, dev2 = split_dev(list(reversed(examples)), 0.25)
    assert {e.query_id for e in dev} == {e.query_id for e in dev2}
    assert {e.query_id for e in train} == {e.query_id for e in train2}
    assert {e.query_id for e in train} | {e.query_id for e in dev} == {e.query_id for e in examples}
    assert not {e.query_id for e in train} & {e.query_id for e in dev}
    assert 25 <= len(dev) <= 75  # a hash split, about a quarter
    assert [e.query_id for e in train] == [e.query_id for e in examples if e in train]  # file order kept
    small, _ = split_dev(examples, 0.1)
    assert {e.query_id for e in split_dev(examples, 0.1)[1]} <= {e.query_id for e in dev}  # nested by fraction
    assert len(small) > len(train)
    assert split_dev(examples, 0.0) == (examples, [])
    for bad in (1.0, -0.1):
        with pytest.raises(InputError, match="dev fraction"):
            split_dev(examples, bad)


def test_unseen_queries():
    train = {"t1": {"a": 1, "b": 0}, "t2": {"c": 2}}
    test = {"x": {"a": 1, "d": 1},   # a is a train positive: seen
            "y": {"b": 1},           # b was judged in train but not relevant: unseen
            "z": {"e": 0},           # nothing relevant: not a test query at all
            "w": {"d": 1, "e": 2, "c": 0},  # c is a train positive but not relevant here: unseen
            "v": {"c": 1}}
    assert unseen_queries(test, train) == {"y", "w"}


# ==== 4. the negatives command line ==============================================================================

def _negatives_inputs(tmp_path: Path) -> SimpleNamespace:
    topics = tmp_path / "topics.tsv"
    topics.write_text("q1\taspirin for fever\nq2\tibuprofen bleeding\nq3\tno positive judged\n", encoding="utf-8")
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 d1 1\nq1 0 d3 0\nq2 0 d2 2\nq2 0 d4 1\nq3 0 d5 0\n")
    run = tmp_path / "run.trec"
    rows = {"q1": ["d3", "d1", "d6", "d7", "d8"], "q2": ["d4", "d5", "d2", "d9", "d6"], "q3": ["d5", "d1"]}
    run.write_text("".join(f"{q} Q0 {d} {r} {10 - r}.5 bm25\n" for q, docs in rows.items()
                           for r, d in enumerate(docs, 1)))
    return SimpleNamespace(topics=topics, qrels=qrels, run=run)


def test_negatives_cli_writes_the_training_file(cli, tmp_path):
    inp = _negatives_inputs(tmp_path)
    out = tmp_path / "train.jsonl"
    res = cli("pyserini_dr.train.negatives", "--topics", inp.topics, "--qrels", inp.qrels, "--run", inp.run,
              "--depth", 3, "--output", out)
    assert res.returncode == 0, res.stderr
    # q1's top 3 are d3 d1 d6: d1 is relevant, d3 judged non-relevant (kept); q2's are d4 d5 d2; q3 has no positive
    expected = [
        {"query_id": "q1", "query_text": "aspirin for fever", "positive_document_ids": ["d1"],
         "negative_document_ids": ["d3", "d6"]},
        {"query_id": "q2", "query_text": "ibuprofen bleeding", "positive_document_ids": ["d2", "d4"],
         "negative_document_ids": ["d5"]},
    ]
    assert out.read_text(encoding="utf-8") == "".join(json.dumps(e) + "\n" for e in expected)
    assert "wrote 2 training queries (3 negatives, 1.5 per query)" in res.stderr

    # --skip 1 --depth 4: ranks 2..4
    res = cli("pyserini_dr.train.negatives", "--topics", inp.topics, "--qrels", inp.qrels, "--run", inp.run,
              "--depth", 4, "--skip", 1, "--output", out)
    assert res.returncode == 0, res.stderr
    negatives = [json.loads(x)["negative_document_ids"] for x in out.read_text().splitlines()]
    assert negatives == [["d6", "d7"], ["d5", "d9"]]

    # a dev split goes to its own file; together the two files hold every training query once
    dev = tmp_path / "dev.jsonl"
    res = cli("pyserini_dr.train.negatives", "--topics", inp.topics, "--qrels", inp.qrels, "--run", inp.run,
              "--depth", 3, "--output", out, "--dev-fraction", 0.5, "--dev-output", dev)
    assert res.returncode == 0, res.stderr
    train_part = read_examples(out) if out.read_text() else []
    dev_part = read_examples(dev) if dev.read_text() else []
    expected_train, expected_dev = split_dev([TrainExample(e["query_id"], e["query_text"],
                                                           e["positive_document_ids"], e["negative_document_ids"])
                                              for e in expected], 0.5)
    assert (train_part, dev_part) == (expected_train, expected_dev)


def test_negatives_cli_bad_input(cli, tmp_path):
    inp = _negatives_inputs(tmp_path)
    out = tmp_path / "train.jsonl"
    bad_run = tmp_path / "bad.run"
    bad_run.write_text("q1 Q0 d3 1 9.5 bm25\nq1 Q0 d1 2\n")
    line = cli("pyserini_dr.train.negatives", "--topics", inp.topics, "--qrels", inp.qrels, "--run", bad_run,
               "--depth", 3, "--output", out).error_line()
    assert f"{bad_run}:2" in line and "found 4" in line
    line = cli("pyserini_dr.train.negatives", "--topics", inp.topics, "--qrels", inp.qrels, "--run", inp.run,
               "--output", out, "--dev-fraction", 0.2).error_line()
    assert line == "error: --dev-fraction needs --dev-output"
    line = cli("pyserini_dr.train.negatives", "--topics", inp.topics, "--qrels", inp.qrels, "--run", inp.run,
               "--depth", 0, "--output", out).error_line()
    assert "--depth" in line
    assert not out.exists()
