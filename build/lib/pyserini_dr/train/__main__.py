"""python -m pyserini_dr.train --recipe warmup|ance|star|adore --model NAME_OR_DIR --train-data FILE --output DIR

Trains a dense retriever with one of the published recipes (see ``recipes``); rerun the same command after an
interruption to resume from the last checkpoint. ``python -m pyserini_dr.train.negatives`` builds the training file.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from ..cli import run_main
from ..errors import InputError


def parse_args(argv=None):
    from .recipes import RECIPES

    p = argparse.ArgumentParser(prog="python -m pyserini_dr.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--recipe", required=True, choices=sorted(RECIPES))
    p.add_argument("--model", required=True, help="HF model name or checkpoint directory to start from")
    p.add_argument("--encoder-class", help="model family (default: guessed, or the checkpoint's saved settings)")
    p.add_argument("--train-data", help="training groups (python -m pyserini_dr.train.negatives); simlm-pretrain "
                   "reads the corpus instead")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", help="corpus jsonl the document ids refer to")
    source.add_argument("--dataset", help="dataset name, e.g. beir-v1.0.0-scifact")
    p.add_argument("--output", required=True, help="directory: model/, checkpoint/, train_log.jsonl")
    p.add_argument("--dev-data", help="dev groups (same format) for the evaluation hook")
    g = p.add_argument_group("optimization")
    g.add_argument("--epochs", type=int, default=3)
    g.add_argument("--batch-size", type=int, default=64, help="queries per micro-batch (in-batch negatives)")
    g.add_argument("--negatives", type=int, default=1, help="hard negatives per query")
    g.add_argument("--lr", type=float, default=2e-5)
    g.add_argument("--warmup-ratio", type=float, default=0.1)
    g.add_argument("--weight-decay", type=float, default=0.0)
    g.add_argument("--max-grad-norm", type=float, default=1.0)
    g.add_argument("--grad-accum", type=int, default=1)
    g.add_argument("--grad-cache-chunk", type=int, default=0, help="encode the batch in chunks of this many queries")
    g.add_argument("--bf16", action="store_true", help="bfloat16 autocast (GPU)")
    g.add_argument("--temperature", type=float, default=None,
                   help="score = q.p / temperature (default 0.05 for an L2-normalized model, else 1)")
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--max-steps", type=int, default=0)
    g.add_argument("--log-every", type=int, default=10)
    g.add_argument("--save-every", type=int, default=0,
                   help="steps between checkpoints (default: every --save-minutes, and at the end)")
    g.add_argument("--save-minutes", type=float, default=10.0)
    g.add_argument("--keep-best", action="store_true", help="keep the best dev checkpoint under OUTPUT/best")
    g.add_argument("--query-max-length", type=int)
    g.add_argument("--max-length", type=int, help="max passage tokens")
    g.add_argument("--device", default=None)
    r = p.add_argument_group("recipe")
    r.add_argument("--no-in-batch", action="store_true", help="only each query's own hard negatives")
    r.add_argument("--depth", type=int, default=200, help="ance/star: negatives mined from this depth")
    r.add_argument("--refresh-every", type=int, default=0, help="ance: steps between refreshes (default: an epoch)")
    r.add_argument("--refresh-async", action="store_true", help="ance: refresh in the background")
    r.add_argument("--retrieve-depth", type=int, default=200, help="adore: documents retrieved per step")
    r.add_argument("--metric-cut", type=int, default=200, help="adore: MRR cut of the pair weights")
    r.add_argument("--teacher-scores", help="tasb: the teacher's run over the training pairs (pyserini_dr.rerank)")
    r.add_argument("--clusters", help="tasb: query topic clusters (python -m pyserini_dr.train.clusters)")
    r.add_argument("--margin-bins", type=int, default=10, help="tasb: teacher-margin bins of the balanced sampling")
    r.add_argument("--pair-alpha", type=float, default=0.1, help="pair: weight of the passage-centric loss")
    r.add_argument("--kl-weight", type=float, default=0.2, help="simlm: weight of the KL distillation term")
    r.add_argument("--decoder-layers", type=int, default=2, help="simlm-pretrain: the shallow decoder's layers")
    return p.parse_args(argv)


def build(args):
    """The trainer the arguments describe (also used by scripts/bench_train.py)."""
    import torch

    from ..data.corpus import read_passages
    from ..data.registry import resolve_corpus
    from .batches import Tokenized
    from .dense_ranking import DenseRanker
    from .evaluation import DevEvaluation
    from .examples import TrainExample, read_examples
    from .model import BiEncoder
    from .recipes import RECIPES, RecipeOptions
    from .trainer import Trainer, TrainConfig

    recipe_class = RECIPES[args.recipe]
    rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = args.device or (f"cuda:{rank}" if torch.cuda.is_available() else "cpu")
    corpus = read_passages(resolve_corpus(args.dataset or args.corpus))
    if args.train_data:
        examples = _known(read_examples(args.train_data), corpus, args.train_data)
    elif recipe_class.model_kind == "bottleneck":  # pre-training: every corpus document is an example
        examples = [TrainExample(d, "", [d]) for d in corpus]
    else:
        raise InputError(f"the {args.recipe} recipe needs --train-data")
    overrides = dict(query_max_length=args.query_max_length, passage_max_length=args.max_length)
    torch.manual_seed(args.seed)  # a head the checkpoint lacks (a cross-encoder's classifier) starts from the seed
    if recipe_class.model_kind != "cross-encoder":
        model = BiEncoder.load(args.model, device=device, encoder_class=args.encoder_class,
                               untie=recipe_class.untie, freeze_passages=recipe_class.freeze_passages, **overrides)
        temperature = args.temperature or (0.05 if model.settings.l2_norm else 1.0)
        if recipe_class.model_kind == "bottleneck":
            from .bottleneck import BottleneckPretrainer

            if args.dev_data:
                raise InputError("--dev-data evaluates retrieval; pre-training has none (evaluate after fine-tuning)")
            model = BottleneckPretrainer(model, decoder_layers=args.decoder_layers)
    else:
        from ..rerank import CrossEncoder

        if args.dev_data:
            raise InputError("--dev-data evaluates bi-encoders; score a cross-encoder with python -m pyserini_dr.rerank")
        if args.negatives < 1:
            raise InputError("the cross-encoder recipe needs --negatives >= 1 (a group of one passage has no loss)")
        model = CrossEncoder(args.model, device=device, max_length=args.max_length)
        temperature = 1.0
    config = TrainConfig(output=args.output, epochs=args.epochs, batch_size=args.batch_size,
                         negatives=args.negatives if recipe_class.uses_negatives else 0, lr=args.lr,
                         warmup_ratio=args.warmup_ratio, weight_decay=args.weight_decay,
                         max_grad_norm=args.max_grad_norm, grad_accum=args.grad_accum,
                         grad_cache_chunk=args.grad_cache_chunk, bf16=args.bf16, temperature=temperature,
                         seed=args.seed, log_every=args.log_every, save_every=args.save_every,
                         save_minutes=args.save_minutes,
                         max_steps=args.max_steps, keep_best=args.keep_best, inputs=_inputs(args))
    options = RecipeOptions(temperature=temperature, in_batch=not args.no_in_batch, depth=args.depth,
                            refresh_every=args.refresh_every, refresh_async=args.refresh_async,
                            retrieve_depth=args.retrieve_depth, metric_cut=args.metric_cut,
                            teacher_scores=args.teacher_scores, clusters=args.clusters, margin_bins=args.margin_bins,
                            pair_alpha=args.pair_alpha, kl_weight=args.kl_weight, seed=args.seed)
    sampler = recipe_class.make_sampler(options, examples, list(corpus), negatives=config.negatives,
                                        batch_size=args.batch_size, seed=args.seed)
    ranker = DenseRanker(list(corpus), list(corpus.values()), autocast_dtype=torch.bfloat16 if args.bf16 else None)
    dev = None
    if args.dev_data:
        dev_examples = _known(read_examples(args.dev_data), corpus, args.dev_data)
        dev = DevEvaluation(ranker, {e.query_id: e.query for e in dev_examples},
                            {e.query_id: {d: 1 for d in e.positives} for e in dev_examples})
    tokens = Tokenized(model.encoder, corpus) if recipe_class.model_kind != "cross-encoder" else None
    trainer = Trainer(model, recipe_class(options, sampler, ranker), sampler, tokens, config, dev, corpus)
    return trainer


def _inputs(args) -> dict:
    """What a checkpoint must have been made from to be resumed: paths (absolute) with size and mtime, and every
    recipe option."""
    def describe(path):
        if not path or not os.path.exists(path):
            return path
        st = os.stat(path)
        return [os.path.abspath(path), st.st_size, int(st.st_mtime)]

    recipe_flags = ("no_in_batch", "depth", "refresh_every", "refresh_async", "retrieve_depth", "metric_cut",
                    "margin_bins", "pair_alpha", "kl_weight", "decoder_layers", "encoder_class", "query_max_length",
                    "max_length")
    return {"model": describe(args.model) or args.model, "train_data": describe(args.train_data),
            "corpus": args.dataset or describe(args.corpus), "teacher_scores": describe(args.teacher_scores),
            "clusters": describe(args.clusters), **{k: getattr(args, k) for k in recipe_flags}}


def _known(examples, corpus, path):
    for ex in examples:
        for d in ex.positives + ex.negatives:
            if d not in corpus:
                raise InputError(f"{path}: query {ex.query_id} names document {d!r}, which is not in the corpus")
    return examples


def main(argv=None) -> int:
    args = parse_args(argv)
    if min(args.batch_size, args.epochs, args.grad_accum, args.log_every, args.margin_bins, args.metric_cut,
           args.decoder_layers, args.depth, args.retrieve_depth) < 1:
        raise InputError("--batch-size, --epochs, --grad-accum, --log-every, --margin-bins, --metric-cut, "
                         "--decoder-layers, --depth and --retrieve-depth must be >= 1")
    if min(args.negatives, args.grad_cache_chunk, args.max_steps, args.save_every, args.refresh_every) < 0:
        raise InputError("--negatives, --grad-cache-chunk, --max-steps, --save-every and --refresh-every must be >= 0")
    if args.temperature is not None and args.temperature <= 0:
        raise InputError("--temperature must be > 0")
    try:
        trainer = build(args)
    except ValueError as e:
        raise InputError(str(e)) from None
    try:
        summary = trainer.train()
    except BaseException:
        trainer.close(finished=False)
        raise
    trainer.close()
    if trainer.rank == 0:
        print(json.dumps(summary), file=sys.stderr)
        print(f"trained {args.recipe}: {summary['steps']} steps in {summary['train_seconds']:.1f}s -> "
              f"{os.path.join(args.output, 'model')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run_main(main)
