"""The training recipes: what negatives each method uses, when it re-mines them, and its loss.

- ``warmup`` (ANCE's BM25 warm-up; DPR): in-batch negatives + BM25 hard negatives from the training file.
- ``ance`` (Xiong et al., ICLR 2021): hard negatives re-mined every ``refresh_every`` steps from the current
  model's own index (re-encode the corpus, exact top-``depth``, sample); with ``refresh_async`` the refresh runs on
  a snapshot of the model in a background thread and training keeps the old negatives until it lands, as the
  paper's asynchronous ANN refresh does. In-batch negatives are on unless ``--no-in-batch``, which gives the
  paper's per-query softmax over the positive and its own hard negatives.
- ``star`` (Zhan et al., SIGIR 2021): static hard negatives from the starting (warm-up) model's index plus random
  in-batch negatives, DRhard's pairwise loss.
- ``cross-encoder``: a BERT_CAT re-ranker trained on the same groups (the teacher of the distillation recipes).
- ``tasb`` (Hofstätter et al., SIGIR 2021): topic-clustered, margin-balanced batches; Margin-MSE distillation.
- ``pair`` (Ren et al., 2021): query-centric + alpha x passage-centric loss; two runs make its two stages.
- ``simlm-pretrain`` / ``simlm`` (Wang et al., 2022): bottleneck pre-training on the corpus; fine-tuning with
  hard negatives and KL distillation from the teacher.
- ``adore`` (same paper): only the query encoder trains, against the fixed passage vectors of the starting (STAR)
  model; each step retrieves the top ``retrieve_depth`` for the current queries and applies the rank-weighted
  pairwise loss with a metric cut.
"""
from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .batches import Batch, GroupSampler, false_negative_mask, make_batch
from .dense_ranking import DenseRanker
from .losses import contrastive, margin_mse, pairwise_softmax, passage_centric, rank_weighted_pairwise
from .negatives import negatives_from_ranking


@dataclass
class RecipeOptions:
    temperature: float = 1.0
    in_batch: bool = True           # contrastive recipes: other queries' passages are negatives too
    depth: int = 200                # mining depth for ANCE/STAR (DRhard and ANCE sample from the top 200)
    refresh_every: int = 0          # ANCE: optimizer steps between refreshes (0: once per epoch)
    refresh_async: bool = False
    retrieve_depth: int = 200       # ADORE: documents retrieved per query and step
    metric_cut: int | None = 200    # ADORE: reciprocal rank counts to this depth (DRhard's passage setting)
    teacher_scores: str | None = None  # TAS-B: a cross-encoder's run over the training pairs
    clusters: str | None = None     # TAS-B: qid<TAB>cluster (python -m pyserini_dr.train.clusters)
    margin_bins: int = 10           # TAS-B: balanced sampling over this many teacher-margin bins
    pair_alpha: float = 0.1         # PAIR: weight of the passage-centric loss
    kl_weight: float = 0.2          # SimLM fine-tuning: weight of the KL distillation term
    seed: int = 42                  # SimLM pre-training: masking draws


