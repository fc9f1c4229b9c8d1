"""Weight averaging (``python -m pyserini_dr.train.soup``) and mixed training files (``train.mix``) on test_train.py's
tiny setup (split from tests/test_train.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pyserini_dr.errors import InputError
from pyserini_dr.train.examples import TrainExample, read_examples, write_examples

try:  # pytest puts tests/ on sys.path (no __init__.py): the module object test_train.py itself runs as
    from test_train import _offline, setup, weights  # noqa: F401  (fixtures)
except ImportError:  # pragma: no cover
    from tests.test_train import _offline, setup, weights  # noqa: F401


# ==== 9. weight averaging (python -m pyserini_dr.train.soup), mixed training files (train.mix) ==================

def _variant(setup, path: Path, seed: int) -> Path:
    """The tiny BERT with every floating-point tensor moved by seeded noise: a stand-in for a fine-tuned copy."""
    import shutil

    from safetensors.torch import save_file

    shutil.copytree(setup.model_nodrop, path)
    gen = torch.Generator().manual_seed(seed)
    state = {k: v + 0.1 * torch.randn(v.shape, generator=gen) if v.is_floating_point() else v
             for k, v in weights(setup.model_nodrop).items()}
    save_file(state, str(path / "model.safetensors"), metadata={"format": "pt"})
    return path


def _untied(setup, path: Path, query: Path) -> Path:
    """A checkpoint laid out as ADORE saves one: query_encoder/ from ``query``, passage_encoder/ the start."""
    import shutil

    path.mkdir()
    shutil.copytree(query, path / "query_encoder")
    shutil.copytree(setup.model_nodrop, path / "passage_encoder")
    shutil.copy(setup.model_nodrop / "encoder_settings.json", path)
    return path


def test_soup_is_the_weighted_mean_of_every_weight(setup, tmp_path, capsys):
    from pyserini_dr.encode import DenseEncoder
    from pyserini_dr.train.soup import main

    models = [_variant(setup, tmp_path / f"m{i}", i) for i in range(3)]
    from safetensors.torch import save_file  # the first model in float16: the soup keeps its dtype

    save_file({k: v.half() if v.is_floating_point() else v for k, v in weights(models[0]).items()},
              str(models[0] / "model.safetensors"), metadata={"format": "pt"})
    states = [weights(m) for m in models]
    assert main(["--models", *map(str, models), "--output", str(tmp_path / "uniform")]) == 0
    assert capsys.readouterr().err.startswith("averaged ")
    uniform = weights(tmp_path / "uniform")
    assert sorted(uniform) == sorted(states[0])
    for key, tensor in uniform.items():
        assert tensor.dtype == states[0][key].dtype
        if tensor.is_floating_point():
            assert tensor.dtype == torch.float16
            expected = np.mean([s[key].numpy().astype(np.float64) for s in states], axis=0)
            np.testing.assert_allclose(tensor.double().numpy(), expected, rtol=1e-3, atol=1e-4)  # float16's step
        else:
            assert torch.equal(tensor, states[0][key])
    assert main(["--models", str(models[0]), str(models[1]), "--weights", "0.8", "0.2",
                 "--output", str(tmp_path / "wise")]) == 0
    wise = weights(tmp_path / "wise")
    for key in wise:
        expected = 0.8 * states[0][key].double().numpy() + 0.2 * states[1][key].double().numpy()
        np.testing.assert_allclose(wise[key].double().numpy(), expected, rtol=0, atol=2e-3)  # float16's step
    # the soup is a checkpoint like any other: tokenizer and settings from the first model, its vectors its own
    for name in ("encoder_settings.json", "tokenizer.json", "config.json"):
        assert (tmp_path / "uniform" / name).read_bytes() == (models[0] / name).read_bytes()
    texts = list(setup.topics.values())[:3]
    soup_vectors = DenseEncoder(tmp_path / "uniform").encode_queries(texts)
    assert not np.allclose(soup_vectors, DenseEncoder(models[0]).encode_queries(texts), atol=1e-3)


def test_query_tower_soup_keeps_the_passage_tower(setup, tmp_path):
    from pyserini_dr.train.soup import main

    adore = _untied(setup, tmp_path / "adore", _variant(setup, tmp_path / "q", 1))
    generalist = _variant(setup, tmp_path / "g", 2)  # one tied encoder
    assert main(["--models", str(adore), str(generalist), "--weights", "0.7", "0.3", "--tower", "query",
                 "--output", str(tmp_path / "soup")]) == 0
    soup, q, g = (weights(p) for p in (tmp_path / "soup" / "query_encoder", adore / "query_encoder", generalist))
    for key in soup:
        np.testing.assert_allclose(soup[key].numpy(), 0.7 * q[key].numpy() + 0.3 * g[key].numpy(), rtol=0, atol=1e-6)
    passage = (tmp_path / "soup" / "passage_encoder" / "model.safetensors").read_bytes()
    assert passage == (adore / "passage_encoder" / "model.safetensors").read_bytes()  # the index stays valid
    # WiSE-FT toward the pre-trained start, a checkpoint without saved settings (as from the hub)
    (generalist / "encoder_settings.json").unlink()
    assert main(["--models", str(tmp_path / "g"), str(setup.model_nodrop), "--weights", "0.5", "0.5",
                 "--output", str(tmp_path / "wise")]) == 0
    assert (tmp_path / "wise" / "model.safetensors").exists()


def test_soup_refusals(setup, tmp_path, cli):
    from transformers import BertConfig, BertModel

    from pyserini_dr.train.soup import soup

    a, b = _variant(setup, tmp_path / "a", 1), _variant(setup, tmp_path / "b", 2)
    wider = tmp_path / "wider"
    BertModel(BertConfig(vocab_size=60, hidden_size=48, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64)).save_pretrained(wider)
    (wider / "encoder_settings.json").write_text((a / "encoder_settings.json").read_text())
    other_settings = _variant(setup, tmp_path / "c", 3)
    settings = json.loads((other_settings / "encoder_settings.json").read_text())
    (other_settings / "encoder_settings.json").write_text(json.dumps({**settings, "l2_norm": not settings["l2_norm"]}))
    cases = [(([a], None, "both"), "at least two --models"),
             (([a, b], [0.5, 0.6], "both"), "sum to 1"),
             (([a, b], [1.0], "both"), "1 --weights for 2 --models"),
             (([a, wider], None, "both"), "is another architecture: embeddings."),
             (([a, other_settings], None, "both"), "has other encoder settings"),
             (([a, b], [float("nan"), 0.5], "both"), "non-negative and sum to 1"),
             (([a, b], None, "query"), "--tower query needs a first model with separate towers"),
             (([_untied(setup, tmp_path / "split", a), b], None, "both"), "are laid out differently")]
    for (models, w, tower), message in cases:
        with pytest.raises(InputError, match=message):
            soup([str(m) for m in models], str(tmp_path / "out"), w, tower)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.saving").exists()  # nothing half-written
    for output in (a, a / "soup", tmp_path):  # a model, inside one, around one: replacing it would lose a model
        with pytest.raises(InputError, match="must be neither one of the --models nor inside or around one"):
            soup([str(a), str(b)], str(output))
    assert weights(a).keys() == weights(b).keys()
    done = cli("pyserini_dr.train.soup", "--models", a, b, "--weights", "0.5", "0.6", "--output", tmp_path / "out")
    assert done.returncode == 2
    assert done.error_line() == "error: --weights must be non-negative and sum to 1, got [0.5, 0.6]"
    assert not (tmp_path / "out").exists()


def test_mix_repeats_each_input_under_its_own_ids(setup, tmp_path, cli):
    from pyserini_dr.train.examples import repeat_examples
    from pyserini_dr.train.mix import main

    labelled = read_examples(setup.train)
    pseudo = [TrainExample("title-d00", "a title", ["d00"], ["d01", "d02"]),
              TrainExample("title-d03", "another", ["d03"], ["d04"])]
    write_examples(pseudo, tmp_path / "pseudo.jsonl.gz")
    assert read_examples(tmp_path / "pseudo.jsonl.gz") == pseudo  # written and read back compressed
    assert main(["--inputs", str(setup.train), str(tmp_path / "pseudo.jsonl.gz"), "--repeats", "3", "1",
                 "--output", str(tmp_path / "mix.jsonl.gz")]) == 0
    mixed = read_examples(tmp_path / "mix.jsonl.gz")
    n = len(labelled)
    assert len(mixed) == 3 * n + 2 and mixed[3 * n:] == pseudo
    for k in range(3):
        copy = mixed[k * n:(k + 1) * n]
        assert [e.query_id for e in copy] == [e.query_id + (f"~{k}" if k else "") for e in labelled]
        assert [(e.query, e.positives, e.negatives) for e in copy] == [(e.query, e.positives, e.negatives)
                                                                        for e in labelled]
    with pytest.raises(InputError, match="query id q00 is in two of the inputs"):
        repeat_examples([labelled, labelled[:1]], [1, 1])
    done = cli("pyserini_dr.train.mix", "--inputs", setup.train, "--repeats", "0", "--output", tmp_path / "bad.jsonl")
    assert done.returncode == 2 and done.error_line() == "error: argument --repeats: must be 1 or more, got 0"
    assert not (tmp_path / "bad.jsonl").exists()
