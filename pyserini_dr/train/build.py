"""A trainer from typed options: the corpus and training groups, the model the recipe trains, its sampler, the dev
evaluation, and the record of inputs a checkpoint must have been made from (``python -m pyserini_dr.train`` and
scripts/bench_train.py build theirs here)."""
from __future__ import annotations

import dataclasses
import os

from ..errors import InputError
from .options import DataOptions, OptimOptions
from .recipes import RECIPES

# every recipe option (described where it names a file) is in a checkpoint's record of its inputs: a resume with
# another value is refused, whichever recipe the option belongs to
RECORDED_OPTIONS = ("no_in_batch", "depth", "refresh_every", "refresh_async", "retrieve_depth", "metric_cut",
                    "margin_bins", "pair_alpha", "kl_weight", "decoder_layers")


def every_recipe_option(options) -> dict:
    """Every recipe's options at their defaults, with ``options`` (one recipe's) over them."""
    values: dict = {}
    for recipe in RECIPES.values():
        values.update(dataclasses.asdict(recipe.options_class()))
    values.update(dataclasses.asdict(options))
    return values


def build_trainer(data: DataOptions, optim: OptimOptions, options, *, recipe_values: dict | None = None):
    """The trainer these options describe; ``options``: the recipe's own (its ``options_class``);
    ``recipe_values``: every recipe option as the command line gave it, for the checkpoint's record of inputs
    (default: ``every_recipe_option(options)``)."""
    import torch

    from ..data.corpus import read_passages
    from ..data.registry import resolve_corpus
    from ..files import refuse_foreign_directory
    from .batches import Tokenized
    from .checkpoints import CHECKPOINT_DIR, LOG_FILE, MODEL_DIR
    from .dense_ranking import DenseRanker
    from .evaluation import DevEvaluation
    from .examples import TrainExample, read_examples
    from .model import BiEncoder
    from .trainer import Trainer, TrainConfig

    recipe_class = RECIPES[data.recipe]
    rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = data.device or (f"cuda:{rank}" if torch.cuda.is_available() else "cpu")
    # found now, not after the training: a file, or a directory of something else (an index, a user's model)
    refuse_foreign_directory(data.output, ours=(CHECKPOINT_DIR, MODEL_DIR, LOG_FILE))
    corpus = read_passages(resolve_corpus(data.dataset or data.corpus))
    if data.train_data:
        examples = _known(read_examples(data.train_data), corpus, data.train_data)
    elif recipe_class.model_kind == "bottleneck":  # pre-training: every corpus document is an example
        examples = [TrainExample(d, "", [d]) for d in corpus]
    else:
        raise InputError(f"the {data.recipe} recipe needs --train-data")
    overrides = dict(query_max_length=data.query_max_length, passage_max_length=data.max_length)
    torch.manual_seed(optim.seed)  # a head the checkpoint lacks (a cross-encoder's classifier) starts from the seed
    if recipe_class.model_kind != "cross-encoder":
        model = BiEncoder.load(data.model, device=device, encoder_class=data.encoder_class,
                               untie=recipe_class.untie, freeze_passages=recipe_class.freeze_passages, **overrides)
        temperature = optim.temperature or (recipe_class.normalized_temperature if model.settings.l2_norm else 1.0)
        if recipe_class.model_kind == "bottleneck":
            from .bottleneck import BottleneckPretrainer

            if data.dev_data:
                raise InputError("--dev-data evaluates retrieval; pre-training has none (evaluate after fine-tuning)")
            model = BottleneckPretrainer(model, decoder_layers=options.decoder_layers)
    else:
        from ..rerank import CrossEncoder

        if data.dev_data:
            raise InputError("--dev-data evaluates bi-encoders; score a cross-encoder with "
                             "python -m pyserini_dr.rerank")
        if optim.negatives < 1:
            raise InputError("the cross-encoder recipe needs --negatives >= 1 (a group of one passage has no loss)")
        model = CrossEncoder(data.model, device=device, max_length=data.max_length)
        temperature = 1.0
    values = every_recipe_option(options) if recipe_values is None else recipe_values
    config = TrainConfig(output=data.output, epochs=optim.epochs, batch_size=optim.batch_size,
                         negatives=optim.negatives if recipe_class.uses_negatives else 0, lr=optim.lr,
                         warmup_ratio=optim.warmup_ratio, warmup_steps=optim.warmup_steps, weight_decay=optim.weight_decay,
                         max_grad_norm=optim.max_grad_norm, grad_accum=optim.grad_accum,
                         grad_cache_chunk=optim.grad_cache_chunk, bf16=optim.bf16, temperature=temperature,
                         seed=optim.seed, log_every=optim.log_every, save_every=optim.save_every,
                         save_minutes=optim.save_minutes, max_steps=optim.max_steps, keep_best=optim.keep_best,
                         inputs=run_inputs(data, values))
    sampler = recipe_class.make_sampler(options, examples, list(corpus), negatives=config.negatives,
                                        batch_size=optim.batch_size, seed=optim.seed)
    ranker = DenseRanker(list(corpus), list(corpus.values()), autocast_dtype=torch.bfloat16 if optim.bf16 else None)
    dev = None
    if data.dev_data:
        dev_examples = _known(read_examples(data.dev_data), corpus, data.dev_data)
        dev = DevEvaluation(ranker, {e.query_id: e.query for e in dev_examples},
                            {e.query_id: {d: 1 for d in e.positives} for e in dev_examples})
    tokens = Tokenized(model.encoder, corpus) if recipe_class.model_kind != "cross-encoder" else None
    recipe = recipe_class(options, sampler, ranker, temperature=temperature, seed=optim.seed)
    return Trainer(model, recipe, sampler, tokens, config, dev, corpus)


def run_inputs(data: DataOptions, recipe_values: dict) -> dict:
    """What a checkpoint must have been made from to be resumed: paths (absolute) with size and mtime, and every
    recipe option."""
    def describe(path):
        if not path or not os.path.exists(path):
            return path
        st = os.stat(path)
        return [os.path.abspath(path), st.st_size, int(st.st_mtime)]

    return {"model": describe(data.model) or data.model, "train_data": describe(data.train_data),
            "corpus": data.dataset or describe(data.corpus),
            "teacher_scores": describe(recipe_values.get("teacher_scores")),
            "clusters": describe(recipe_values.get("clusters")),
            **{k: recipe_values.get(k) for k in RECORDED_OPTIONS}, "encoder_class": data.encoder_class,
            "query_max_length": data.query_max_length, "max_length": data.max_length}


def _known(examples, corpus, path):
    for ex in examples:
        for d in ex.positives + ex.negatives:
            if d not in corpus:
                raise InputError(f"{path}: query {ex.query_id} names document {d!r}, which is not in the corpus")
    return examples