class Recipe:
    name = ""
    bi_encoder = True               # trains a BiEncoder with in-batch representations (else its own forward)
    local_loss = False              # the loss covers only this rank's examples (no gathering)
    model_kind = "bi-encoder"       # bi-encoder | cross-encoder | bottleneck: what __main__ builds
    needs_passages = True           # batches carry tokenized passages
    uses_negatives = True           # groups carry hard negatives
    untie = False
    freeze_passages = False
    mines_negatives = False         # replaces the training file's negative pools (ANCE, STAR): checkpoints keep them

    def __init__(self, options: RecipeOptions, sampler: GroupSampler, ranker: DenseRanker):
        self.options = options
        self.sampler = sampler
        self.ranker = ranker

    @classmethod
    def make_sampler(cls, options: RecipeOptions, examples, corpus_ids, *, negatives: int, batch_size: int,
                     seed: int) -> GroupSampler:
        return GroupSampler(examples, corpus_ids, negatives=negatives, batch_size=batch_size, seed=seed)

    def start(self, trainer) -> None:
        """Before the first step of a fresh run."""

    def resume(self, trainer) -> None:
        """After a checkpoint is loaded."""

    def before_step(self, trainer, step: int) -> bool:
        """Returns True when the negatives changed (prefetched batches are dropped)."""
        return False

    def make_batch(self, trainer, groups) -> Batch:
        """This rank's groups, tokenized (on the prefetch thread)."""
        return make_batch(trainer.tokens, groups, with_passages=self.needs_passages)

    def forward(self, trainer, batch: Batch, groups) -> torch.Tensor:
        """The loss of a micro-batch: representations of this rank's share, gathered, then ``loss``."""
        q, p = trainer._encode(batch)
        return trainer._loss(q, p, batch, groups)

    def prepare(self, groups) -> dict:
        """CPU tensors the loss needs for this global batch (masks); runs on the tokenizing thread."""
        return {}

    def loss(self, trainer, q, p, groups, extras: dict) -> torch.Tensor:
        raise NotImplementedError

    def finish(self, trainer) -> None:
        pass

    def state_dict(self) -> dict:
        """Mined pools; the training file's own are read again on resume (a checkpoint only continues a run on
        the same file), so a checkpoint does not carry every query's negatives."""
        return {"pools": self.sampler.pools} if self.mines_negatives else {}

    def load_state_dict(self, state: dict) -> None:
        if self.mines_negatives:
            self.sampler.pools = state["pools"]

    def summary(self, trainer) -> dict:
        return {}

    def fixed_passages(self):
        """Passage vectors that stay valid while the model trains (a frozen passage tower's), for the dev
        evaluation to rank instead of encoding the corpus again; None where the passages move."""
        return None

    def passages_encoded(self, trainer, docs) -> None:
        """The dev evaluation has just encoded the corpus with the current weights (``docs``), before step
        ``trainer.step``: a recipe that would encode it again before that step may keep them."""

    def mine(self, model, queries: dict[str, str], docs=None) -> dict[str, list[str]]:
        """New negative pools from the model's own exact ranking of the training queries."""
        rankings = self.ranker.rankings(model, queries, self.options.depth, docs)
        return {qid: negatives_from_ranking([d for d, _ in hits], self.sampler.positives[qid],
                                            depth=self.options.depth) for qid, hits in rankings.items()}

    def train_queries(self) -> dict[str, str]:
        return {ex.query_id: ex.query for ex in self.sampler.examples}


class Warmup(Recipe):
    name = "warmup"

    def prepare(self, groups):
        return {"false_negatives": false_negative_mask(groups, self.sampler.positives, "cpu",
                                                       in_batch=self.options.in_batch)}

    def loss(self, trainer, q, p, groups, extras):
        return contrastive(q, p, temperature=self.options.temperature, false_negatives=extras["false_negatives"])


class PAIR(Warmup):
    """PAIR (Ren et al., ACL-Findings 2021): (1 - alpha) x the query-centric loss (``warmup``'s) + alpha x the
    passage-centric loss. The paper's two stages are two runs: this recipe on teacher pseudo-labelled data
    (``python -m pyserini_dr.train.pseudo_labels``), then on the labelled data (``--pair-alpha 0`` fine-tunes
    with the query-centric loss alone, as its second stage does)."""
    name = "pair"

    def loss(self, trainer, q, p, groups, extras):
        query_centric = super().loss(trainer, q, p, groups, extras)
        alpha = self.options.pair_alpha
        if not alpha:
            return query_centric
        return (1 - alpha) * query_centric + alpha * passage_centric(
            q, p, temperature=self.options.temperature,
            exclude=extras["false_negatives"])  # the passages neither loss may count as negatives


