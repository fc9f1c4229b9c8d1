"""Distillation pieces of the training-II recipes: Margin-MSE, TAS-B's topic-balanced sampler and its batch masks,
the clusters file. Hand-computed values on small inputs."""
from __future__ import annotations

import json
import math
from collections import Counter

import pytest
import torch

from pyserini_dr.train.batches import Group, TopicBalancedSampler
from pyserini_dr.train.clusters import read_clusters
from pyserini_dr.train.examples import TrainExample
from pyserini_dr.train.losses import margin_mse
from pyserini_dr.train.recipes import TASB, PairOptions, SimLMOptions, TasbOptions
from pyserini_dr.train.teacher import read_teacher_scores


def test_margin_mse_by_hand():
    student = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    teacher = torch.ones(2, 2)
    assert float(margin_mse(student, teacher)) == pytest.approx((0 + 1 + 4 + 9) / 4)
    mask = torch.tensor([[True, False], [False, True]])
    assert float(margin_mse(student, teacher, mask)) == pytest.approx((0 + 9) / 2)
    assert float(margin_mse(student, teacher, torch.zeros(2, 2, dtype=torch.bool))) == 0.0


def _examples():
    # q0..q5; clusters: {q0, q2, q4} -> 0, {q1, q3, q5} -> 1
    return [TrainExample(f"q{i}", f"query {i}", [f"p{i}"], [f"n{i}a", f"n{i}b", f"n{i}c"]) for i in range(6)]


CLUSTERS = {f"q{i}": i % 2 for i in range(6)}
CORPUS = [f"p{i}" for i in range(6)] + [f"n{i}{x}" for i in range(6) for x in "abc"]


def _teacher():
    # for every query: positive 10, negatives a 9.9, b 9.8, c 0 -> margins 0.1, 0.2, 10
    return {f"q{i}": {f"p{i}": 10.0, f"n{i}a": 9.9, f"n{i}b": 9.8, f"n{i}c": 0.0} for i in range(6)}


def test_topic_batches_hold_one_cluster_each():
    """Clusters of 3, batches of 3: every batch is one whole cluster, drawn at random for each batch."""
    sampler = TopicBalancedSampler(_examples(), CORPUS, clusters=CLUSTERS, teacher=_teacher(), batch_size=3, seed=1)
    firsts = Counter()
    for epoch in range(200):
        for i in range(sampler.batches_per_epoch()):
            b = sampler.batch(epoch, i)
            assert len({CLUSTERS[g.query_id] for g in b}) == 1 and len({g.query_id for g in b}) == 3
            firsts[CLUSTERS[b[0].query_id]] += 1
    assert firsts[0] / sum(firsts.values()) == pytest.approx(0.5, abs=0.07)
    assert sampler.batch(3, 1) == sampler.batch(3, 1)


def test_pairs_are_balanced_over_teacher_margin_bins():
    """Two bins: [0.1, 5.05) holds negatives a and b, [5.05, 10] holds c. Balanced sampling draws c half of the
    time (uniform sampling would draw it a third of the time)."""
    sampler = TopicBalancedSampler(_examples(), CORPUS, clusters=CLUSTERS, teacher=_teacher(), batch_size=6, seed=3,
                                   bins=2)
    drawn = Counter(g.negatives[0][-1] for epoch in range(400) for g in sampler.batch(epoch, 0))
    total = sum(drawn.values())
    assert drawn["c"] / total == pytest.approx(0.5, abs=0.03)
    assert drawn["a"] / total == pytest.approx(0.25, abs=0.03)
    assert all(len(g.negatives) == 1 and g.positive == f"p{g.query_id[1:]}"
               for g in sampler.batch(0, 0))


def test_a_query_without_teacher_scores_is_drawn_uniformly():
    teacher = _teacher()
    del teacher["q0"]
    sampler = TopicBalancedSampler(_examples(), CORPUS, clusters=CLUSTERS, teacher=teacher, batch_size=6, seed=3)
    drawn = Counter(g.negatives[0] for e in range(300) for g in sampler.batch(e, 0) if g.query_id == "q0")
    assert set(drawn) == {"n0a", "n0b", "n0c"}


def test_sampler_refuses_queries_without_a_cluster():
    with pytest.raises(ValueError, match="2 training queries have no topic cluster"):
        TopicBalancedSampler(_examples(), CORPUS, clusters={f"q{i}": 0 for i in range(4)}, teacher={},
                             batch_size=2)


