"""The recipes that mine or retrieve with the model being trained: ANCE, STAR, ADORE, on test_train.py's tiny setup
(split from tests/test_train.py)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pyserini_dr.train.examples import read_examples, write_examples

try:  # pytest puts tests/ on sys.path (no __init__.py): the module object test_train.py itself runs as
    from test_train import (_offline, assert_same_weights, exact_pools, first_batch, losses, read_log, setup,
                            stderr_summary, train_argv, train_here, vectors, weights)  # noqa: F401  (fixtures)
except ImportError:  # pragma: no cover
    from tests.test_train import (_offline, assert_same_weights, exact_pools, first_batch, losses, read_log,
                                  setup, stderr_summary, train_argv, train_here, vectors, weights)  # noqa: F401


# ==== 7. recipes, gradient cache, accumulation (ANCE, STAR, ADORE) ===============================================

def test_ance_refreshes_from_its_own_index(setup, vectors, tmp_path, capsys):
    from pyserini_dr.train.recipes import ANCE

    out = tmp_path / "ance"
    refreshed = []
    original = ANCE._refresh_now

    def refresh(self, model, docs=None):
        original(self, model, docs)
        refreshed.append({q: list(v) for q, v in self.sampler.pools.items()})

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ANCE, "_refresh_now", refresh)
        train_here(train_argv(setup, out, "--batch-size", 4, "--negatives", 2, "--max-steps", 3,
                              "--refresh-every", 2, "--depth", 5, recipe="ance"))
    summary = stderr_summary(capsys.readouterr().err)
    assert summary["refreshes"] == 2 == len(refreshed)  # the starting model's index, then before step 3
    assert summary["steps"] == 3 and 0 < summary["refresh_share"] <= 1
    assert read_log(out)[1] == summary
    positives = {e.query_id: set(e.positives) for e in setup.examples}
    # the first index is the starting model's: its exact top 5, positives removed
    assert refreshed[0] == exact_pools(vectors, positives, 5)
    state = torch.load(out / "checkpoint" / "state.pt", map_location="cpu", weights_only=False)
    assert state["recipe"]["pools"] == refreshed[1]  # the last refresh is what a resumed run would train on
    for qid, pool in refreshed[1].items():
        assert not set(pool) & positives[qid] and 5 - len(positives[qid]) <= len(pool) <= 5
    assert len(losses(out)) == 3


def test_ance_refresh_at_an_evaluated_epoch_end_reuses_the_evaluation_vectors(setup, tmp_path, monkeypatch):
    """Both due after step 4 (16 queries in batches of 4: one epoch): the refresh ranks the dev evaluation's corpus
    vectors (the same weights) instead of encoding the corpus again, and trains exactly as a run without dev data."""
    from pyserini_dr.encode.corpus import CorpusEncoder

    encoded = []
    real = CorpusEncoder.encode_pairs
    monkeypatch.setattr(CorpusEncoder, "encode_pairs",
                        lambda self, *a, **k: encoded.append(1) or real(self, *a, **k))
    dev = tmp_path / "dev.jsonl"
    write_examples(read_examples(setup.train)[:6], dev)
    args = ("--batch-size", 4, "--negatives", 2, "--max-steps", 8, "--depth", 5)
    train_here(train_argv(setup, tmp_path / "plain", *args, recipe="ance"))
    assert len(encoded) == 2  # the start's index, the refresh before step 5
    encoded.clear()
    train_here(train_argv(setup, tmp_path / "dev", *args, "--dev-data", dev, recipe="ance"))
    assert len(encoded) == 3  # the start's, the evaluation after step 4 (reused by the refresh), after step 8
    assert len(list((tmp_path / "dev" / "dev_runs").iterdir())) == 2
    assert losses(tmp_path / "dev") == losses(tmp_path / "plain")
    state = [torch.load(tmp_path / run / "checkpoint" / "state.pt", map_location="cpu", weights_only=False)
             for run in ("plain", "dev")]
    assert state[0]["recipe"]["pools"] == state[1]["recipe"]["pools"]


def test_star_mines_once_from_the_starting_model(setup, vectors, tmp_path, capsys):
    out = tmp_path / "star"
    train_here(train_argv(setup, out, "--batch-size", 4, "--negatives", 2, "--max-steps", 2, "--depth", 6,
                          recipe="star"))
    assert stderr_summary(capsys.readouterr().err)["steps"] == 2
    positives = {e.query_id: set(e.positives) for e in setup.examples}
    state = torch.load(out / "checkpoint" / "state.pt", map_location="cpu", weights_only=False)
    pools = state["recipe"]["pools"]
    assert pools == exact_pools(vectors, positives, 6)
    assert all(not set(pools[q]) & positives[q] for q in pools)

    # step 1's loss: DRhard's pairwise loss over the first batch, with the starting model's vectors, in numpy
    groups, _ = first_batch(setup, 4, 2, pools)
    q = {g.query_id: vectors.queries[g.query_id] for g in groups}
    vec = lambda d: vectors.docs[vectors.index[d]]  # noqa: E731
    terms = []
    for g in groups:
        s_pos = q[g.query_id] @ vec(g.positive)
        others = [h.positive for h in groups if h is not g] + [d for h in groups for d in h.negatives]
        for d in others:
            if d not in positives[g.query_id]:
                terms.append(math.log1p(math.exp(q[g.query_id] @ vec(d) - s_pos)))
    assert losses(out)[0] == pytest.approx(sum(terms) / len(terms), rel=1e-5)


def test_adore_trains_the_query_tower_only(setup, vectors, tmp_path, capsys):
    from pyserini_dr.encode import DenseEncoder

    out = tmp_path / "adore"
    train_here(train_argv(setup, out, "--batch-size", 4, "--max-steps", 2, "--retrieve-depth", 10,
                          "--metric-cut", 5, recipe="adore"))
    assert stderr_summary(capsys.readouterr().err)["steps"] == 2
    model = out / "model"
    for sub in ("", "query_encoder", "passage_encoder"):
        saved = json.loads((model / sub / "encoder_settings.json").read_text())
        assert saved == json.loads((setup.model_nodrop / "encoder_settings.json").read_text())
    start = weights(setup.model_nodrop)
    assert_same_weights(weights(model / "passage_encoder"), start, rtol=0, atol=0)
    query = weights(model / "query_encoder")
    assert sorted(query) == sorted(start)
    assert any(not torch.equal(query[k], start[k]) for k in start)

    enc = DenseEncoder(model)
    assert enc.passage_model is not enc.query_model and enc.settings.query_max_length == 16
    passages = [setup.corpus[d] for d in vectors.ids[:5]]
    np.testing.assert_allclose(enc.encode_passages(passages), vectors.docs[:5], rtol=1e-5, atol=1e-5)
    assert not np.allclose(enc.encode_queries(["aspirin fever"])[0],
                           DenseEncoder(setup.model_nodrop).encode_queries(["aspirin fever"])[0], atol=1e-4)

    # step 1's loss: the rank-weighted pairwise loss of the first batch's top 10 (cut 5), computed here
    groups, positives = first_batch(setup, 4, 0)
    per_query = []
    for g in groups:
        scores = vectors.docs @ vectors.queries[g.query_id]
        ids = [vectors.ids[j] for j in np.argsort(-scores, kind="stable")[:10]]
        rel = [d in positives[g.query_id] for d in ids]
        if not any(rel):
            extra = sorted(positives[g.query_id])
            ids, rel = ids + extra, rel + [True] * len(extra)
        inv = [1 / r if r <= 5 else 0.0 for r in range(1, len(ids) + 1)]
        s = [scores[vectors.index[d]] for d in ids]
        pairs = [(i, j) for i in range(len(ids)) for j in range(len(ids)) if rel[i] and not rel[j]]
        per_query.append(sum(abs(inv[i] - inv[j]) * math.log1p(math.exp(s[j] - s[i])) for i, j in pairs)
                         / len(pairs))
    assert losses(out)[0] == pytest.approx(sum(per_query) / len(per_query), rel=1e-5)


def test_adore_dev_evaluation_ranks_the_frozen_passage_vectors(setup, tmp_path, monkeypatch):
    """ADORE's passage tower is frozen: its dev evaluation ranks the vectors encoded at the start instead of
    encoding the corpus once more, and its run is the final model's exact ranking of the dev queries."""
    from pyserini_dr.encode import DenseEncoder
    from pyserini_dr.encode.corpus import CorpusEncoder

    encoded = []
    real = CorpusEncoder.encode_pairs
    monkeypatch.setattr(CorpusEncoder, "encode_pairs",
                        lambda self, *a, **k: encoded.append(1) or real(self, *a, **k))
    dev = tmp_path / "dev.jsonl"
    dev_examples = read_examples(setup.train)[:6]
    write_examples(dev_examples, dev)
    out = tmp_path / "adore-dev"
    train_here(train_argv(setup, out, "--batch-size", 4, "--max-steps", 2, "--retrieve-depth", 10, "--metric-cut", 5,
                          "--dev-data", dev, recipe="adore"))
    assert len(encoded) == 1  # the start's, not one more per evaluation
    enc = DenseEncoder(out / "model")
    ids = list(setup.corpus)
    docs = enc.encode_passages([setup.corpus[d] for d in ids])
    q = enc.encode_queries([e.query for e in dev_examples])
    run = {}
    for line in sorted((out / "dev_runs").iterdir())[-1].read_text().splitlines():
        qid, _, docid, *_ = line.split()
        run.setdefault(qid, []).append(docid)
    for i, e in enumerate(dev_examples):
        assert run[e.query_id] == [ids[j] for j in np.argsort(-(docs @ q[i]), kind="stable")]