class ANCE(Warmup):
    name = "ance"
    mines_negatives = True

    def __init__(self, *args):
        super().__init__(*args)
        self.refreshes = 0
        self.refresh_seconds = 0.0
        self._pending = None  # (thread, result dict) of an asynchronous refresh
        self._encoded = None  # (step, corpus vectors) the dev evaluation made for the refresh due at that step

    def _every(self, trainer) -> int:
        return self.options.refresh_every or trainer.steps_per_epoch

    def _refresh_now(self, model, docs=None) -> None:
        started = time.perf_counter()
        self.sampler.pools = self.mine(model, self.train_queries(), docs)
        self.refresh_seconds += time.perf_counter() - started
        self.refreshes += 1

    def start(self, trainer):
        self._refresh_now(trainer.model)  # the first ANN index: the starting (warm-up) model's

    def _land(self) -> None:
        """Wait for the background refresh and use its negatives (its error, if it failed, is raised here)."""
        thread, result = self._pending
        thread.join()
        self._pending = None
        if "error" in result:
            raise result["error"]
        self.sampler.pools = result["pools"]

    def before_step(self, trainer, step):
        changed = False
        if self._pending is not None and not self._pending[0].is_alive():
            self._land()
            changed = True
        encoded, self._encoded = self._encoded, None
        if step == 0 or step % self._every(trainer):
            return changed
        if not self.options.refresh_async:
            self._refresh_now(trainer.model, encoded[1] if encoded and encoded[0] == step else None)
            return True
        if trainer.world > 1:
            raise ValueError("--refresh-async is for one process: ranks would take the new negatives at different "
                             "steps")
        if self._pending is None:
            snapshot = copy.deepcopy(trainer.model).eval()
            result: dict = {}

            def work():
                started = time.perf_counter()
                try:
                    result["pools"] = self.mine(snapshot, self.train_queries())
                except Exception as e:  # noqa: BLE001  (re-raised on the training thread by _land)
                    result["error"] = e
                self.refresh_seconds += time.perf_counter() - started
                self.refreshes += 1

            thread = threading.Thread(target=work, daemon=True)
            thread.start()
            self._pending = (thread, result)
        return changed

    def passages_encoded(self, trainer, docs):
        """At an epoch end that is also a synchronous refresh (the default: both every epoch), the refresh ranks the
        evaluation's vectors instead of encoding the corpus a second time with the same weights."""
        due = trainer.step < trainer.total_steps and trainer.step % self._every(trainer) == 0
        if due and not self.options.refresh_async:
            self._encoded = (trainer.step, docs)

    def finish(self, trainer):
        if self._pending is not None:
            self._land()

    def state_dict(self) -> dict:
        """A refresh still running lands first: a checkpoint never loses one (async runs are not step-exact)."""
        if self._pending is not None:
            self._land()
        return {**super().state_dict(), "refreshes": self.refreshes, "refresh_seconds": self.refresh_seconds}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.refreshes, self.refresh_seconds = state.get("refreshes", 0), state.get("refresh_seconds", 0.0)

    def summary(self, trainer):
        return {"refreshes": self.refreshes, "refresh_seconds": round(self.refresh_seconds, 2),
                "refresh_share": round(self.refresh_seconds / max(trainer.train_seconds, 1e-9), 4)}


class STAR(Recipe):
    name = "star"
    mines_negatives = True

    def start(self, trainer):
        self.sampler.pools = self.mine(trainer.model, self.train_queries())  # static: mined once

    def prepare(self, groups):
        """1 keeps a (query, negative) pair: the negative is not relevant to the query (DRhard's pair masks)."""
        rel = [self.sampler.positives[x.query_id] for x in groups]
        hard_docs = [d for x in groups for d in x.negatives]
        return {"in_batch": torch.tensor([[float(y.positive not in r) for y in groups] for r in rel]),
                "hard": torch.tensor([[float(d not in r) for d in hard_docs] for r in rel])}

    def loss(self, trainer, q, p, groups, extras):
        g = p.shape[0] // q.shape[0]
        rows = p.view(q.shape[0], g, -1)
        positives, negatives = rows[:, 0], rows[:, 1:].reshape(-1, p.shape[1])
        return pairwise_softmax(q, positives, negatives, temperature=self.options.temperature,
                                in_batch_mask=extras["in_batch"], hard_mask=extras["hard"])