def test_tasb_batch_margins_and_masks():
    sampler = TopicBalancedSampler(_examples(), CORPUS, clusters=CLUSTERS, teacher=_teacher(), batch_size=2)
    recipe = TASB(TasbOptions(), sampler, None)
    # q0's teacher also scored q1's positive (8.0); q1's teacher scored nothing of q0's group
    recipe.teacher = {"q0": {"p0": 10.0, "n0a": 9.9, "p1": 8.0}, "q1": {"p1": 5.0, "n1b": 1.0}}
    groups = [Group("q0", "query 0", "p0", ["n0a"]), Group("q1", "query 1", "p1", ["n1b"])]
    extras = recipe.prepare(groups)   # columns: p0, n0a, p1, n1b
    torch.testing.assert_close(extras["margin"], torch.tensor([[0.0, 0.1, 2.0, 0.0], [0.0, 0.0, 0.0, 4.0]]))
    assert extras["pair"].tolist() == [[False, True, False, False], [False, False, False, True]]
    assert extras["in_batch_positives"].tolist() == [[False, False, True, False], [False, False, False, False]]
    assert not extras["in_batch_negatives"].any()
    # the loss: student margins s(q_i, p_i+) - s(q_i, d_j) at temperature 1
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[2.0, 0.0], [1.5, 0.0], [0.0, 3.0], [0.0, 1.0]])  # scores q0: 2, 1.5, 0, 0; q1: 0, 0, 3, 1
    loss = recipe.loss(q, p, groups, extras)
    pair = ((2 - 1.5) - 0.1) ** 2 / 2 + ((3 - 1) - 4.0) ** 2 / 2
    in_batch = ((2 - 0) - 2.0) ** 2   # in-batch positives only: no in-batch negative was scored
    assert float(loss) == pytest.approx(pair + 0.75 * in_batch)


def test_clusters_file(tmp_path):
    path = tmp_path / "clusters.tsv"
    path.write_text("q0\t3\nq1\t0\n")
    assert read_clusters(path) == {"q0": 3, "q1": 0}
    path.write_text("q0\t3\nq1 0\n")
    from pyserini_dr.errors import InputError

    with pytest.raises(InputError, match=r"clusters.tsv:2: expected qid<TAB>cluster number"):
        read_clusters(path)


# ---- end to end on the tiny setup of test_train: clusters CLI, teacher scores of the training pairs, tasb --------

from tests.test_train import SEED, losses, setup, train_argv, train_here, vectors  # noqa: E402,F401


def test_tasb_end_to_end(setup, vectors, cli, tmp_path):
    import numpy as np

    from pyserini_dr.train.examples import read_examples

    clusters = tmp_path / "clusters.tsv"
    done = cli("pyserini_dr.train.clusters", "--train-data", setup.train, "--encoder", setup.model_nodrop,
               "--clusters", 3, "--output", clusters)
    assert done.returncode == 0, done.stderr
    found = read_clusters(clusters)
    assert sorted(found) == sorted(setup.topics) and set(found.values()) == {0, 1, 2}
    # k-means assigns each query to its nearest centroid: queries of one cluster are closer to their centroid
    q = np.stack([vectors.queries[x] for x in sorted(found)])
    labels = np.array([found[x] for x in sorted(found)])
    centroids = np.stack([q[labels == c].mean(0) for c in range(3)])
    assert (np.argmin(((q[:, None] - centroids[None]) ** 2).sum(-1), 1) == labels).mean() >= 0.8

    # a hand-made teacher: positives 5, each negative 5 - (its rank in the pool + 1)
    teacher = tmp_path / "teacher.txt"
    examples = read_examples(setup.train)
    with open(teacher, "w") as f:
        for e in examples:
            scores = {**{p: 5.0 for p in e.positives}, **{n: 4.0 - r for r, n in enumerate(e.negatives)}}
            for rank, (d, s) in enumerate(sorted(scores.items(), key=lambda x: -x[1]), 1):
                f.write(f"{e.query_id} Q0 {d} {rank} {s} t\n")
    out = tmp_path / "tasb"
    train_here(train_argv(setup, out, "--batch-size", 4, "--max-steps", 2, "--temperature", 1,
                          "--teacher-scores", teacher, "--clusters", clusters, recipe="tasb"))
    # step 1: Margin-MSE on each group's pair + on in-batch passages the teacher scored, by hand in numpy
    sampler = TopicBalancedSampler(examples, list(setup.corpus), clusters=found, teacher=read_teacher_scores(teacher),
                                   batch_size=4, seed=int(SEED))
    groups = sampler.batch(0, 0)
    vec = lambda d: vectors.docs[vectors.index[d]]  # noqa: E731
    docs = [d for g in groups for d in (g.positive, *g.negatives)]
    pair, in_batch_pos, in_batch_neg = [], [], []
    for i, g in enumerate(groups):
        t = sampler.teacher[g.query_id]
        s_pos = vectors.queries[g.query_id] @ vec(g.positive)
        for j, d in enumerate(docs):
            if j == 2 * i or d not in t or d in sampler.positives[g.query_id]:
                continue
            err = ((s_pos - vectors.queries[g.query_id] @ vec(d)) - (t[g.positive] - t[d])) ** 2
            (pair if j == 2 * i + 1 else in_batch_pos if j % 2 == 0 else in_batch_neg).append(err)
    in_batch = [np.mean(x) for x in (in_batch_pos, in_batch_neg) if x]   # matchmaker: 0.5 x (pos + neg)
    expected = np.mean(pair) + 0.75 * (np.mean(in_batch) if in_batch else 0.0)
    assert losses(out)[0] == pytest.approx(expected, rel=1e-4)


