"""Training (``pyserini_dr.train``): the trainer and its warmup recipe; the tiny setup the other training tests share.

The other training tests: test_train_losses.py (losses), test_train_data.py (sampling, negatives, the negatives CLI),
test_train_recipes.py (ANCE, STAR, ADORE), test_train_soup.py (soup, mix); test_distill.py and test_rerank.py.

Everything runs on the CPU with a TINY random BERT (hidden 32, 2 layers) and a WordPiece vocab of the test's own
words, built from configs in a temporary directory (as tests/test_encoders.py does), over a made-up corpus of 40
documents and 16 training queries. Losses are checked against arithmetic written out here; the trainer against
independent computations (numpy on ``DenseEncoder`` vectors), against itself (resume after SIGKILL, two gloo ranks,
gradient cache, gradient accumulation), and through its saved files (train_log.jsonl, checkpoint/state.pt, model/).

Most training runs call ``python -m pyserini_dr.train``'s ``main`` in this process (torch loads once); the killed
run, the two-rank run and the one-line errors are real subprocesses.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pyserini_dr.train.batches import GroupSampler
from pyserini_dr.train.examples import build_examples, read_examples, write_examples

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


# ==== the tiny training setup ====================================================================================

WORDS = ("aspirin fever pain adults children dose heart blood pressure stomach bleeding ibuprofen liver kidney "
         "cancer tumor cell gene protein virus vaccine immune response infection bacteria antibiotic resistance "
         "diet sugar insulin diabetes obesity exercise sleep brain memory stress anxiety depression therapy trial "
         "placebo effect risk study patients women men age bone vitamin calcium").split()
N_DOCS, N_QUERIES = 40, 16
SEED = "7"


def _tokenizer(workdir: Path):
    from transformers import BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(WORDS))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return BertTokenizerFast(str(workdir / "vocab.txt"), do_lower_case=True)  # positional: transformers 4 and 5


def _save_tiny_bert(path: Path, tok, *, dropout: float) -> None:
    from transformers import BertConfig, BertModel

    from pyserini_dr.encode import EncoderSettings

    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, type_vocab_size=2, initializer_range=0.2,
                        pad_token_id=0, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    torch.manual_seed(0)  # the same weights for both dropout settings
    BertModel(config).save_pretrained(path)  # with its (unused) pooler: no weight left to a random init
    tok.save_pretrained(path)
    # saved settings: no guessing the family from the (temporary) path; short max lengths keep it fast
    settings = EncoderSettings(query_max_length=16, passage_max_length=32).to_dict()
    (path / "encoder_settings.json").write_text(json.dumps(settings))


@pytest.fixture(scope="session")
def setup(tmp_path_factory) -> SimpleNamespace:
    """corpus.jsonl (40 documents, some without title), train.jsonl (16 queries, 1-2 positives, up to 6 hand-made
    'BM25' negatives; query 1 shares query 0's positive d00) and two tiny BERTs with the same weights: one with
    dropout 0.1, one with dropout 0."""
    root = tmp_path_factory.mktemp("tiny-train")
    rng = random.Random(0)
    corpus = {}
    for i in range(N_DOCS):
        title = " ".join(rng.sample(WORDS, 2)) if i % 3 else ""
        corpus[f"d{i:02d}"] = (title, " ".join(rng.choices(WORDS, k=rng.randint(8, 20))))
    (root / "corpus.jsonl").write_text("".join(json.dumps({"_id": d, "title": t, "text": x}) + "\n"
                                               for d, (t, x) in corpus.items()), encoding="utf-8")
    topics, qrels = {}, {}
    for i in range(N_QUERIES):
        qid = f"q{i:02d}"
        positives = [f"d{2 * i:02d}"] + ([f"d{2 * i + 1:02d}"] if i % 3 == 0 else [])
        if i == 1:
            positives.append("d00")
        topics[qid] = " ".join(rng.sample(corpus[positives[0]][1].split(), 3) + [rng.choice(WORDS)])
        qrels[qid] = {**{d: 1 for d in positives}, f"d{(2 * i + 7) % N_DOCS:02d}": 0}
    negatives = {q: rng.sample(sorted(corpus), 6) for q in topics}  # build_examples drops the positives among them
    examples = build_examples(topics, qrels, negatives)
    assert all(not set(e.negatives) & set(e.positives) for e in examples)
    write_examples(examples, root / "train.jsonl")
    tok = _tokenizer(root / "vocab")
    assert tok.unk_token_id not in tok(" ".join(WORDS))["input_ids"]
    _save_tiny_bert(root / "tiny", tok, dropout=0.1)
    _save_tiny_bert(root / "tiny-nodrop", tok, dropout=0.0)
    return SimpleNamespace(root=root, corpus=corpus, corpus_file=root / "corpus.jsonl", topics=topics, qrels=qrels,
                           examples=examples, train=root / "train.jsonl", model=root / "tiny",
                           model_nodrop=root / "tiny-nodrop")


def train_argv(setup, out, *extra, model=None, recipe="warmup") -> list[str]:
    return ["--recipe", recipe, "--model", str(model or setup.model_nodrop), "--train-data", str(setup.train),
            "--corpus", str(setup.corpus_file), "--output", str(out), "--device", "cpu", "--seed", SEED,
            "--lr", "1e-3", "--warmup-ratio", "0", "--log-every", "1", *map(str, extra)]


@contextlib.contextmanager
def capture_first_gradients():
    """Records the summed (all ranks) gradients of the first optimizer step, by parameter name."""
    from pyserini_dr.train.trainer import Trainer

    grads: dict = {}
    original = Trainer._sync_gradients

    def sync(self):
        original(self)
        if self.step == 0:
            grads.update({n: p.grad.detach().clone() for n, p in self.model.named_parameters()
                          if p.grad is not None})

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Trainer, "_sync_gradients", sync)
        yield grads


def train_here(argv) -> None:
    from pyserini_dr.train.__main__ import main

    assert main(argv) == 0


def read_log(out: Path) -> tuple[list[dict], dict]:
    lines = [json.loads(x) for x in (Path(out) / "train_log.jsonl").read_text().splitlines()]
    assert "summary" in lines[-1] and all("summary" not in x for x in lines[:-1])
    return lines[:-1], lines[-1]["summary"]


def losses(out: Path) -> list[float]:
    records, _ = read_log(out)
    assert [r["step"] for r in records] == list(range(1, len(records) + 1))
    return [r["loss"] for r in records]


def weights(model_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(Path(model_dir) / "model.safetensors"))


def assert_same_weights(a: dict, b: dict, **tol) -> None:
    assert sorted(a) == sorted(b)
    bad = [k for k in a if not torch.allclose(a[k], b[k], **tol)]
    assert not bad, bad


def assert_same_function(setup, model_a: Path, model_b: Path) -> None:
    """Two trained models give the same query and passage vectors. Runs that differ in how the work is split (ranks,
    chunks, micro-batches) round differently; where the true gradient is zero (an attention key bias: softmax ignores
    a shift of all scores) AdamW turns that rounding into lr-sized steps, so weights are compared through what they
    compute, not element by element."""
    from pyserini_dr.encode import DenseEncoder

    a, b = DenseEncoder(model_a), DenseEncoder(model_b)
    passages = list(setup.corpus.values())
    queries = list(setup.topics.values())
    np.testing.assert_allclose(a.encode_passages(passages), b.encode_passages(passages), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(a.encode_queries(queries), b.encode_queries(queries), rtol=1e-4, atol=1e-4)


def assert_close_grads(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b) and a
    scale = max(float(g.abs().max()) for g in a.values())
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5 * scale, msg=k)


def stderr_summary(err: str) -> dict:
    lines = [x for x in err.splitlines() if x.startswith("{")]
    assert len(lines) == 1, err
    return json.loads(lines[0])


def first_batch(setup, batch_size: int, negatives: int, pools: dict | None = None):
    sampler = GroupSampler(read_examples(setup.train), list(setup.corpus), negatives=negatives,
                           batch_size=batch_size, seed=int(SEED))
    if pools is not None:
        sampler.pools = pools
    return sampler.batch(0, 0), sampler.positives


@pytest.fixture(scope="session")
def vectors(setup):
    """The starting (dropout 0) model's query and passage vectors, by DenseEncoder (no training code)."""
    from pyserini_dr.encode import DenseEncoder

    enc = DenseEncoder(setup.model_nodrop)
    ids = list(setup.corpus)
    docs = enc.encode_passages([setup.corpus[d] for d in ids]).astype(np.float64)
    queries = {q: v for q, v in zip(setup.topics, enc.encode_queries(list(setup.topics.values())).astype(np.float64))}
    return SimpleNamespace(ids=ids, docs=docs, queries=queries, index={d: i for i, d in enumerate(ids)})


def exact_pools(vectors, positives: dict[str, set], depth: int) -> dict[str, list[str]]:
    pools = {}
    for qid, rel in positives.items():
        order = np.argsort(-(vectors.docs @ vectors.queries[qid]), kind="stable")[:depth]
        pools[qid] = [vectors.ids[j] for j in order if vectors.ids[j] not in rel]
    return pools


# ==== 5. exact resume after SIGKILL ==============================================================================

KILLER = """
import os, signal, sys
from pyserini_dr.train import trainer as T

original = T.Trainer.log

def log(self, name, record):
    original(self, name, record)
    if record.get("step") == {kill_at} and "loss" in record:
        os.kill(os.getpid(), signal.SIGKILL)  # as a crash would: no cleanup, nothing flushed after this line

T.Trainer.log = log
from pyserini_dr.cli import run_main
from pyserini_dr.train.__main__ import main
run_main(main, sys.argv[1:])
"""


def test_resume_after_sigkill_is_exact(setup, tmp_path, capsys):
    # Dropout is on here (the 0.1 model): the resumed run must also restore the RNG for its dropout masks.
    # 16 queries / 4 = 4 steps an epoch; 2 epochs cut at 7 steps; checkpoints at steps 2, 4, 6 and 7.
    # The first run SIGKILLs itself right after logging step 3, a step after the step-2 checkpoint: killing it
    # from outside when a checkpoint appears races a run this small (it finishes in well under a second), this
    # kills it at a known point. Rerunning the same command resumes mid-epoch 0 and must replay steps 3..7.
    common = ("--epochs", 2, "--max-steps", 7, "--save-every", 2, "--batch-size", 4, "--negatives", 1)
    killed = tmp_path / "killed"
    argv = train_argv(setup, killed, *common, model=setup.model)
    script = tmp_path / "killer.py"
    script.write_text(KILLER.replace("{kill_at}", "3"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(script), *argv], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    state = torch.load(killed / "checkpoint" / "state.pt", map_location="cpu", weights_only=False)
    assert state["step"] == 2
    assert state["recipe"] == {}  # warmup's negatives are the training file's: read again, not checkpointed
    assert [json.loads(x)["step"] for x in (killed / "train_log.jsonl").read_text().splitlines()] == [1, 2, 3]
    assert not (killed / "model").exists()

    train_here(argv)  # the same command again
    assert "resumed from step 2 of 7" in capsys.readouterr().err

    straight = tmp_path / "straight"
    train_here(train_argv(setup, straight, *common, model=setup.model))
    capsys.readouterr()
    expected, resumed = losses(straight), losses(killed)
    assert len(expected) == 7 and len(set(expected)) == 7  # the loss moves: a replay with other data would show
    assert resumed == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert [r["lr"] for r in read_log(killed)[0]] == pytest.approx([r["lr"] for r in read_log(straight)[0]])
    assert read_log(killed)[1]["steps"] == read_log(straight)[1]["steps"] == 7
    # every weight whose true gradient is not zero agrees; the attention key biases (zero gradient, AdamW-amplified
    # rounding, see assert_same_function) are compared through what the models compute
    key_bias = lambda w: {k: v for k, v in w.items() if not k.endswith("attention.self.key.bias")}  # noqa: E731
    assert_same_weights(key_bias(weights(killed / "model")), key_bias(weights(straight / "model")))
    assert_same_function(setup, killed / "model", straight / "model")
    start = weights(setup.model)
    assert not torch.allclose(weights(straight / "model")["encoder.layer.0.attention.self.query.weight"],
                              start["encoder.layer.0.attention.self.query.weight"])


# ==== 6. two gloo ranks = one process with the whole batch =======================================================

DDP_PROBE = """
import json, os, sys, torch
from pyserini_dr.train import trainer as T

original = T.Trainer._sync_gradients

def sync(self):
    original(self)
    if self.step == 0:
        torch.save({n: p.grad.detach().clone() for n, p in self.model.named_parameters() if p.grad is not None},
                   os.path.join(os.environ["GRAD_DIR"], f"grads{self.rank}.pt"))

T.Trainer._sync_gradients = sync
from pyserini_dr.train.__main__ import main
rc = main(sys.argv[1:])
left = torch.distributed.is_initialized()
with open(os.path.join(os.environ["GRAD_DIR"], f"left{os.environ['RANK']}.json"), "w") as f:
    json.dump(left, f)
if left:
    # What main leaves undone: without it gloo's worker threads can abort the process at interpreter exit
    # (SIGABRT, "terminate called without an active exception"; pytorch/pytorch#190489), failing torchrun at random.
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()
sys.exit(rc)
"""

# 16 queries, 8 a batch, 2 epochs: 4 steps. Dropout is 0 in this model: each rank draws its own dropout masks for
# its half of the batch, which one process drawing for the whole batch cannot reproduce.
WHOLE_BATCH = ("--batch-size", 8, "--negatives", 1, "--epochs", 2)


@pytest.fixture(scope="module")
def one_process(setup, tmp_path_factory):
    """The reference: warmup on the dropout-0 model, 8 queries a batch, one process; its first gradients."""
    out = tmp_path_factory.mktemp("one-process")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("PYSERINI_DR_QUIET", "1")
        with capture_first_gradients() as grads:
            train_here(train_argv(setup, out, *WHOLE_BATCH))
    return SimpleNamespace(out=out, losses=losses(out), grads=grads)


def test_warmup_first_loss_matches_an_independent_computation(setup, one_process, vectors):
    """Step 1's logged loss: the starting model's in-batch softmax over the first batch, computed here in numpy."""
    groups, positives = first_batch(setup, 8, 1)
    docs = [d for g in groups for d in (g.positive, g.negatives[0])]
    q = np.stack([vectors.queries[g.query_id] for g in groups])
    p = vectors.docs[[vectors.index[d] for d in docs]]
    scores = q @ p.T
    total = 0.0
    for i, g in enumerate(groups):  # another passage relevant to the query is no negative (false-negative mask)
        keep = [j for j, d in enumerate(docs) if j == 2 * i or d not in positives[g.query_id]]
        total += math.log(sum(math.exp(scores[i, j]) for j in keep)) - scores[i, 2 * i]
    assert one_process.losses[0] == pytest.approx(total / len(groups), rel=1e-5)


@pytest.fixture(scope="module")
def two_ranks(setup, tmp_path_factory):
    """The same training under torchrun: two gloo processes on the CPU, 4 queries each."""
    workdir = tmp_path_factory.mktemp("two-ranks")
    out = workdir / "ddp"
    script = workdir / "ddp_probe.py"
    script.write_text(DDP_PROBE)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYSERINI_DR_BACKEND": "gloo", "GRAD_DIR": str(workdir),
           "HF_HUB_OFFLINE": "1", "PYSERINI_DR_QUIET": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script),
           *train_argv(setup, out, *WHOLE_BATCH)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return SimpleNamespace(out=out, stderr=done.stderr, grads=[torch.load(workdir / f"grads{r}.pt") for r in (0, 1)],
                           left_initialized=[json.loads((workdir / f"left{r}.json").read_text()) for r in (0, 1)])


def test_two_gloo_ranks_match_one_process(setup, one_process, two_ranks):
    two = losses(two_ranks.out)
    assert len(two) == len(one_process.losses) == 4
    assert max(one_process.losses) - min(one_process.losses) > 1e-3  # later steps depend on earlier updates
    assert two == pytest.approx(one_process.losses, rel=1e-5)
    # the all-reduced gradient of step 1 is the whole batch's, on both ranks
    assert_close_grads(one_process.grads, two_ranks.grads[0])
    assert_close_grads(two_ranks.grads[0], two_ranks.grads[1])
    assert_same_function(setup, two_ranks.out / "model", one_process.out / "model")
    assert stderr_summary(two_ranks.stderr)["steps"] == 4  # printed once (rank 0), not per rank


def test_training_leaves_no_process_group_behind(two_ranks):
    assert two_ranks.left_initialized == [False, False]


# ==== 7. recipes, gradient cache, accumulation ===================================================================

def test_gradient_cache_gives_the_same_training(setup, one_process, tmp_path):
    out = tmp_path / "cached"
    with capture_first_gradients() as grads:  # chunks of 3, 3 and 2 queries (with their passages)
        train_here(train_argv(setup, out, *WHOLE_BATCH, "--grad-cache-chunk", 3))
    assert losses(out) == pytest.approx(one_process.losses, rel=1e-5)
    assert_close_grads(one_process.grads, grads)
    assert_same_function(setup, out / "model", one_process.out / "model")


def test_gradient_accumulation_equals_the_whole_batch_without_in_batch_negatives(setup, tmp_path):
    # Without in-batch negatives a query's loss involves its own group only, so two micro-batches of 4 averaged
    # are exactly one batch of 8 (the sampler's order doesn't depend on the batch size).
    whole, accum = tmp_path / "whole", tmp_path / "accum"
    with capture_first_gradients() as g_whole:
        train_here(train_argv(setup, whole, "--batch-size", 8, "--negatives", 2, "--epochs", 2, "--no-in-batch"))
    with capture_first_gradients() as g_accum:
        train_here(train_argv(setup, accum, "--batch-size", 4, "--grad-accum", 2, "--negatives", 2, "--epochs", 2,
                              "--no-in-batch"))
    assert read_log(accum)[1]["steps"] == 4  # 16 // 4 // 2 steps an epoch
    assert losses(accum) == pytest.approx(losses(whole), rel=1e-5)
    assert_close_grads(g_whole, g_accum)
    assert_same_function(setup, accum / "model", whole / "model")


def test_warmup_model_loads_with_dense_encoder(setup, one_process):
    from pyserini_dr.encode import DenseEncoder

    model = one_process.out / "model"
    assert json.loads((model / "encoder_settings.json").read_text()) == \
        json.loads((setup.model_nodrop / "encoder_settings.json").read_text())
    assert not (model / "query_encoder").exists()
    enc = DenseEncoder(model)
    assert enc.passage_model is enc.query_model
    trained = enc.encode_queries(["aspirin fever"])
    start = DenseEncoder(setup.model_nodrop).encode_queries(["aspirin fever"])
    assert trained.shape == (1, 32) and not np.allclose(trained, start, atol=1e-4)


def test_log_every_averages_its_window(setup, one_process, tmp_path):
    out = tmp_path / "log3"
    train_here(train_argv(setup, out, *WHOLE_BATCH, "--log-every", 3))
    records, summary = read_log(out)
    assert [r["step"] for r in records] == [3, 4]  # every 3 steps, and the last step
    one = one_process.losses
    assert [r["loss"] for r in records] == pytest.approx([sum(one[:3]) / 3, one[3]], rel=1e-5)
    assert [r["epoch"] for r in records] == [1, 1] and summary["steps"] == 4


def test_rerunning_a_finished_command_keeps_one_summary(setup, tmp_path, capsys):
    out = tmp_path / "done"
    argv = train_argv(setup, out, "--batch-size", 8, "--max-steps", 1)
    train_here(argv)
    train_here(argv)
    assert "resumed from step 1 of 1" in capsys.readouterr().err
    read_log(out)  # asserts that only the last line is a summary


def test_dev_evaluation_hook(setup, tmp_path, capsys):
    from pyserini_dr.encode import DenseEncoder

    dev = tmp_path / "dev.jsonl"
    dev_examples = read_examples(setup.train)[:6]
    write_examples(dev_examples, dev)
    out = tmp_path / "dev-run"
    train_here(train_argv(setup, out, *WHOLE_BATCH, "--dev-data", dev, "--keep-best"))
    err = capsys.readouterr().err
    records = [json.loads(x) for x in (out / "dev_log.jsonl").read_text().splitlines()]
    assert [(r["step"], r["epoch"]) for r in records] == [(2, 0), (4, 1)]  # at each epoch's end
    assert "dev after epoch 2: ndcg_cut.10" in err
    # the last dev run is the final model's exact ranking of the dev queries, and nDCG@10 is computed from it
    enc = DenseEncoder(out / "model")
    ids = list(setup.corpus)
    docs = enc.encode_passages([setup.corpus[d] for d in ids])
    q = enc.encode_queries([e.query for e in dev_examples])
    run = {}
    for line in (out / "dev_runs" / "step000004.txt").read_text().splitlines():
        qid, _, docid, rank, score, _ = line.split()
        run.setdefault(qid, []).append(docid)
    ndcgs = []
    for i, e in enumerate(dev_examples):
        expected = [ids[j] for j in np.argsort(-(docs @ q[i]), kind="stable")]
        assert run[e.query_id] == expected  # depth 100 > 40 documents: all of them
        dcg = sum(1 / math.log2(r + 2) for r, d in enumerate(expected[:10]) if d in e.positives)
        idcg = sum(1 / math.log2(r + 2) for r in range(min(10, len(e.positives))))
        ndcgs.append(dcg / idcg)
    assert records[-1]["ndcg_cut.10"] == pytest.approx(sum(ndcgs) / len(ndcgs), abs=1e-4)
    best = max(records, key=lambda r: r["ndcg_cut.10"])
    assert read_log(out)[1]["best_dev"] == best
    assert (out / "best" / "model.safetensors").is_file()
    if best["step"] == 4:
        assert_same_weights(weights(out / "best"), weights(out / "model"))


# ==== 8. a training file that names an unknown document ==========================================================

def test_a_checkpoint_only_continues_the_run_that_wrote_it(setup, cli, tmp_path):
    out = tmp_path / "run"
    train_here(train_argv(setup, out, "--batch-size", 8, "--max-steps", 1))
    done = cli("pyserini_dr.train", *train_argv(setup, out, "--batch-size", 4, "--max-steps", 1))
    assert done.returncode == 2
    assert done.error_line() == (f"error: {out / 'checkpoint'} continues a run with other settings (batch_size 8 -> 4): "
                                 "rerun with the same ones, or pick another --output")


def test_unknown_document_in_the_training_file(setup, cli, tmp_path):
    bad = tmp_path / "train.jsonl"
    examples = read_examples(setup.train)
    examples[3].negatives.append("d99")
    write_examples(examples, bad)
    argv = train_argv(setup, tmp_path / "out", "--batch-size", 4, "--max-steps", 1)
    argv[argv.index("--train-data") + 1] = str(bad)
    line = cli("pyserini_dr.train", *argv).error_line()
    assert f"query {examples[3].query_id} " in line and "'d99'" in line and str(bad) in line
    assert not (tmp_path / "out").exists()


# ==== the GPU side imports without pyserini, Java, faiss or trectools =============================================

BLOCKED_IMPORTS = """
import importlib, sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'pyserini', 'jnius', 'jnius_config', 'faiss', 'trectools'}:
            raise ImportError(f'{name} is not installed on the GPU machine')
sys.meta_path.insert(0, Blocker())
for m in ['pyserini_dr.encode.__main__', 'pyserini_dr.search.faiss.__main__', 'pyserini_dr.train.__main__',
          'pyserini_dr.train.trainer', 'pyserini_dr.train.recipes', 'pyserini_dr.train.evaluation',
          'pyserini_dr.train.soup', 'pyserini_dr.train.mix']:
    importlib.import_module(m)
print('ok')
"""


def test_gpu_side_imports_without_pyserini_faiss_or_trectools():
    done = subprocess.run([sys.executable, "-c", BLOCKED_IMPORTS], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"


def test_a_checkpoint_refuses_other_inputs_and_survives_a_torn_log_line(setup, cli, tmp_path):
    out = tmp_path / "run"
    argv = train_argv(setup, out, "--batch-size", 8, "--max-steps", 1)
    train_here(argv)
    line = cli("pyserini_dr.train", *argv, "--depth", 50).error_line()
    assert line.startswith(f"error: {out / 'checkpoint'} continues a run with other settings (inputs ")
    assert "'depth': 200" in line and "'depth': 50" in line
    with open(out / "train_log.jsonl", "a") as f:
        f.write('{"step": 1, "lo')  # a kill in the middle of an append
    train_here(argv)  # resumes (at the end) without tripping on it
    records, summary = read_log(out)
    assert [r["step"] for r in records] == [1] and summary["steps"] == 1


@pytest.mark.parametrize("flag, value", [("--log-every", 0), ("--margin-bins", 0), ("--grad-cache-chunk", -1),
                                         ("--temperature", 0), ("--max-steps", -1)])
def test_bad_numbers_are_one_line(setup, cli, tmp_path, flag, value):
    done = cli("pyserini_dr.train", *train_argv(setup, tmp_path / "out", flag, value))
    assert done.returncode == 2 and done.error_line().startswith("error: ") and flag in done.error_line()
    assert not (tmp_path / "out").exists()


def test_tiled_top_k_equals_one_pass():
    from pyserini_dr.train.dense_ranking import DenseRanker

    gen = torch.Generator().manual_seed(0)
    q, d = torch.randn(37, 16, generator=gen), torch.randn(1000, 16, generator=gen)
    scores, indices = DenseRanker.top_k(q, d, 50, chunk=8, doc_tile=64)  # 16 tiles merged
    reference = torch.topk(q @ d.T, 50, dim=1)
    assert torch.equal(indices, reference.indices)
    torch.testing.assert_close(scores, reference.values)