class ADORE(Recipe):
    name = "adore"
    needs_passages = False
    uses_negatives = False
    untie = True
    freeze_passages = True

    def start(self, trainer):
        self.docs = self.ranker.encode_corpus(trainer.model)  # the fixed (STAR) passage vectors
        self.index_of = {d: i for i, d in enumerate(self.ranker.corpus_ids)}

    resume = start

    def fixed_passages(self):
        return self.docs

    def loss(self, trainer, q, p, groups, extras):
        _, retrieved = self.ranker.top_k(q.detach(), self.docs, self.options.retrieve_depth)
        retrieved = retrieved.tolist()  # one device-to-host copy for the batch, not one per query
        losses = []
        for i, group in enumerate(groups):
            positives = self.sampler.positives[group.query_id]
            ids = retrieved[i]
            relevant = [self.ranker.corpus_ids[j] in positives for j in ids]
            if not any(relevant):  # DRhard appends the positives the retrieval missed
                extra = [self.index_of[d] for d in sorted(positives) if d in self.index_of]
                ids, relevant = ids + extra, relevant + [True] * len(extra)
            scores = self.docs[ids] @ q[i].float()
            losses.append(rank_weighted_pairwise(scores, torch.tensor(relevant, device=q.device),
                                                 metric_cut=self.options.metric_cut,
                                                 temperature=self.options.temperature))
        return torch.stack(losses).mean()


class CrossEncoderTraining(Recipe):
    """A BERT_CAT re-ranker (the distillation teacher): each query's positive against its hard negatives, softmax
    cross-entropy over the group's scores (localized contrastive estimation, Gao et al., ECIR 2021)."""
    name = "cross-encoder"
    bi_encoder = False
    model_kind = "cross-encoder"
    needs_passages = False

    def make_batch(self, trainer, groups):
        model = trainer.model
        queries = [g.query for g in groups for _ in range(1 + len(g.negatives))]
        passages = [trainer.corpus[d] for g in groups for d in [g.positive, *g.negatives]]
        return Batch(groups, model.features(queries, passages), {})

    def forward(self, trainer, batch, groups):
        from .trainer import gather

        with trainer._autocast():
            scores = trainer.model(batch.queries)
        scores = gather(scores.view(len(batch.groups), -1), trainer.world, trainer.rank)
        return torch.nn.functional.cross_entropy(scores, torch.zeros(scores.shape[0], dtype=torch.long,
                                                                        device=scores.device))


class TASB(Recipe):
    """TAS-B (Hofstätter et al., SIGIR 2021): topic-clustered batches, teacher-margin-balanced pairs, Margin-MSE on
    each query's (positive, negative) pair plus Margin-MSE on in-batch negatives. The paper's in-batch teacher is a
    ColBERT model; here both terms use the cross-encoder's scores file, and an in-batch pair it has no score for is
    left out (topic-clustered batches make such scores likely: a neighbour's passages are often in a query's
    re-ranked top 100). Student scores are divided by the temperature, so an L2-normalized model reaches the
    teacher's logit range."""
    name = "tasb"

    def __init__(self, options, sampler, ranker):
        super().__init__(options, sampler, ranker)
        self.teacher = sampler.teacher

    @classmethod
    def make_sampler(cls, options, examples, corpus_ids, *, negatives, batch_size, seed):
        from .batches import TopicBalancedSampler
        from .clusters import read_clusters
        from .teacher import read_teacher_scores

        if negatives != 1:
            raise ValueError("the tasb recipe draws one (positive, negative) pair per query: leave --negatives at 1")
        if not options.teacher_scores or not options.clusters:
            raise ValueError("the tasb recipe needs --teacher-scores (python -m pyserini_dr.rerank) and --clusters "
                             "(python -m pyserini_dr.train.clusters)")
        return TopicBalancedSampler(examples, corpus_ids, clusters=read_clusters(options.clusters),
                                    teacher=read_teacher_scores(options.teacher_scores), batch_size=batch_size,
                                    seed=seed, bins=options.margin_bins)

    def prepare(self, groups):
        """Teacher margins t(q_i, p_i+) - t(q_i, d_j) for every passage d_j of the batch, and which are known."""
        docs = [d for g in groups for d in [g.positive, *g.negatives]]
        size = len(docs) // len(groups)
        margin = torch.zeros(len(groups), len(docs))
        known = torch.zeros(len(groups), len(docs), dtype=torch.bool)
        for i, g in enumerate(groups):
            t = self.teacher.get(g.query_id, {})
            if g.positive not in t:
                continue
            for j, d in enumerate(docs):
                if d in t and j != i * size and d not in self.sampler.positives[g.query_id]:
                    margin[i, j] = t[g.positive] - t[d]
                    known[i, j] = True
        own = torch.zeros_like(known)
        for i in range(len(groups)):
            own[i, i * size + 1:(i + 1) * size] = True
        return {"margin": margin, "pair": known & own, "in_batch": known & ~own}

    def loss(self, trainer, q, p, groups, extras):
        scores = (q.float() @ p.float().T) / self.options.temperature
        size = p.shape[0] // q.shape[0]
        student = scores[torch.arange(q.shape[0]), torch.arange(q.shape[0]) * size][:, None] - scores
        return margin_mse(student, extras["margin"], extras["pair"]) + \
            margin_mse(student, extras["margin"], extras["in_batch"])