# ---- PAIR ----------------------------------------------------------------------------------------------------------

def test_passage_centric_loss_by_hand():
    import math

    from pyserini_dr.train.losses import passage_centric

    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[1.0, 1.0], [0.5, 0.0], [0.0, 2.0], [1.0, 0.0]])   # groups: (p0, n0), (p1, n1)
    # p0 against the queries and the negatives: s(p0, q0) = 1 (target), s(p0, q1) = 1, s(p0, n0) = 0.5, s(p0, n1) = 1
    # p1: s(p1, q0) = 0, s(p1, q1) = 2 (target), s(p1, n0) = 0, s(p1, n1) = 0
    l0 = -1 + math.log(3 * math.exp(1) + math.exp(0.5))
    l1 = -2 + math.log(1 + math.exp(2) + 1 + 1)
    assert float(passage_centric(q, p)) == pytest.approx((l0 + l1) / 2, rel=1e-6)
    exclude = torch.tensor([[False, False, True, False], [False, False, False, False]])  # p1 relevant to q0
    l1x = -2 + math.log(math.exp(2) + 1 + 1)  # q0 leaves p1's row
    assert float(passage_centric(q, p, exclude=exclude)) == pytest.approx((l0 + l1x) / 2, rel=1e-6)
    l0t = -2 + math.log(3 * math.exp(2) + math.exp(1))
    l1t = -4 + math.log(1 + math.exp(4) + 1 + 1)
    assert float(passage_centric(q, p, temperature=0.5)) == pytest.approx((l0t + l1t) / 2, rel=1e-6)


def test_pair_loss_mixes_query_and_passage_centric():
    from pyserini_dr.train.batches import GroupSampler
    from pyserini_dr.train.losses import contrastive, passage_centric
    from pyserini_dr.train.recipes import PAIR

    examples = [TrainExample("a", "qa", ["pa"], ["na"]), TrainExample("b", "qb", ["pb", "pa"], ["nb"])]
    sampler = GroupSampler(examples, ["pa", "na", "pb", "nb"], negatives=1, batch_size=2)
    groups = [Group("a", "qa", "pa", ["na"]), Group("b", "qb", "pb", ["nb"])]
    q = torch.tensor([[1.0, 0.2], [0.1, 1.0]])
    p = torch.tensor([[1.0, 1.0], [0.5, 0.0], [0.0, 2.0], [1.0, 0.0]])
    recipe = PAIR(PairOptions(pair_alpha=0.25), sampler, None, temperature=0.5)
    extras = recipe.prepare(groups)
    relevant = torch.tensor([[False, False, False, False], [True, False, False, False]])  # pa is b's positive too
    assert extras["false_negatives"].tolist() == relevant.tolist()
    expected = 0.75 * contrastive(q, p, temperature=0.5, false_negatives=relevant) + \
        0.25 * passage_centric(q, p, temperature=0.5, exclude=relevant)
    assert float(recipe.loss(q, p, groups, extras)) == pytest.approx(float(expected), rel=1e-6)
    recipe.options.pair_alpha = 0
    assert float(recipe.loss(q, p, groups, extras)) == pytest.approx(
        float(contrastive(q, p, temperature=0.5, false_negatives=relevant)), rel=1e-6)


def test_pseudo_labels_cli(cli, tmp_path):
    topics = tmp_path / "topics.tsv"
    topics.write_text("q1\tfirst\nq2\tsecond\nq3\tthird\n")
    teacher = tmp_path / "teacher.txt"
    # q1: 6 scored documents, q2: 2 (too few for --negatives-after 2), q3: none
    teacher.write_text("".join(f"q1 Q0 d{i} {i} {10 - i} t\n" for i in range(1, 7)) + "q2 Q0 e1 1 3 t\nq2 Q0 e2 2 1 t\n")
    out = tmp_path / "pseudo.jsonl"
    done = cli("pyserini_dr.train.pseudo_labels", "--topics", topics, "--teacher-scores", teacher, "--positives", 1,
               "--negatives-after", 2, "--depth", 5, "--output", out)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == ('{"query_id": "q1", "query_text": "first", "positive_document_ids": ["d1"], '
                               '"negative_document_ids": ["d3", "d4", "d5"]}\n')
    assert cli("pyserini_dr.train.pseudo_labels", "--topics", topics, "--teacher-scores", teacher, "--positives", 3,
               "--negatives-after", 2, "--output", out).error_line() == \
        "error: need 1 <= --positives <= --negatives-after < --depth"


# ---- SimLM -------------------------------------------------------------------------------------------------------

def test_mask_tokens_never_touches_special_tokens_and_labels_the_rest():
    import numpy as np

    from pyserini_dr.train.bottleneck import mask_tokens

    ids = np.arange(1, 2001).reshape(20, 100)
    special = np.zeros_like(ids, dtype=bool)
    special[:, 0] = special[:, -1] = True
    special[3] = True  # an all-special row stays as it is
    corrupted, labels = mask_tokens(ids, special, 0.3, 0, np.random.default_rng(0))
    masked = corrupted == 0
    assert not (masked & special).any() and not masked[3].any()
    assert (labels[masked] == ids[masked]).all() and (labels[~masked] == -100).all()
    assert (corrupted[~masked] == ids[~masked]).all()
    assert masked.sum() / (~special).sum() == pytest.approx(0.3, abs=0.03)
    _, few = mask_tokens(ids[:2], special[:2], 0.0, 0, np.random.default_rng(0))
    assert ((few != -100).sum(1) == 1).all()  # at least one masked token per row with any


def test_the_decoder_sees_the_encoder_only_through_cls(setup):
    """The bottleneck: the decoder loss's gradient reaches the encoder's output at position 0 only."""
    import numpy as np

    from pyserini_dr.train.bottleneck import BottleneckPretrainer, mask_tokens
    from pyserini_dr.train.model import BiEncoder

    model = BottleneckPretrainer(BiEncoder.load(str(setup.model_nodrop)))
    tok = model.encoder.passage_tokenizer
    features = model.encoder.tokenize_passages(list(setup.corpus.values())[:3])
    ids, attention = features["input_ids"].numpy(), features["attention_mask"].numpy()
    special = np.isin(ids, tok.all_special_ids) | (attention == 0)
    dec, dec_labels = mask_tokens(ids, special, 0.5, tok.mask_token_id, np.random.default_rng(1))
    captured = {}

    def keep(module, args, out):
        out.last_hidden_state.retain_grad()
        captured["h"] = out.last_hidden_state

    model.bi.query_model.register_forward_hook(keep)
    batch = {"attention_mask": torch.from_numpy(attention), "encoder_ids": torch.from_numpy(ids),
             "encoder_labels": torch.full(ids.shape, -100), "decoder_ids": torch.from_numpy(dec),
             "decoder_labels": torch.from_numpy(dec_labels)}
    loss = model(batch)  # encoder labels all ignored: the decoder's loss alone
    assert math.isclose(float(loss.detach()), math.log(tok.vocab_size), rel_tol=0.2)  # near-uniform predictions at the start
    loss.backward()
    grad = captured["h"].grad
    assert float(grad[:, 0].abs().sum()) > 0
    assert float(grad[:, 1:].abs().sum()) == 0.0