class SimLMPretrain(Recipe):
    """SimLM's bottleneck pre-training on the unlabelled corpus (``bottleneck.BottleneckPretrainer``, MLM variant):
    every corpus document is one example; encoder and decoder copies masked at 30% and 50%."""
    name = "simlm-pretrain"
    bi_encoder = False
    local_loss = True  # each rank's loss is its own share: the trainer scales its gradient by 1 / ranks
    model_kind = "bottleneck"
    needs_passages = False
    uses_negatives = False
    encoder_rate, decoder_rate = 0.3, 0.5

    def make_batch(self, trainer, groups):
        import hashlib

        import numpy as np

        from .bottleneck import mask_tokens

        features = trainer.tokens.passages([g.positive for g in groups])
        ids, attention = features["input_ids"].numpy(), features["attention_mask"].numpy()
        tokenizer = trainer.model.encoder.passage_tokenizer
        special = np.isin(ids, tokenizer.all_special_ids) | (attention == 0)
        key = hashlib.sha256(f"{self.options.seed}:{','.join(g.positive for g in groups)}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(key[:8], "little"))  # the same masks for the same batch
        enc, enc_labels = mask_tokens(ids, special, self.encoder_rate, tokenizer.mask_token_id, rng)
        dec, dec_labels = mask_tokens(ids, special, self.decoder_rate, tokenizer.mask_token_id, rng)
        t = torch.from_numpy
        return Batch(groups, {"attention_mask": t(attention), "encoder_ids": t(enc), "encoder_labels": t(enc_labels),
                              "decoder_ids": t(dec), "decoder_labels": t(dec_labels)}, {})

    def forward(self, trainer, batch, groups):
        with trainer._autocast():
            return trainer.model(batch.queries)


class SimLM(Warmup):
    """SimLM's fine-tuning with distillation: the contrastive loss over in-batch + hard negatives plus ``kl_weight``
    x KL(teacher || student) over each query's own group [positive, negatives], the teacher's scores from the
    cross-encoder's file (a group it did not fully score has no KL term)."""
    name = "simlm"

    def __init__(self, options, sampler, ranker):
        super().__init__(options, sampler, ranker)
        from .teacher import read_teacher_scores

        if not options.teacher_scores:
            raise ValueError("the simlm recipe needs --teacher-scores (python -m pyserini_dr.rerank --train-data)")
        self.teacher = read_teacher_scores(options.teacher_scores)

    def prepare(self, groups):
        extras = super().prepare(groups)
        size = 1 + len(groups[0].negatives)
        scores = torch.zeros(len(groups), size)
        known = torch.zeros(len(groups), dtype=torch.bool)
        for i, g in enumerate(groups):
            t = self.teacher.get(g.query_id, {})
            docs = [g.positive, *g.negatives]
            if all(d in t for d in docs):
                scores[i] = torch.tensor([t[d] for d in docs])
                known[i] = True
        extras.update(teacher=scores, known=known)
        return extras

    def loss(self, trainer, q, p, groups, extras):
        contrastive_loss = super().loss(trainer, q, p, groups, extras)
        known = extras["known"]
        if not self.options.kl_weight or not bool(known.any()):
            return contrastive_loss
        size = p.shape[0] // q.shape[0]
        own = (q.float()[:, None, :] * p.float().view(q.shape[0], size, -1)).sum(-1) / self.options.temperature
        kl = F.kl_div(F.log_softmax(own[known], -1), F.softmax(extras["teacher"][known].float(), -1),
                      reduction="batchmean")
        return contrastive_loss + self.options.kl_weight * kl


RECIPES = {r.name: r for r in (Warmup, ANCE, STAR, ADORE, CrossEncoderTraining, TASB, PAIR, SimLMPretrain, SimLM)}