def test_simlm_pretraining_saves_a_cls_encoder(setup, tmp_path):
    from pyserini_dr.encode import DenseEncoder

    out = tmp_path / "pre"
    argv = train_argv(setup, out, "--batch-size", 8, "--max-steps", 2, recipe="simlm-pretrain")
    del argv[argv.index("--train-data"):argv.index("--train-data") + 2]
    train_here(argv)
    first = losses(out)[0]
    vocab = DenseEncoder(setup.model_nodrop).passage_tokenizer.vocab_size
    assert first == pytest.approx(2 * math.log(vocab), rel=0.2)  # encoder + decoder MLM, near-uniform at the start
    enc = DenseEncoder(out / "model")
    assert enc.settings.pooling == "cls"
    from safetensors.torch import load_file

    saved = load_file(str(out / "model" / "model.safetensors"))
    assert not any(k.startswith(("decoder", "transform", "lm_bias")) for k in saved)  # the encoder alone


def test_simlm_fine_tuning_adds_kl_to_the_teacher():
    """The old loss, kept as options: q->p contrastive + 0.5 x KL."""
    import torch.nn.functional as F

    from pyserini_dr.train.batches import GroupSampler
    from pyserini_dr.train.losses import contrastive
    from pyserini_dr.train.recipes import SimLM

    examples = [TrainExample("a", "qa", ["pa"], ["na"]), TrainExample("b", "qb", ["pb"], ["nb"])]
    sampler = GroupSampler(examples, ["pa", "na", "pb", "nb"], negatives=1, batch_size=2)
    recipe = SimLM.__new__(SimLM)
    recipe.options, recipe.sampler, recipe.ranker = SimLMOptions(kl_weight=0.5, contrastive_weight=1.0,
                                                                    simlm_qp_only=True), sampler, None
    recipe.temperature = 1.0
    recipe.teacher = {"a": {"pa": 3.0, "na": 1.0}, "b": {"pb": 2.0}}  # b's group is not fully scored: no KL term
    groups = [Group("a", "qa", "pa", ["na"]), Group("b", "qb", "pb", ["nb"])]
    extras = recipe.prepare(groups)
    assert extras["known"].tolist() == [True, False]
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.tensor([[2.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
    student, teacher = torch.tensor([2.0, 1.0]), torch.tensor([3.0, 1.0])
    kl = float((F.softmax(teacher, 0) * (F.log_softmax(teacher, 0) - F.log_softmax(student, 0))).sum())
    expected = float(contrastive(q, p, false_negatives=extras["false_negatives"])) + 0.5 * kl
    assert float(recipe.loss(q, p, groups, extras)) == pytest.approx(expected, rel=1e-6)


def test_pseudo_queries_are_the_corpus_titles(cli, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in [
        {"_id": "a", "title": "Gene  expression\tin mice", "text": "x"},
        {"_id": "b", "title": "Short title", "text": "y"},          # 2 words: under --min-words 3
        {"_id": "c", "title": "", "text": "z"},
        {"_id": "d", "title": "Another study of sleep", "text": "w"}]))
    out = tmp_path / "titles.tsv"
    done = cli("pyserini_dr.train.pseudo_queries", "--corpus", corpus, "--output", out)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "title-a\tGene expression in mice\ntitle-d\tAnother study of sleep\n"
    assert cli("pyserini_dr.train.pseudo_queries", "--corpus", corpus, "--min-words", 9, "--output",
               tmp_path / "none.tsv").error_line() == f"error: no document of {corpus} has a title of 9+ words"
    assert not (tmp_path / "none.tsv").exists()


def test_pseudo_queries_add_the_last_sentences_of_each_text(cli, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in [
        {"_id": "a", "title": "Gene expression in mice",
         "text": "Mice were studied. Expression fell by 2.5 fold in  the liver. (Both) results held. IL-6 rose too."},
        {"_id": "b", "title": "Hi", "text": "One sentence only here."},
        {"_id": "c", "title": "", "text": "Too short. Is it?"}]))
    out = tmp_path / "q.tsv"
    done = cli("pyserini_dr.train.pseudo_queries", "--corpus", corpus, "--last-sentences", 2, "--output", out)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == ("title-a\tGene expression in mice\n"
                               "sent-a-1\tIL-6 rose too.\nsent-a-2\t(Both) results held.\n"
                               "sent-b-1\tOne sentence only here.\n")
    assert cli("pyserini_dr.train.pseudo_queries", "--corpus", corpus, "--last-sentences", -1, "--output",
               tmp_path / "none.tsv").error_line() == "error: argument --last-sentences: must be 0 or more, got -1"
